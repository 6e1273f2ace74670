// The capture rules trellis-init writes into the pod's nat table, as
// iptables-restore input. Pure text in, text out: no I/O. The model is Istio's
// istio-iptables REDIRECT mode (see docs/traffic-capture.md for the rule-by-rule
// rationale and where Trellis differs); this file owns only the rule text, not
// how it is applied (run.ts).
import type { Cidr, InitConfig, IpFamily } from "./args.js";

export const CHAINS = {
  /** Jumped to from PREROUTING (TCP): decides which inbound ports go to Envoy. */
  inbound: "TRELLIS_INBOUND",
  /** REDIRECT to the inbound capture port (15006). */
  inRedirect: "TRELLIS_IN_REDIRECT",
  /** Jumped to from OUTPUT (TCP): owner, loopback and CIDR logic. */
  output: "TRELLIS_OUTPUT",
  /** REDIRECT to the outbound capture port (15001). */
  redirect: "TRELLIS_REDIRECT",
} as const;

const OUR_CHAINS: readonly string[] = Object.values(CHAINS);

/**
 * Inbound ports never captured, whatever the flags say: Envoy's Prometheus
 * stats (15090), its health listener (15021) and the status/probe port
 * (15020). The capture ports themselves are added by `inboundExclusions`.
 * Istio also always exempts 15008 (HBONE), which Trellis does not use; old
 * istio-iptables versions exempted ssh (22) when capturing `*`, current ones
 * do not, and neither does Trellis (exclude it with --exclude-inbound-ports).
 */
export const RESERVED_INBOUND_PORTS: readonly number[] = [15090, 15021, 15020];

/** Envoy's source address when it forwards inbound passthrough traffic to the app (must not be captured again). */
export const INBOUND_PASSTHROUGH_SOURCE: Record<IpFamily, string> = { 4: "127.0.0.6/32", 6: "::6/128" };
export const LOOPBACK: Record<IpFamily, string> = { 4: "127.0.0.1/32", 6: "::1/128" };

export type CaptureConfig = Pick<
  InitConfig,
  | "proxyUid"
  | "proxyGid"
  | "inboundCapturePort"
  | "outboundCapturePort"
  | "inboundPorts"
  | "excludeInboundPorts"
  | "outboundIpRanges"
  | "excludeOutboundIpRanges"
  | "excludeOutboundPorts"
>;

/** Ports the inbound chain lets through: reserved ports, both capture ports, then the user's exclusions. */
export function inboundExclusions(cfg: CaptureConfig): number[] {
  const all = [...RESERVED_INBOUND_PORTS, cfg.inboundCapturePort, cfg.outboundCapturePort, ...cfg.excludeInboundPorts];
  return [...new Set(all)];
}

/**
 * The iptables-restore input (nat table only) for one address family, meant for
 * `iptables-restore --noflush` / `ip6tables-restore --noflush`. It declares all
 * four chains, which creates them or, when they exist, empties them, so the
 * whole change lands in one COMMIT. Jumps from PREROUTING/OUTPUT left by an
 * earlier run are deleted first by `withStaleJumpsRemoved` (they cannot be
 * matched without reading the table).
 */
