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

/** Chains with more match points than this are compared pairwise (`ChainMatchSet`). */
const MAX_MATCH_POINTS = 1024;

/** Match points (one value per level of matchKeys) as a tree: CIDR → SNI → transport → ALPN. */
type PointTree = Map<string, Map<string, Map<string, Set<string>>>>;

/**
 * Chains of one listener, checked for overlap as they are added: the same
 * answers as comparing each new chain with every chain there (chainsOverlap),
 * without doing so — a port shared by many services (TLS by SNI, TCP without
 * addresses) has as many chains, and pairwise checks made a view quadratic.
 *
 * A chain's points are its combinations of one value per level; two chains
 * overlap exactly when they share a point (sharing a value on every level
 * picks a point of both), so the points of the chains added so far are kept.
 */
export class ChainMatchSet {
  private readonly points: PointTree = new Map();
  /** Chains with more than MAX_MATCH_POINTS points: compared pairwise. */
  private readonly large: ChainOpts[] = [];
  private readonly all: ChainOpts[] = [];

  /** Adds `c` unless it overlaps a chain already here; whether it was added. */
  addUnlessOverlapping(c: ChainOpts): boolean {
    const levels = matchKeys(c);
    const overlaps = isLarge(levels)
      ? this.all.some((e) => chainsOverlap(e, c))
      : this.hasPoint(levels) || this.large.some((e) => chainsOverlap(e, c));
    if (overlaps) return false;
    this.record(c, levels);
    return true;
  }

  /** Adds `c` whether or not it overlaps. */
  add(c: ChainOpts): void {
    this.record(c, matchKeys(c));
  }

  private hasPoint([cidrs, snis, transports, alpns]: string[][]): boolean {
    for (const cidr of cidrs ?? []) {
      const bySni = this.points.get(cidr);
      if (!bySni) continue;
      for (const sni of snis ?? []) {
        const byTransport = bySni.get(sni);
        if (!byTransport) continue;
        for (const transport of transports ?? []) {
          const alpnSet = byTransport.get(transport);
          if (alpnSet && (alpns ?? []).some((a) => alpnSet.has(a))) return true;
        }
      }
    }
    return false;
  }

  private record(c: ChainOpts, levels: string[][]): void {
    this.all.push(c);
    if (isLarge(levels)) {
      this.large.push(c);
      return;
    }
    const [cidrs, snis, transports, alpns] = levels;
    for (const cidr of cidrs ?? []) {
      let bySni = this.points.get(cidr);
      if (!bySni) {
        bySni = new Map();
        this.points.set(cidr, bySni);
      }
      for (const sni of snis ?? []) {
        let byTransport = bySni.get(sni);
        if (!byTransport) {
          byTransport = new Map();
          bySni.set(sni, byTransport);
        }
        for (const transport of transports ?? []) {
          let alpnSet = byTransport.get(transport);
          if (!alpnSet) {
            alpnSet = new Set();
            byTransport.set(transport, alpnSet);
          }
          for (const a of alpns ?? []) alpnSet.add(a);
        }
      }
    }
  }
}

const isLarge = (levels: string[][]) => levels.reduce((n, values) => n * values.length, 1) > MAX_MATCH_POINTS;

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
