// runInit's decisions with fake iptables binaries: what it runs, in which
// order, what it prints, and how it fails. The real binaries are exercised by
// the netns suite (e2e/netns).
import type { NetworkInterfaceInfo } from "node:os";
import { describe, expect, it } from "vitest";
import { type InitConfig, parseInitArgs } from "./args.js";
import { captureRules } from "./rules.js";
import { type ExecResult, hasGlobalIpv6, type InitDeps, runInit, toolCandidates } from "./run.js";

function config(argv: string[] = []): InitConfig {
  const r = parseInitArgs(argv);
  if (!r.ok) throw new Error(r.errors.join("; "));
  return r.value;
}

function iface(address: string, family: "IPv4" | "IPv6", internal = false): NetworkInterfaceInfo {
  return { address, family, internal, netmask: "", mac: "", cidr: null, scopeid: 0 } as NetworkInterfaceInfo;
}

const V4_ONLY = {
  lo: [iface("127.0.0.1", "IPv4", true), iface("::1", "IPv6", true)],
  eth0: [iface("10.1.2.3", "IPv4"), iface("fe80::a8c1:abff:fe12:3456", "IPv6")],
};
const DUAL_STACK = { ...V4_ONLY, eth0: [...V4_ONLY.eth0, iface("fd00:10:244::7", "IPv6")] };

const SAVED_EMPTY =
  "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\nCOMMIT\n";

interface Call {
  file: string;
  args: readonly string[];
  input?: string;
}

/** Fake deps: every binary in `installed` exists under /usr/sbin; `answer` decides each exec's result. */
function fake(opts: {
  installed?: string[];
  interfaces?: NodeJS.Dict<NetworkInterfaceInfo[]>;
  answer?: (call: Call) => Partial<ExecResult> | undefined;
}) {
  const installed = opts.installed ?? ["iptables-restore", "iptables-save", "ip6tables-restore", "ip6tables-save"];
  const calls: Call[] = [];
  const out: string[] = [];
  const err: string[] = [];
  const deps: InitDeps = {
    exec(file, args, input) {
      const call = { file, args, ...(input === undefined ? {} : { input }) };
      calls.push(call);
      const base: ExecResult = {
        status: 0,
        stdout: args[0] === "--version" ? `${file.split("/").pop()} v1.8.9 (nf_tables)` : "",
        stderr: "",
      };
      if (file.endsWith("-save")) base.stdout = SAVED_EMPTY;
      return { ...base, ...opts.answer?.(call) };
    },
    which: (name) => (installed.includes(name) ? `/usr/sbin/${name}` : undefined),
    interfaces: () => opts.interfaces ?? V4_ONLY,
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  };
  const restores = () => calls.filter((c) => c.file.endsWith("-restore") && c.args[0] !== "--version");
  return { deps, calls, restores, out: () => out.join("\n"), err: () => err.join("\n") };
}

describe("hasGlobalIpv6", () => {
  it("counts global and unique-local addresses, not loopback or link-local", () => {
    expect(hasGlobalIpv6(V4_ONLY)).toBe(false);
    expect(hasGlobalIpv6(DUAL_STACK)).toBe(true);
    expect(hasGlobalIpv6({ eth0: [iface("2001:db8::5", "IPv6")] })).toBe(true);
    expect(hasGlobalIpv6({ eth0: [iface("FEBF::1", "IPv6")] })).toBe(false);
    expect(hasGlobalIpv6({})).toBe(false);
  });
});

describe("toolCandidates", () => {
  it("prefers the system's iptables-restore, then the nft and legacy variants; a named backend means only that one", () => {
    expect(toolCandidates("auto", 4).map((c) => c.restore)).toEqual([
      "iptables-restore",
      "iptables-nft-restore",
      "iptables-legacy-restore",
    ]);
    expect(toolCandidates("legacy", 6)).toEqual([
      { restore: "ip6tables-legacy-restore", save: "ip6tables-legacy-save" },
    ]);
    expect(toolCandidates("nft", 4)).toEqual([{ restore: "iptables-nft-restore", save: "iptables-nft-save" }]);
  });
});

