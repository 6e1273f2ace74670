// The sidecar's outbound listeners: not bound to a port (bind_to_port false),
// virtualOutbound hands each captured connection to the listener of its
// original destination address:port, else of 0.0.0.0:port.
//
// Istio's shape, per service port:
// - HTTP family: one `0.0.0.0_<port>` listener shared by every HTTP service on
//   the port (virtual hosts come from RDS), matched by ALPN so other traffic
//   passes through.
// - TCP and unknown: a listener on each service address (`<ip>_<port>`), or on
//   0.0.0.0 with a CIDR match for a CIDR address, or on `0.0.0.0_<port>` when
//   the service has no address — where two such services collide and the
//   first keeps the port (reported by analyze).
// - TLS/HTTPS: like TCP, with filter chains matched by SNI (tls_inspector).
// - HTTP and TCP on one 0.0.0.0 port: merged, HTTP by ALPN and TCP for the
//   rest (Istio's sniffing), except MongoDB/MySQL which cannot share a port
//   with another protocol: the later service is left out.
// Whatever matches no chain goes to the default chain: PassthroughCluster
// (ALLOW_ANY) or BlackHoleCluster (REGISTRY_ONLY).
import type { Listener } from "../../envoy/generated/envoy/config/listener/v3/Listener.js";
import type { ListenerFilter } from "../../envoy/generated/envoy/config/listener/v3/ListenerFilter.js";
import { isHttp, isTls, type Protocol } from "../../model/protocol.js";
import type { ServiceModel } from "../../model/services.js";
import { type IndexedVirtualService, virtualServicesFor } from "../../model/traffic.js";
import type { TranslationContext } from "../context.js";
import { ChainMatchSet, type ChainOpts, cidrRange, isMatchAll, toFilterChain } from "./filter-chains.js";
import { httpInspectorListenerFilter, tlsInspectorListenerFilter, ZERO_DURATION } from "./network-filters.js";
import { outboundHttpChain } from "./outbound-http.js";
import { type EgressScope, egressScopes, importsVirtualService, type OutboundTrafficMode } from "./sidecar-scope.js";
import { tcpRouteChains } from "./tcp-routes.js";
import { tlsRouteChains } from "./tls-routes.js";
import { isSidecarPort, WILDCARD_LISTENER_PORTS } from "./virtual-inbound.js";
import { catchAllChain } from "./virtual-outbound.js";

export const WILDCARD = "0.0.0.0";
const LOCALHOST = "127.0.0.1";

type ListenerClass = "HTTP" | "TCP" | "MIXED";

interface ListenerEntry {
  bind: string;
  port: number;
  bindToPort: boolean;
  cls: ListenerClass;
  /** Protocol of the service that created the entry (MongoDB/MySQL cannot share). */
  protocol: Protocol;
  chains: ChainOpts[];
  /** Created by a port-specific egress listener: the catch-all must not add to it. */
  locked: boolean;
}

export const listenerName = (bind: string, port: number) => `${bind}_${port}`;

/** Whether a listener here would collide with one Envoy already has (reported by analyze). */
const takenByEnvoy = (bind: string, port: number, bindToPort: boolean) =>
  (bind === WILDCARD && WILDCARD_LISTENER_PORTS.has(port)) || (bindToPort && isSidecarPort(port));

/** Server-first protocols that break under protocol detection: they never share a listener. */
const isServerFirst = (p: Protocol) => p === "MONGO" || p === "MYSQL";

// The matches of each listener's chains so far, by its chain list (filled only by
// appending, here and at creation).
const matchSets = new WeakMap<ChainOpts[], { set: ChainMatchSet; count: number }>();

/** Appends chains whose match overlaps none already there (Envoy rejects overlapping matches). */
function mergeChains(into: ChainOpts[], incoming: readonly ChainOpts[]): void {
  let state = matchSets.get(into);
  if (!state) {
    state = { set: new ChainMatchSet(), count: 0 };
    matchSets.set(into, state);
  }
  // Chains the list was created with.
  for (; state.count < into.length; state.count++) state.set.add(into[state.count] as ChainOpts);
  for (const c of incoming) {
    if (!state.set.addUnlessOverlapping(c)) continue;
    into.push(c);
    state.count++;
  }
}

interface Binding {
  bind: string;
  cidrs: string[];
}

/** Where a TCP/TLS service port listens: each IP address, 0.0.0.0 with a CIDR match, or 0.0.0.0. */
function tcpBindings(svc: ServiceModel, bind: string | undefined): Binding[] {
  if (bind) return [{ bind, cidrs: [] }];
  const out: Binding[] = [];
  for (const a of svc.addresses) {
    if (!cidrRange(a)) continue; // not an IP: left out (hostname addresses are not listen addresses)
    out.push(a.includes("/") ? { bind: WILDCARD, cidrs: [a] } : { bind: a, cidrs: [] });
  }
  return out.length > 0 ? out : [{ bind: WILDCARD, cidrs: [] }];
}

const hasIpAddress = (svc: ServiceModel) => svc.addresses.some((a) => !a.includes("/") && cidrRange(a));

