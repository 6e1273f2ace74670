// Filter chains as the listener builders see them before they become Envoy
// objects: the runtime match predicates (SNI, destination CIDRs, ALPN,
// transport) and the network filters. Envoy rejects a listener whose filter
// chains have overlapping matches ("multiple filter chains with the same
// matching rules"), so merging goes through `chainsOverlap`.
import { isIP } from "node:net";
import type { CidrRange } from "../../envoy/generated/envoy/config/core/v3/CidrRange.js";
import type { Filter } from "../../envoy/generated/envoy/config/listener/v3/Filter.js";
import type { FilterChain } from "../../envoy/generated/envoy/config/listener/v3/FilterChain.js";
import type { FilterChainMatch } from "../../envoy/generated/envoy/config/listener/v3/FilterChainMatch.js";

export interface ChainOpts {
  /** Filter chain name (Envoy reports it in stats and logs). */
  name?: string;
  /** `server_names`; a `*` entry means any SNI. */
  sniHosts?: readonly string[];
  /** `prefix_ranges`: IPs or CIDRs, already validated. */
  destinationCidrs?: readonly string[];
  /** `application_protocols`, set by the HTTP inspector. */
  applicationProtocols?: readonly string[];
  transportProtocol?: string;
  filters: Filter[];
}

/** The ALPN values Envoy's HTTP inspector sets for plaintext HTTP/1.1 and HTTP/2 (prior knowledge). */
export const PLAINTEXT_HTTP_ALPNS = ["http/1.1", "h2c"] as const;
export const RAW_BUFFER = "raw_buffer";

/** An IP or CIDR as Envoy's CidrRange, the address masked to its prefix; undefined if malformed. */
export function cidrRange(value: string): CidrRange | undefined {
  const slash = value.indexOf("/");
  const ip = slash < 0 ? value : value.slice(0, slash);
  const family = isIP(ip);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  let len = max;
  if (slash >= 0) {
    const text = value.slice(slash + 1);
    if (!/^\d{1,3}$/.test(text)) return undefined;
    len = Number(text);
    if (len > max) return undefined;
  }
  return { address_prefix: family === 4 ? maskV4(ip, len) : ip.toLowerCase(), prefix_len: { value: len } };
}

function maskV4(ip: string, len: number): string {
  const n = ip.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
  const block = 2 ** (32 - len);
  const masked = Math.floor(n / block) * block;
  return [24, 16, 8, 0].map((shift) => Math.floor(masked / 2 ** shift) % 256).join(".");
}

/** Whether `value` is an IP address or a CIDR range Envoy accepts. */
export function isCidr(value: string): boolean {
  return cidrRange(value) !== undefined;
}

const cidrKey = (r: CidrRange) => `${r.address_prefix}/${r.prefix_len?.value}`;

/** No predicate at all: the chain matches every connection (Envoy: `default_filter_chain`). */
export function isMatchAll(c: ChainOpts): boolean {
  return (
    (!c.sniHosts || c.sniHosts.length === 0 || c.sniHosts.includes("*")) &&
    !c.applicationProtocols?.length &&
    !c.transportProtocol &&
    !c.destinationCidrs?.length
  );
}

/**
 * The values a chain contributes on each level of Envoy's filter-chain match
 * tree; an unset predicate is its own value (the empty string), exactly as
 * Envoy builds the tree. Two chains overlap when they share a value on every
 * level, and Envoy refuses such a listener.
 */
function matchKeys(c: ChainOpts): string[][] {
  const sni = c.sniHosts && c.sniHosts.length > 0 && !c.sniHosts.includes("*") ? [...c.sniHosts] : [""];
  const cidrs = c.destinationCidrs?.length
    ? c.destinationCidrs.map((d) => {
        const r = cidrRange(d);
        return r ? cidrKey(r) : d;
      })
    : [""];
  const alpn = c.applicationProtocols?.length ? [...c.applicationProtocols] : [""];
  return [cidrs, sni, [c.transportProtocol ?? ""], alpn];
}

export function chainsOverlap(a: ChainOpts, b: ChainOpts): boolean {
  const ka = matchKeys(a);
  const kb = matchKeys(b);
  return ka.every((values, i) => values.some((v) => kb[i]?.includes(v)));
}

export function filterChainMatch(c: ChainOpts): FilterChainMatch {
  const m: FilterChainMatch = {};
  if (c.destinationCidrs?.length) {
    m.prefix_ranges = [...c.destinationCidrs]
      .sort()
      .map(cidrRange)
      .filter((r): r is CidrRange => r !== undefined);
  }
  if (c.sniHosts?.length && !c.sniHosts.includes("*")) m.server_names = [...c.sniHosts].sort();
  if (c.transportProtocol) m.transport_protocol = c.transportProtocol;
  if (c.applicationProtocols?.length) m.application_protocols = [...c.applicationProtocols];
  return m;
}

export function toFilterChain(c: ChainOpts, withMatch: boolean): FilterChain {
  const chain: FilterChain = {};
  if (withMatch) chain.filter_chain_match = filterChainMatch(c);
  chain.filters = c.filters;
  if (c.name) chain.name = c.name;
  return chain;
}