describe("runInit --dry-run", () => {
  it("prints the IPv4 rules, runs nothing, and exits 0", () => {
    const f = fake({});
    expect(runInit(config(["--dry-run"]), f.deps)).toBe(0);
    expect(f.calls).toEqual([]);
    expect(f.out()).toContain(`# IPv4: iptables-restore --noflush\n${captureRules(config(), 4).trimEnd()}`);
    expect(f.out()).not.toContain("IPv6:");
    expect(f.out()).toContain("--ipv6 auto: no global IPv6 address");
  });

  it("adds the IPv6 rules when the pod has a global IPv6 address, or with --ipv6 on", () => {
    const auto = fake({ interfaces: DUAL_STACK });
    runInit(config(["--dry-run"]), auto.deps);
    expect(auto.out()).toContain(`# IPv6: ip6tables-restore --noflush\n${captureRules(config(), 6).trimEnd()}`);
    const on = fake({});
    runInit(config(["--dry-run", "--ipv6", "on"]), on.deps);
    expect(on.out()).toContain("# IPv6: ip6tables-restore --noflush");
    const off = fake({ interfaces: DUAL_STACK });
    runInit(config(["--dry-run", "--ipv6", "off"]), off.deps);
    expect(off.out()).not.toContain("IPv6:");
  });
});

