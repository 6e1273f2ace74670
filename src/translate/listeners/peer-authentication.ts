// PeerAuthentication on a sidecar's inbound side: which filter chains each
// workload port gets, and with what transport socket, for its mTLS mode
// (security/peer-authentication.ts resolves the mode; security/tls-context.ts
// builds the DownstreamTlsContext).
//
// Per port the workload serves (chains match `destination_port`):
// - STRICT: one chain without a transport predicate that terminates mTLS, so
//   every connection must complete an mTLS handshake: plaintext fails it
//   instead of falling through to a less specific chain.
// - PERMISSIVE: TLS offering ALPN `istio` (what Trellis clients offer) →
//   terminate mTLS; any other TLS → passed to the workload unchanged (its own
//   TLS; the HTTP connection manager could not read it anyway); plaintext
//   (`raw_buffer`) → the plaintext chain. Needs the TLS inspector.
// - DISABLE: one chain, plaintext, no inspection.
// Ports no chain serves (the catch-all passthrough to the workload) follow
// the workload-wide mode the same way; a port-level mode for such a port gets
// passthrough chains of its own (as in Istio).
//
// The TLS inspector runs only where some chain matches on what it finds: it
// is disabled for STRICT and DISABLE ports, since a listener filter that
// waits for the client to speak first would stall server-first protocols
// (MySQL, SMTP) there. On PERMISSIVE ports it does wait (Istio's caveat:
// server-first protocols need STRICT or DISABLE); after Envoy's 15 s listener
// filter timeout the connection continues as plaintext rather than closing.
import type { Filter } from "../../envoy/generated/envoy/config/listener/v3/Filter.js";
import type { FilterChain } from "../../envoy/generated/envoy/config/listener/v3/FilterChain.js";
import type { FilterChainMatch } from "../../envoy/generated/envoy/config/listener/v3/FilterChainMatch.js";
import type { ListenerFilter } from "../../envoy/generated/envoy/config/listener/v3/ListenerFilter.js";
import type { ListenerFilterChainMatchPredicate } from "../../envoy/generated/envoy/config/listener/v3/ListenerFilterChainMatchPredicate.js";
import type { TranslationContext } from "../context.js";
import { trustDomainPrefix } from "../security/identity.js";
import { type MtlsMode, portMode, type WorkloadMtls, workloadMtls } from "../security/peer-authentication.js";
import {
  downstreamTlsSocket,
  ISTIO_ALPN,
  sidecarDownstreamTlsContext,
  TLS_TRANSPORT_PROTOCOL,
} from "../security/tls-context.js";
import { RAW_BUFFER } from "./filter-chains.js";
import { tlsInspectorListenerFilter } from "./network-filters.js";

export type { MtlsMode, WorkloadMtls };

/** The mTLS modes of the proxy's own workload. */
export function inboundMtls(ctx: TranslationContext): WorkloadMtls {
  return workloadMtls(ctx.peerAuthentication, ctx.proxy.namespace, ctx.proxy.labels);
}

export interface PortChainsSpec {
  /** Chain name of the plaintext chain; the others get `-mtls` / `-tls-passthrough` appended. */
  name: string;
  mode: MtlsMode;
  /** Set: the chains match this destination port (virtualInbound); unset: a listener bound to the port. */
  port?: number;
  /** The port speaks HTTP: the server offers ALPN h2/http/1.1. */
  http: boolean;
  /** The chain's network filters; `mtls` tells whether the chain terminated mTLS (peer certificate known). */
  filters(mtls: boolean): Filter[];
  /** Filters for TLS that is not the mesh's (PERMISSIVE): passed to the workload as bytes. */
  tlsPassthrough: Filter[];
}

function match(port: number | undefined, extra: FilterChainMatch = {}): FilterChainMatch | undefined {
  const m: FilterChainMatch = port === undefined ? { ...extra } : { destination_port: { value: port }, ...extra };
  return Object.keys(m).length > 0 ? m : undefined;
}