function addServicePort(
  ctx: TranslationContext,
  entries: Map<string, ListenerEntry>,
  scope: EgressScope,
  svc: ServiceModel,
  port: number,
  protocol: Protocol,
): void {
  if (protocol === "UDP") return; // not proxied (reported by analyze)
  const bindToPort = scope.captureMode === "NONE";
  const bind = scope.bind ?? (bindToPort ? LOCALHOST : undefined);
  if (isHttp(protocol)) {
    const b = bind ?? WILDCARD;
    if (takenByEnvoy(b, port, bindToPort)) return;
    const key = listenerName(b, port);
    const existing = entries.get(key);
    if (existing?.locked) return;
    if (existing && (existing.cls !== "TCP" || conflictsWithServerFirst(existing.protocol, protocol))) return;
    const chain = outboundHttpChain(ctx, key, port, b === WILDCARD);
    if (existing) {
      mergeChains(existing.chains, [chain]);
      existing.cls = "MIXED";
    } else {
      entries.set(key, { bind: b, port, bindToPort, cls: "HTTP", protocol, chains: [chain], locked: false });
    }
    return;
  }
  // HTTP routes come over RDS; tcp and tls routes are filter chains, so the VirtualServices matter here.
  const virtualServices = orderedVirtualServices(ctx, scope, svc.host);
  for (const { bind: b, cidrs } of tcpBindings(svc, bind)) {
    if (takenByEnvoy(b, port, bindToPort)) continue;
    const key = listenerName(b, port);
    const existing = entries.get(key);
    if (existing?.locked) continue;
    if (existing && conflictsWithServerFirst(existing.protocol, protocol)) continue;
    const chains = isTls(protocol)
      ? tlsRouteChains(
          ctx,
          svc,
          port,
          cidrs,
          cidrs.length > 0 || (!hasIpAddress(svc) && b === WILDCARD),
          virtualServices,
        )
      : tcpRouteChains(ctx, svc, port, cidrs, virtualServices);
    if (existing) {
      mergeChains(existing.chains, chains);
      if (existing.cls === "HTTP") existing.cls = "MIXED";
    } else {
      const own: ChainOpts[] = [];
      mergeChains(own, chains);
      entries.set(key, { bind: b, port, bindToPort, cls: "TCP", protocol, chains: own, locked: false });
    }
  }
}

/**
 * The mesh VirtualServices for a host that this egress listener imports, in
 * the order Istio considers them (its index: private to the proxy's
 * namespace, then exported to it by name, then public; each by
 * namespace/name). Unlike HTTP, tcp and tls routes of several
 * VirtualServices all apply, in this order.
 */
function orderedVirtualServices(ctx: TranslationContext, scope: EgressScope, host: string): IndexedVirtualService[] {
  const ns = ctx.proxy.namespace;
  const rank = (vs: IndexedVirtualService) => (vs.exportTo.includes("*") ? 2 : vs.namespace === ns ? 0 : 1);
  const found = virtualServicesFor(ctx.traffic, host, ns);
  // Most hosts have no VirtualService, or one: nothing to order.
  if (found.length <= 1) return found.filter((vs) => importsVirtualService(scope, vs));
  return found
    .filter((vs) => importsVirtualService(scope, vs))
    .map((vs, i) => ({ vs, i }))
    .sort((a, b) => rank(a.vs) - rank(b.vs) || a.i - b.i)
    .map((x) => x.vs);
}

function conflictsWithServerFirst(existing: Protocol, incoming: Protocol): boolean {
  return (isServerFirst(existing) || isServerFirst(incoming)) && existing !== incoming;
}

function toListener(e: ListenerEntry, mode: OutboundTrafficMode): Listener {
  const name = listenerName(e.bind, e.port);
  const matchAll = e.chains.find(isMatchAll);
  const matched = e.chains.filter((c) => !isMatchAll(c));
  const listenerFilters: ListenerFilter[] = [];
  if (matched.some((c) => c.sniHosts?.length)) listenerFilters.push(tlsInspectorListenerFilter());
  if (matched.some((c) => c.applicationProtocols?.length)) listenerFilters.push(httpInspectorListenerFilter());
  const l: Listener = {
    name,
    address: { socket_address: { address: e.bind, port_value: e.port } },
    traffic_direction: "OUTBOUND",
  };
  if (!e.bindToPort) l.bind_to_port = { value: false };
  if (listenerFilters.length > 0) {
    l.listener_filters = listenerFilters;
    // No detection timeout: a client that never sends first is not cut off (Istio's default).
    l.listener_filters_timeout = ZERO_DURATION;
    l.continue_on_listener_filters_timeout = true;
  }
  if (matchAll && matched.length === 0) {
    l.filter_chains = [toFilterChain(matchAll, false)];
  } else {
    l.filter_chains = matched.map((c) => toFilterChain(c, true));
    l.default_filter_chain = matchAll ? toFilterChain(matchAll, false) : catchAllChain(mode, "PassthroughFilterChain");
  }
  return l;
}

export function outboundListeners(ctx: TranslationContext, mode: OutboundTrafficMode): Listener[] {
  const entries = new Map<string, ListenerEntry>();
  for (const scope of egressScopes(ctx)) {
    if (scope.port) {
      const before = new Set(entries.keys());
      for (const svc of scope.services) {
        for (const p of svc.ports)
          addServicePort(ctx, entries, scope, svc, p.number, scope.port.protocol ?? p.protocol);
      }
      for (const [key, e] of entries) if (!before.has(key)) e.locked = true;
    } else {
      for (const svc of scope.services) {
        for (const p of svc.ports) addServicePort(ctx, entries, scope, svc, p.number, p.protocol);
      }
    }
  }
  return [...entries.values()]
    .sort((a, b) => a.port - b.port || a.bind.localeCompare(b.bind))
    .map((e) => toListener(e, mode));
}