describe("runInit", () => {
  it("reads the nat table, then applies the rules in one iptables-restore --noflush, and logs them", () => {
    const f = fake({});
    expect(runInit(config(), f.deps)).toBe(0);
    expect(f.calls.map((c) => [c.file, ...c.args].join(" "))).toEqual([
      "/usr/sbin/iptables-restore --version",
      "/usr/sbin/iptables-save -t nat",
      "/usr/sbin/iptables-restore --noflush",
    ]);
    expect(f.restores()[0]?.input).toBe(captureRules(config(), 4));
    expect(f.out()).toContain(
      "applied IPv4 rules with /usr/sbin/iptables-restore (iptables-restore v1.8.9 (nf_tables))",
    );
    expect(f.out()).toContain("-A TRELLIS_REDIRECT -p tcp -j REDIRECT --to-ports 15001");
    expect(f.err()).toBe("");
  });

  it("replaces the jumps an earlier run left, in the same restore", () => {
    const earlier = `*nat\n:PREROUTING ACCEPT [0:0]\n:TRELLIS_INBOUND - [0:0]\n-A PREROUTING -p tcp -j TRELLIS_INBOUND\nCOMMIT\n`;
    const f = fake({ answer: (c) => (c.file.endsWith("-save") ? { stdout: earlier } : undefined) });
    expect(runInit(config(), f.deps)).toBe(0);
    expect(f.restores()[0]?.input).toContain("-D PREROUTING -p tcp -j TRELLIS_INBOUND\n");
  });

  it("programs IPv6 with ip6tables-restore when the pod has a global IPv6 address", () => {
    const f = fake({ interfaces: DUAL_STACK });
    expect(runInit(config(), f.deps)).toBe(0);
    expect(f.restores().map((c) => c.file)).toEqual(["/usr/sbin/iptables-restore", "/usr/sbin/ip6tables-restore"]);
    expect(f.restores()[1]?.input).toBe(captureRules(config(), 6));
  });

  it("uses the backend asked for, and falls back to the nft or legacy variant when there is no iptables-restore", () => {
    const legacy = fake({
      installed: ["iptables-legacy-restore", "iptables-legacy-save", "iptables-restore", "iptables-save"],
    });
    runInit(config(["--backend", "legacy"]), legacy.deps);
    expect(legacy.restores()[0]?.file).toBe("/usr/sbin/iptables-legacy-restore");
    const onlyNft = fake({ installed: ["iptables-nft-restore", "iptables-nft-save"] });
    runInit(config(), onlyNft.deps);
    expect(onlyNft.restores()[0]?.file).toBe("/usr/sbin/iptables-nft-restore");
  });

  it("exits 1 naming the missing binaries when iptables is not installed", () => {
    const f = fake({ installed: [] });
    expect(runInit(config(), f.deps)).toBe(1);
    expect(f.err()).toContain(
      "cannot program IPv4: no iptables-restore+iptables-save, iptables-nft-restore+iptables-nft-save, " +
        "iptables-legacy-restore+iptables-legacy-save found on PATH (--backend auto)",
    );
  });

  it("exits 1 with iptables' own error and what trellis-init needs when the nat table cannot be read", () => {
    const f = fake({
      answer: (c) =>
        c.file.endsWith("-save")
          ? {
              status: 4,
              stdout: "",
              stderr: "iptables-save v1.8.9 (nf_tables): Permission denied (you must be root)\n",
            }
          : undefined,
    });
    expect(runInit(config(), f.deps)).toBe(1);
    expect(f.err()).toContain("cannot read the IPv4 nat table: /usr/sbin/iptables-save -t nat exited with status 4:");
    expect(f.err()).toContain("    iptables-save v1.8.9 (nf_tables): Permission denied (you must be root)");
    expect(f.err()).toContain("CAP_NET_ADMIN");
    expect(f.restores()).toEqual([]);
  });

  it("exits 1 with iptables-restore's error when the rules are refused", () => {
    const f = fake({
      answer: (c) =>
        c.args[0] === "--noflush"
          ? { status: 2, stderr: "iptables-restore: line 20 failed: Couldn't load match `owner'\n" }
          : undefined,
    });
    expect(runInit(config(), f.deps)).toBe(1);
    expect(f.err()).toContain(
      "cannot program the IPv4 nat table: /usr/sbin/iptables-restore --noflush exited with status 2:",
    );
    expect(f.err()).toContain("Couldn't load match `owner'");
  });

  it("rolls IPv4 back to the saved table when IPv6 fails, so no family is left half-done", () => {
    const f = fake({
      interfaces: DUAL_STACK,
      answer: (c) =>
        c.file.includes("ip6tables-restore") && c.args[0] === "--noflush"
          ? { status: 1, stderr: "ip6tables-restore: unable to initialize table 'nat'\n" }
          : undefined,
    });
    expect(runInit(config(), f.deps)).toBe(1);
    const restores = f.restores().map((c) => [c.file, ...c.args].join(" "));
    expect(restores).toEqual([
      "/usr/sbin/iptables-restore --noflush",
      "/usr/sbin/ip6tables-restore --noflush",
      // Without --noflush: the saved nat table replaces the current one whole.
      "/usr/sbin/iptables-restore",
    ]);
    expect(f.restores()[2]?.input).toBe(SAVED_EMPTY);
    expect(f.err()).toContain("unable to initialize table 'nat'");
    expect(f.err()).toContain("rolled back the IPv4 rules applied by this run");
  });

  it("rolls back by removing its chains when there was no nat table to save", () => {
    let applied = false;
    const f = fake({
      interfaces: DUAL_STACK,
      answer: (c) => {
        if (c.file.endsWith("iptables-save")) {
          return {
            stdout: applied ? "*nat\n:TRELLIS_OUTPUT - [0:0]\n-A OUTPUT -p tcp -j TRELLIS_OUTPUT\nCOMMIT\n" : "",
          };
        }
        if (c.file.endsWith("/iptables-restore") && c.args[0] === "--noflush") applied = true;
        if (c.file.endsWith("ip6tables-save")) return { status: 1, stdout: "", stderr: "table nat missing" };
        return undefined;
      },
    });
    expect(runInit(config(), f.deps)).toBe(1);
    expect(f.restores().at(-1)?.input).toBe(
      "*nat\n-D OUTPUT -p tcp -j TRELLIS_OUTPUT\n-F TRELLIS_OUTPUT\n-X TRELLIS_OUTPUT\nCOMMIT\n",
    );
  });
});