function chain(name: string, m: FilterChainMatch | undefined, filters: Filter[], extra: Partial<FilterChain> = {}) {
  const c: FilterChain = {};
  if (m) c.filter_chain_match = m;
  c.filters = filters;
  Object.assign(c, extra);
  c.name = name;
  return c;
}

/** The filter chains of one port (or, with no port, of a bound listener) for its mode. */
export function portChains(ctx: TranslationContext, spec: PortChainsSpec): FilterChain[] {
  const mtlsSocket = () =>
    downstreamTlsSocket(sidecarDownstreamTlsContext(trustDomainPrefix(ctx.mesh.trustDomain), spec.http));
  switch (spec.mode) {
    case "STRICT":
      return [chain(`${spec.name}-mtls`, match(spec.port), spec.filters(true), { transport_socket: mtlsSocket() })];
    case "PERMISSIVE":
      return [
        chain(
          `${spec.name}-mtls`,
          match(spec.port, { transport_protocol: TLS_TRANSPORT_PROTOCOL, application_protocols: [ISTIO_ALPN] }),
          spec.filters(true),
          { transport_socket: mtlsSocket() },
        ),
        chain(
          `${spec.name}-tls-passthrough`,
          match(spec.port, { transport_protocol: TLS_TRANSPORT_PROTOCOL }),
          spec.tlsPassthrough,
        ),
        chain(spec.name, match(spec.port, { transport_protocol: RAW_BUFFER }), spec.filters(false)),
      ];
    case "DISABLE":
      return [chain(spec.name, match(spec.port), spec.filters(false))];
  }
}

/**
 * The catch-all for ports no chain serves: the default filter chain (which
 * cannot match on anything) plus, in PERMISSIVE mode, the chain that
 * terminates mTLS for TLS offering `istio`.
 */
export function catchAllChains(
  ctx: TranslationContext,
  mode: MtlsMode,
  name: string,
  passthrough: Filter[],
): { chains: FilterChain[]; defaultChain: FilterChain } {
  const mtlsSocket = () =>
    downstreamTlsSocket(sidecarDownstreamTlsContext(trustDomainPrefix(ctx.mesh.trustDomain), false));
  if (mode === "STRICT") {
    return { chains: [], defaultChain: chain(name, undefined, passthrough, { transport_socket: mtlsSocket() }) };
  }
  if (mode === "DISABLE") return { chains: [], defaultChain: chain(name, undefined, passthrough) };
  return {
    chains: [
      chain(
        `${name}-mtls`,
        { transport_protocol: TLS_TRANSPORT_PROTOCOL, application_protocols: [ISTIO_ALPN] },
        passthrough,
        { transport_socket: mtlsSocket() },
      ),
    ],
    defaultChain: chain(name, undefined, passthrough),
  };
}

function portsPredicate(ports: readonly number[]): ListenerFilterChainMatchPredicate {
  const rules = [...ports].sort((a, b) => a - b).map((p) => ({ destination_port_range: { start: p, end: p + 1 } }));
  // or_match needs at least two rules (PGV).
  return rules.length === 1 ? (rules[0] as ListenerFilterChainMatchPredicate) : { or_match: { rules } };
}

/**
 * The TLS inspector, disabled where no chain needs it; undefined when no
 * port is PERMISSIVE. `modes` are the modes of the ports that have chains of
 * their own; every other port has `catchAll`'s.
 */
export function tlsInspectorFor(modes: ReadonlyMap<number, MtlsMode>, catchAll: MtlsMode): ListenerFilter | undefined {
  const permissive = [...modes].filter(([, m]) => m === "PERMISSIVE").map(([p]) => p);
  const other = [...modes].filter(([, m]) => m !== "PERMISSIVE").map(([p]) => p);
  const filter = tlsInspectorListenerFilter();
  if (catchAll === "PERMISSIVE") {
    if (other.length > 0) filter.filter_disabled = portsPredicate(other);
    return filter;
  }
  if (permissive.length === 0) return undefined;
  filter.filter_disabled = { not_match: portsPredicate(permissive) };
  return filter;
}

export { portMode };
