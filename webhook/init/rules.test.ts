// Behaviour of the rule text: which rules exist, in which chain, in which
// order. The netns suite (e2e/netns) proves what they do to real traffic.
import { describe, expect, it } from "vitest";
import { type InitConfig, parseInitArgs } from "./args.js";
import { captureRules, removalRules, staleJumps, withStaleJumpsRemoved } from "./rules.js";

function config(argv: string[] = []): InitConfig {
  const r = parseInitArgs(argv);
  if (!r.ok) throw new Error(r.errors.join("; "));
  return r.value;
}

/** Rule lines (no comments, declarations or COMMIT) appended to `chain`, without the `-A chain ` prefix. */
function chain(text: string, name: string): string[] {
  const prefix = `-A ${name} `;
  return text
    .split("\n")
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length));
}

/** Position of the first rule of TRELLIS_OUTPUT that contains `fragment`; fails if there is none. */
function at(rules: string[], fragment: string): number {
  const i = rules.findIndex((r) => r.includes(fragment));
  if (i < 0) throw new Error(`no rule with "${fragment}" in:\n${rules.join("\n")}`);
  return i;
}

describe("captureRules", () => {
  const v4 = captureRules(config(), 4);
  const out4 = chain(v4, "TRELLIS_OUTPUT");

  it("is one nat-table transaction that declares (so creates or empties) our four chains", () => {
    const lines = v4.trimEnd().split("\n");
    expect(lines[0]).toBe("*nat");
    expect(lines.at(-1)).toBe("COMMIT");
    expect(lines.filter((l) => l.startsWith(":"))).toEqual([
      ":TRELLIS_INBOUND - [0:0]",
      ":TRELLIS_IN_REDIRECT - [0:0]",
      ":TRELLIS_OUTPUT - [0:0]",
      ":TRELLIS_REDIRECT - [0:0]",
    ]);
    // --noflush input: no other table, no flushing of built-in chains.
    expect(lines.filter((l) => l.startsWith("*"))).toEqual(["*nat"]);
    expect(lines.filter((l) => /^-[FXZ]/.test(l) || l.startsWith(":PREROUTING") || l.startsWith(":OUTPUT"))).toEqual(
      [],
    );
    for (const l of lines.slice(1, -1)) expect(l).toMatch(/^(#|:TRELLIS_|-A (PREROUTING|OUTPUT|TRELLIS_))/);
  });

  it("redirects to the capture ports: inbound 15006, outbound 15001", () => {
    expect(chain(v4, "TRELLIS_IN_REDIRECT")).toEqual(["-p tcp -j REDIRECT --to-ports 15006"]);
    expect(chain(v4, "TRELLIS_REDIRECT")).toEqual(["-p tcp -j REDIRECT --to-ports 15001"]);
  });

  it("sends inbound TCP through TRELLIS_INBOUND, and by default every port but the reserved and capture ports", () => {
    expect(chain(v4, "PREROUTING")).toEqual(["-p tcp -j TRELLIS_INBOUND"]);
    expect(chain(v4, "TRELLIS_INBOUND")).toEqual([
      "-p tcp --dport 15090 -j RETURN",
      "-p tcp --dport 15021 -j RETURN",
      "-p tcp --dport 15020 -j RETURN",
      "-p tcp --dport 15006 -j RETURN",
      "-p tcp --dport 15001 -j RETURN",
      "-p tcp -j TRELLIS_IN_REDIRECT",
    ]);
  });

  it("with `*`, lets excluded inbound ports through before the catch-all redirect", () => {
    const inbound = chain(captureRules(config(["--exclude-inbound-ports", "22,9090"]), 4), "TRELLIS_INBOUND");
    expect(inbound.indexOf("-p tcp --dport 22 -j RETURN")).toBeGreaterThanOrEqual(0);
    expect(inbound.indexOf("-p tcp --dport 9090 -j RETURN")).toBeLessThan(inbound.length - 1);
    expect(inbound.at(-1)).toBe("-p tcp -j TRELLIS_IN_REDIRECT");
  });

  it("with a port list, redirects only those ports, minus excluded and reserved ones", () => {
    const rules = captureRules(
      config(["--inbound-ports", "9080,15021,8443,9090", "--exclude-inbound-ports", "9090"]),
      4,
    );
    expect(chain(rules, "TRELLIS_INBOUND")).toEqual([
      "-p tcp --dport 9080 -j TRELLIS_IN_REDIRECT",
      "-p tcp --dport 8443 -j TRELLIS_IN_REDIRECT",
    ]);
    expect(rules).toContain("# inbound: ports 15021,9090 are excluded or reserved, never captured");
  });

  it("with no inbound ports (or only reserved ones), does not hook PREROUTING at all", () => {
    for (const ports of ["", "15021,15090"]) {
      const rules = captureRules(config(["--inbound-ports", ports]), 4);
      expect(chain(rules, "PREROUTING")).toEqual([]);
      expect(chain(rules, "TRELLIS_INBOUND")).toEqual([]);
      // The chain still exists: the proxy's loopback rule jumps to it and simply comes back.
      expect(rules).toContain(":TRELLIS_INBOUND - [0:0]");
    }
  });

  it("sends outbound TCP through TRELLIS_OUTPUT and, by default, everything not exempted to TRELLIS_REDIRECT", () => {
    expect(chain(v4, "OUTPUT")).toEqual(["-p tcp -j TRELLIS_OUTPUT"]);
    expect(out4.at(-1)).toBe("-j TRELLIS_REDIRECT");
  });

  it("orders the outbound exemptions as Istio does: passthrough source, proxy over lo, others over lo, proxy, localhost", () => {
    expect(out4).toEqual([
      "-o lo -s 127.0.0.6/32 -j RETURN",
      "-o lo ! -d 127.0.0.1/32 -m owner --uid-owner 1337 -j TRELLIS_INBOUND",
      "-o lo -m owner ! --uid-owner 1337 -j RETURN",
      "-m owner --uid-owner 1337 -j RETURN",
      "-o lo ! -d 127.0.0.1/32 -m owner --gid-owner 1337 -j TRELLIS_INBOUND",
      "-o lo -m owner ! --gid-owner 1337 -j RETURN",
      "-m owner --gid-owner 1337 -j RETURN",
      "-d 127.0.0.1/32 -j RETURN",
      "-j TRELLIS_REDIRECT",
    ]);
  });

  it("never redirects the proxy's own traffic: its UID and GID RETURN before any redirect", () => {
    const redirect = at(out4, "-j TRELLIS_REDIRECT");
    expect(at(out4, "-m owner --uid-owner 1337 -j RETURN")).toBeLessThan(redirect);
    expect(at(out4, "-m owner --gid-owner 1337 -j RETURN")).toBeLessThan(redirect);
    // The one proxy rule that does capture is limited to lo and non-loopback destinations, and goes inbound.
    const proxyCapture = out4.filter((r) => r.includes("--uid-owner 1337 -j TRELLIS_"));
    expect(proxyCapture).toEqual(["-o lo ! -d 127.0.0.1/32 -m owner --uid-owner 1337 -j TRELLIS_INBOUND"]);
  });

  it("exempts Envoy's inbound passthrough (127.0.0.6) before the proxy's loopback rule could capture it", () => {
    expect(at(out4, "-s 127.0.0.6/32 -j RETURN")).toBeLessThan(at(out4, "--uid-owner 1337 -j TRELLIS_INBOUND"));
  });

  it("uses the given UID, GID and capture ports", () => {
    const rules = captureRules(
      config([
        "--proxy-uid",
        "101",
        "--proxy-gid",
        "102",
        "--inbound-capture-port",
        "16006",
        "--outbound-capture-port",
        "16001",
      ]),
      4,
    );
    expect(rules).toContain("-A TRELLIS_OUTPUT -m owner --uid-owner 101 -j RETURN");
    expect(rules).toContain("-A TRELLIS_OUTPUT -m owner --gid-owner 102 -j RETURN");
    expect(rules).not.toContain("1337");
    expect(chain(rules, "TRELLIS_REDIRECT")).toEqual(["-p tcp -j REDIRECT --to-ports 16001"]);
    expect(chain(rules, "TRELLIS_IN_REDIRECT")).toEqual(["-p tcp -j REDIRECT --to-ports 16006"]);
    expect(chain(rules, "TRELLIS_INBOUND")).toContain("-p tcp --dport 16006 -j RETURN");
    expect(chain(rules, "TRELLIS_INBOUND")).toContain("-p tcp --dport 16001 -j RETURN");
  });

  it("lets excluded outbound ports through first, before the loopback and owner rules", () => {
    const out = chain(captureRules(config(["--exclude-outbound-ports", "3306,6379"]), 4), "TRELLIS_OUTPUT");
    expect(out.slice(0, 3)).toEqual([
      "-p tcp --dport 3306 -j RETURN",
      "-p tcp --dport 6379 -j RETURN",
      "-o lo -s 127.0.0.6/32 -j RETURN",
    ]);
  });

  it("lets excluded CIDRs of the family through after the owner rules and before the redirect", () => {
    const cfg = config(["--exclude-outbound-ip-ranges", "10.96.0.0/12,fd00:10::/64,169.254.169.254"]);
    const out = chain(captureRules(cfg, 4), "TRELLIS_OUTPUT");
    expect(out.slice(-3)).toEqual([
      "-d 10.96.0.0/12 -j RETURN",
      "-d 169.254.169.254/32 -j RETURN",
      "-j TRELLIS_REDIRECT",
    ]);
    expect(out.join("\n")).not.toContain("fd00");
    const out6 = chain(captureRules(cfg, 6), "TRELLIS_OUTPUT");
    expect(out6.slice(-2)).toEqual(["-d fd00:10::/64 -j RETURN", "-j TRELLIS_REDIRECT"]);
  });

  it("with CIDRs to capture, redirects only those of the family, and nothing else", () => {
    const cfg = config(["--outbound-ip-ranges", "10.0.0.0/8,172.16.0.0/12,fd00::/8"]);
    const out = chain(captureRules(cfg, 4), "TRELLIS_OUTPUT");
    expect(out.filter((r) => r.includes("TRELLIS_REDIRECT"))).toEqual([
      "-d 10.0.0.0/8 -j TRELLIS_REDIRECT",
      "-d 172.16.0.0/12 -j TRELLIS_REDIRECT",
    ]);
    expect(chain(captureRules(cfg, 6), "TRELLIS_OUTPUT").filter((r) => r.includes("TRELLIS_REDIRECT"))).toEqual([
      "-d fd00::/8 -j TRELLIS_REDIRECT",
    ]);
  });

  it("with no outbound ranges (or none of the family), redirects nothing outbound but keeps the loopback rules", () => {
    const none = captureRules(config(["--outbound-ip-ranges", ""]), 4);
    expect(chain(none, "TRELLIS_OUTPUT").filter((r) => r.includes("TRELLIS_REDIRECT"))).toEqual([]);
    expect(chain(none, "TRELLIS_OUTPUT")).toContain(
      "-o lo ! -d 127.0.0.1/32 -m owner --uid-owner 1337 -j TRELLIS_INBOUND",
    );
    const v4Only = captureRules(config(["--outbound-ip-ranges", "10.0.0.0/8"]), 6);
    expect(chain(v4Only, "TRELLIS_OUTPUT").filter((r) => r.includes("TRELLIS_REDIRECT"))).toEqual([]);
    expect(v4Only).toContain("# outbound: no IPv6 ranges to capture");
  });

  it("writes the IPv6 variant with ::6 and ::1 in place of 127.0.0.6 and 127.0.0.1", () => {
    const v6 = captureRules(config(), 6);
    const out6 = chain(v6, "TRELLIS_OUTPUT");
    expect(v6).not.toMatch(/127\.0\.0\./);
    expect(out6[0]).toBe("-o lo -s ::6/128 -j RETURN");
    expect(out6).toContain("-o lo ! -d ::1/128 -m owner --uid-owner 1337 -j TRELLIS_INBOUND");
    expect(out6).toContain("-d ::1/128 -j RETURN");
    // Everything else is the same rule for rule.
    const generic = (t: string) =>
      t.replace(/127\.0\.0\.6\/32|::6\/128/g, "SRC").replace(/127\.0\.0\.1\/32|::1\/128/g, "LO");
    expect(generic(v6)).toBe(generic(v4));
  });
});

describe("re-running", () => {
  const saved = [
    "# Generated by iptables-save v1.8.9 (nf_tables)",
    "*nat",
    ":PREROUTING ACCEPT [0:0]",
    ":OUTPUT ACCEPT [0:0]",
    ":TRELLIS_INBOUND - [0:0]",
    ":TRELLIS_OUTPUT - [0:0]",
    "-A PREROUTING -p tcp -j TRELLIS_INBOUND",
    "-A PREROUTING -p udp -j CNI-HOSTPORT-DNAT",
    "-A OUTPUT -p tcp -j TRELLIS_OUTPUT",
    "-A TRELLIS_OUTPUT -j TRELLIS_REDIRECT",
    "COMMIT",
    "*filter",
    "-A OUTPUT -j TRELLIS_OUTPUT",
    "COMMIT",
  ].join("\n");

  it("finds the jumps an earlier run left in built-in nat chains, and nothing else", () => {
    expect(staleJumps(saved)).toEqual([
      "-A PREROUTING -p tcp -j TRELLIS_INBOUND",
      "-A OUTPUT -p tcp -j TRELLIS_OUTPUT",
    ]);
    expect(staleJumps("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n")).toEqual([]);
  });

  it("deletes them in the same transaction, after the declarations and before the new rules", () => {
    const fresh = captureRules(config(), 4);
    expect(withStaleJumpsRemoved(fresh, "")).toBe(fresh);
    const lines = withStaleJumpsRemoved(fresh, saved).split("\n");
    const del = lines.indexOf("-D PREROUTING -p tcp -j TRELLIS_INBOUND");
    expect(del).toBeGreaterThan(lines.indexOf(":TRELLIS_REDIRECT - [0:0]"));
    expect(lines.indexOf("-D OUTPUT -p tcp -j TRELLIS_OUTPUT")).toBe(del + 1);
    expect(del).toBeLessThan(lines.indexOf("-A PREROUTING -p tcp -j TRELLIS_INBOUND"));
    expect(lines.at(-2)).toBe("COMMIT");
  });

  it("can remove everything trellis-init added (used to roll back)", () => {
    expect(removalRules(saved).trimEnd().split("\n")).toEqual([
      "*nat",
      "-D PREROUTING -p tcp -j TRELLIS_INBOUND",
      "-D OUTPUT -p tcp -j TRELLIS_OUTPUT",
      "-F TRELLIS_INBOUND",
      "-F TRELLIS_OUTPUT",
      "-X TRELLIS_INBOUND",
      "-X TRELLIS_OUTPUT",
      "COMMIT",
    ]);
  });
});