export function captureRules(cfg: CaptureConfig, family: IpFamily): string {
  const loopback = LOOPBACK[family];
  const lines: string[] = [];
  const say = (comment: string) => lines.push(`# ${comment}`);
  const rule = (text: string) => lines.push(`-A ${text}`);

  lines.push("*nat");
  for (const chain of OUR_CHAINS) lines.push(`:${chain} - [0:0]`);
  rule(`${CHAINS.inRedirect} -p tcp -j REDIRECT --to-ports ${cfg.inboundCapturePort}`);
  rule(`${CHAINS.redirect} -p tcp -j REDIRECT --to-ports ${cfg.outboundCapturePort}`);

  // ---- inbound ----
  const excluded = inboundExclusions(cfg);
  if (cfg.inboundPorts === "*") {
    say(`inbound: every TCP port except ${excluded.join(",")} goes to ${cfg.inboundCapturePort}`);
    rule(`PREROUTING -p tcp -j ${CHAINS.inbound}`);
    for (const p of excluded) rule(`${CHAINS.inbound} -p tcp --dport ${p} -j RETURN`);
    rule(`${CHAINS.inbound} -p tcp -j ${CHAINS.inRedirect}`);
  } else {
    const ports = cfg.inboundPorts.filter((p) => !excluded.includes(p));
    const dropped = cfg.inboundPorts.filter((p) => excluded.includes(p));
    if (dropped.length > 0) say(`inbound: ports ${dropped.join(",")} are excluded or reserved, never captured`);
    if (ports.length === 0) {
      say("inbound: no ports to capture");
    } else {
      say(`inbound: TCP ports ${ports.join(",")} go to ${cfg.inboundCapturePort}`);
      rule(`PREROUTING -p tcp -j ${CHAINS.inbound}`);
      for (const p of ports) rule(`${CHAINS.inbound} -p tcp --dport ${p} -j ${CHAINS.inRedirect}`);
    }
  }

  // ---- outbound ----
  say(`outbound: TCP from the pod, in order; the first match decides`);
  rule(`OUTPUT -p tcp -j ${CHAINS.output}`);
  for (const p of cfg.excludeOutboundPorts) rule(`${CHAINS.output} -p tcp --dport ${p} -j RETURN`);
  say(`Envoy forwarding inbound passthrough traffic to the app (source ${INBOUND_PASSTHROUGH_SOURCE[family]})`);
  rule(`${CHAINS.output} -o lo -s ${INBOUND_PASSTHROUGH_SOURCE[family]} -j RETURN`);
  for (const [match, id] of [
    ["--uid-owner", cfg.proxyUid],
    ["--gid-owner", cfg.proxyGid],
  ] as const) {
    if (match === "--gid-owner") say(`the same three rules for the proxy's group (${match} ${id})`);
    else {
      say("proxy to the pod's own non-loopback address over lo: the inbound path, as if it came from outside;");
      say("anyone else over lo (app to localhost or its own pod IP): not captured;");
      say("the proxy's own connections: not captured (the loop breaker)");
    }
    rule(`${CHAINS.output} -o lo ! -d ${loopback} -m owner ${match} ${id} -j ${CHAINS.inbound}`);
    rule(`${CHAINS.output} -o lo -m owner ! ${match} ${id} -j RETURN`);
    rule(`${CHAINS.output} -m owner ${match} ${id} -j RETURN`);
  }
  rule(`${CHAINS.output} -d ${loopback} -j RETURN`);
  const ofFamily = (cidrs: readonly Cidr[]) => cidrs.filter((c) => c.family === family).map((c) => c.text);
  for (const cidr of ofFamily(cfg.excludeOutboundIpRanges)) rule(`${CHAINS.output} -d ${cidr} -j RETURN`);
  if (cfg.outboundIpRanges === "*") {
    say(`outbound: everything else goes to ${cfg.outboundCapturePort}`);
    rule(`${CHAINS.output} -j ${CHAINS.redirect}`);
  } else {
    const included = ofFamily(cfg.outboundIpRanges);
    if (included.length === 0) say(`outbound: no IPv${family} ranges to capture`);
    else say(`outbound: ${included.join(",")} go to ${cfg.outboundCapturePort}`);
    for (const cidr of included) rule(`${CHAINS.output} -d ${cidr} -j ${CHAINS.redirect}`);
  }
  lines.push("COMMIT");
  return `${lines.join("\n")}\n`;
}

/**
 * Rules in built-in chains that jump to one of our chains, as `iptables-save`
 * prints them (`-A PREROUTING -p tcp -j TRELLIS_INBOUND`).
 */
export function staleJumps(saved: string): string[] {
  const out: string[] = [];
  let inNat = false;
  for (const line of saved.split("\n")) {
    if (line.startsWith("*")) inNat = line.trim() === "*nat";
    if (!inNat || !line.startsWith("-A ")) continue;
    const chain = line.split(" ")[1] ?? "";
    const target = / -j (\S+)/.exec(line)?.[1];
    if (!OUR_CHAINS.includes(chain) && target !== undefined && OUR_CHAINS.includes(target)) out.push(line.trim());
  }
  return out;
}

/**
 * `rules` with `-D` lines for the jumps an earlier run left (read from
 * `iptables-save -t nat`), placed right after the chain declarations, so
 * applying the result again yields the same table and no duplicate jumps.
 */
export function withStaleJumpsRemoved(rules: string, saved: string): string {
  const deletions = staleJumps(saved).map((line) => `-D ${line.slice(3)}`);
  if (deletions.length === 0) return rules;
  const lines = rules.split("\n");
  let at = 0;
  lines.forEach((l, i) => {
    if (l.startsWith(":")) at = i + 1;
  });
  lines.splice(at, 0, "# jumps left by an earlier run (re-added below)", ...deletions);
  return lines.join("\n");
}

/** iptables-restore --noflush input that removes all of trellis-init's rules and chains. */
export function removalRules(saved: string): string {
  const present = OUR_CHAINS.filter((c) => saved.includes(`:${c} `));
  const lines = ["*nat", ...staleJumps(saved).map((line) => `-D ${line.slice(3)}`)];
  for (const c of present) lines.push(`-F ${c}`);
  for (const c of present) lines.push(`-X ${c}`);
  lines.push("COMMIT");
  return `${lines.join("\n")}\n`;
}
