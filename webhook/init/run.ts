// What trellis-init does once its flags are parsed: pick the address families
// and the iptables-restore binary, then apply the rules from rules.ts, one
// atomic iptables-restore per family, rolling the first family back if the
// second fails. All I/O goes through InitDeps so the flow is unit-tested with
// fakes; init-main.ts supplies the real ones.
import type { NetworkInterfaceInfo } from "node:os";
import type { Backend, InitConfig, IpFamily } from "./args.js";
import { captureRules, removalRules, withStaleJumpsRemoved } from "./rules.js";

export interface ExecResult {
  /** Exit status; null when the process could not be started or was killed. */
  status: number | null;
  stdout: string;
  stderr: string;
  /** Why the process could not be started or finished (ENOENT, timeout, signal). */
  error?: string;
}

export interface InitDeps {
  exec(file: string, args: readonly string[], input?: string): ExecResult;
  /** Absolute path of an executable, or undefined when none is found. */
  which(name: string): string | undefined;
  interfaces(): NodeJS.Dict<NetworkInterfaceInfo[]>;
  out(line: string): void;
  err(line: string): void;
}

export const EXIT_OK = 0;
/** The rules could not be applied; nothing of ours is left half-applied. */
export const EXIT_APPLY_FAILED = 1;
/** Invalid flags or environment (init-main.ts). */
export const EXIT_USAGE = 2;

const NEEDS =
  "it needs CAP_NET_ADMIN and CAP_NET_RAW in the pod's network namespace (the init container's " +
  "securityContext.capabilities.add) and a kernel with the nat table, REDIRECT and the owner match " +
  "(iptable_nat or nf_tables nat, xt_REDIRECT, xt_owner)";

/**
 * True when an interface carries an IPv6 address a peer could connect to:
 * anything but loopback and link-local (fe80::/10). ULAs (fc00::/7) count;
 * the kernel gives them global scope too.
 */
export function hasGlobalIpv6(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): boolean {
  for (const addrs of Object.values(interfaces)) {
    for (const a of addrs ?? []) {
      // Node 18.0-18.3 reported family as a number.
      if ((a.family as string | number) !== "IPv6" && (a.family as string | number) !== 6) continue;
      if (a.internal || a.address === "::1") continue;
      if (/^fe[89ab]/i.test(a.address)) continue;
      return true;
    }
  }
  return false;
}

export function families(cfg: Pick<InitConfig, "ipv6">, interfaces: () => NodeJS.Dict<NetworkInterfaceInfo[]>) {
  const v6 = cfg.ipv6 === "on" || (cfg.ipv6 === "auto" && hasGlobalIpv6(interfaces()));
  return v6 ? ([4, 6] as const) : ([4] as const);
}

export interface Tools {
  restore: string;
  save: string;
}

/** Candidate binary names, in order of preference, for a backend and family. */
export function toolCandidates(backend: Backend, family: IpFamily): { restore: string; save: string }[] {
  const base = family === 4 ? "iptables" : "ip6tables";
  const variant = (v: string) => ({ restore: `${base}${v}-restore`, save: `${base}${v}-save` });
  if (backend === "nft") return [variant("-nft")];
  if (backend === "legacy") return [variant("-legacy")];
  return [variant(""), variant("-nft"), variant("-legacy")];
}

function findTools(backend: Backend, family: IpFamily, deps: InitDeps): Tools | string {
  const candidates = toolCandidates(backend, family);
  for (const c of candidates) {
    const restore = deps.which(c.restore);
    const save = deps.which(c.save);
    if (restore && save) return { restore, save };
  }
  const names = candidates.map((c) => `${c.restore}+${c.save}`).join(", ");
  return `no ${names} found on PATH (--backend ${backend}); the init image needs the iptables package`;
}

const label = (family: IpFamily) => `IPv${family}`;
const restoreName = (family: IpFamily) => (family === 4 ? "iptables-restore" : "ip6tables-restore");

function describeFailure(what: string, r: ExecResult): string {
  const how = r.error ?? `exited with status ${r.status}`;
  const stderr = r.stderr.trim();
  return `${what} ${how}${stderr ? `:\n${stderr.replace(/^/gm, "    ")}` : " (no error output)"}`;
}

/** Prints the rules (dry run) or applies them. Returns the process exit code. */
export function runInit(cfg: InitConfig, deps: InitDeps): number {
  const fams = families(cfg, deps.interfaces);
  const v6Why =
    cfg.ipv6 === "auto"
      ? `--ipv6 auto: ${fams.length === 2 ? "found" : "no"} global IPv6 address`
      : `--ipv6 ${cfg.ipv6}`;

  if (cfg.dryRun) {
    deps.out(`# trellis-init --dry-run: nothing is changed. ${v6Why}.`);
    for (const f of fams) {
      deps.out(`# ${label(f)}: ${restoreName(f)} --noflush`);
      deps.out(captureRules(cfg, f).trimEnd());
    }
    return EXIT_OK;
  }

  deps.out(`trellis-init: programming ${fams.map(label).join(" and ")} (${v6Why})`);
  const applied: { family: IpFamily; tools: Tools; before: string }[] = [];
  const failAndRollBack = (message: string): number => {
    deps.err(`trellis-init: ${message}`);
    deps.err(`trellis-init: ${NEEDS}.`);
    for (const a of applied.reverse()) rollBack(a.family, a.tools, a.before, deps);
    return EXIT_APPLY_FAILED;
  };

  for (const family of fams) {
    const tools = findTools(cfg.backend, family, deps);
    if (typeof tools === "string") return failAndRollBack(`cannot program ${label(family)}: ${tools}`);
    const version = deps.exec(tools.restore, ["--version"]);
    const saved = deps.exec(tools.save, ["-t", "nat"]);
    if (saved.status !== 0) {
      return failAndRollBack(
        describeFailure(`cannot read the ${label(family)} nat table: ${tools.save} -t nat`, saved),
      );
    }
    const input = withStaleJumpsRemoved(captureRules(cfg, family), saved.stdout);
    const result = deps.exec(tools.restore, ["--noflush"], input);
    if (result.status !== 0) {
      return failAndRollBack(
        describeFailure(`cannot program the ${label(family)} nat table: ${tools.restore} --noflush`, result),
      );
    }
    applied.push({ family, tools, before: saved.stdout });
    deps.out(`trellis-init: applied ${label(family)} rules with ${tools.restore} (${version.stdout.trim()}):`);
    deps.out(input.trimEnd());
  }
  deps.out("trellis-init: done");
  return EXIT_OK;
}

/**
 * Puts a family's nat table back as it was before this run: the saved table
 * restored whole (without --noflush, iptables-restore replaces just the tables
 * in its input), or, when there was nothing to save, our chains removed.
 */
function rollBack(family: IpFamily, tools: Tools, before: string, deps: InitDeps): void {
  let input = before;
  let args: string[] = [];
  if (!/^\*nat$/m.test(before)) {
    const now = deps.exec(tools.save, ["-t", "nat"]);
    input = removalRules(now.stdout);
    args = ["--noflush"];
  }
  const r = deps.exec(tools.restore, args, input);
  if (r.status === 0) deps.err(`trellis-init: rolled back the ${label(family)} rules applied by this run`);
  else deps.err(`trellis-init: ${describeFailure(`could not roll back ${label(family)}: ${tools.restore}`, r)}`);
}
