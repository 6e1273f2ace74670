// translate/ is pure: (snapshot inputs, proxy) → Envoy resources, plus
// snapshot-level diagnostics. No I/O, no clocks, no globals. It imports
// model/, config/ (types) and envoy/ (types), never xds/.
//
// Each resource type has one entry point (clusters/, endpoints/, listeners/,
// routes/), one file per feature below it.
import type { MeshConfig } from "../config/mesh-config.js";
import type { Cluster } from "../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import type { ClusterLoadAssignment } from "../envoy/generated/envoy/config/endpoint/v3/ClusterLoadAssignment.js";
import type { Listener } from "../envoy/generated/envoy/config/listener/v3/Listener.js";
import type { RouteConfiguration } from "../envoy/generated/envoy/config/route/v3/RouteConfiguration.js";
import type { Diagnostic } from "../model/diagnostic.js";
import { buildRegistry } from "../model/services.js";
import type { MeshSnapshot } from "../model/snapshot.js";
import { buildTrafficIndex } from "../model/traffic.js";
import { analyzeSnapshot } from "./analyze.js";
import { clusters, clustersInbound, clustersOutbound } from "./clusters/index.js";
import { buildContext, type ProxyTarget, type TranslationInputs } from "./context.js";
import { endpointAssignments } from "./endpoints/index.js";
import { listeners, listenersInbound, listenersOutbound } from "./listeners/index.js";
import { routeConfigurations } from "./routes/index.js";
import { buildPeerAuthenticationIndex } from "./security/peer-authentication.js";

export type { ProxyClass, ProxyTarget, TranslationInputs } from "./context.js";
export { viewKey } from "./context.js";
export { type LayerTargets, labelKeys, layerTargets } from "./layers.js";
export { addressKey, combineListeners } from "./listeners/index.js";

export interface Translation {
  listeners: Listener[];
  routes: RouteConfiguration[];
  clusters: Cluster[];
  endpoints: ClusterLoadAssignment[];
}

/** Everything every proxy shares for one snapshot, and the snapshot's diagnostics. */
export function prepare(
  snapshot: MeshSnapshot,
  mesh: MeshConfig,
): { inputs: TranslationInputs; diagnostics: Diagnostic[] } {
  const registry = buildRegistry(snapshot, mesh.clusterDomain);
  const inputs: TranslationInputs = {
    snapshot,
    mesh,
    registry,
    traffic: buildTrafficIndex(snapshot, mesh),
    peerAuthentication: buildPeerAuthenticationIndex(snapshot, mesh),
  };
  return { inputs, diagnostics: analyzeSnapshot(inputs) };
}

/** The resources one proxy sees. Pure; callers cache by `viewKey(proxy)`. */
export function translateProxy(inputs: TranslationInputs, proxy: ProxyTarget): Translation {
  const ctx = buildContext(inputs, proxy);
  return {
    clusters: clusters(ctx),
    endpoints: endpointAssignments(ctx),
    listeners: listeners(ctx),
    routes: routeConfigurations(ctx),
  };
}

// ---- layers (translate/layers.ts) ------------------------------------------
// translateProxy split by what each part depends on, so callers can share each
// part between every proxy with the same layer key. Assembled, the three
// layers equal translateProxy (layers.test.ts holds them to it).

/** What the proxy can reach: clusters, outbound listeners, route configurations. */
export interface OutboundLayer {
  clusters: Cluster[];
  listeners: Listener[];
  routes: RouteConfiguration[];
}

/** Traffic to the proxy's own workload: inbound listeners and clusters. */
export interface InboundLayer {
  clusters: Cluster[];
  listeners: Listener[];
}

/** The outbound layer of `target` (LayerTargets.outbound). */
export function translateOutbound(inputs: TranslationInputs, target: ProxyTarget): OutboundLayer {
  const ctx = buildContext(inputs, target);
  return { clusters: clustersOutbound(ctx), listeners: listenersOutbound(ctx), routes: routeConfigurations(ctx) };
}

/** The inbound layer of `target` (LayerTargets.inbound). */
export function translateInbound(inputs: TranslationInputs, target: ProxyTarget): InboundLayer {
  const ctx = buildContext(inputs, target);
  return { clusters: clustersInbound(ctx), listeners: listenersInbound(ctx) };
}

/**
 * The ClusterLoadAssignments of `target` (LayerTargets.endpoints); with `hosts`,
 * only those of the services with these hosts (an endpoint-only change).
 */
export function translateEndpoints(
  inputs: TranslationInputs,
  target: ProxyTarget,
  hosts?: ReadonlySet<string>,
): ClusterLoadAssignment[] {
  const ctx = buildContext(inputs, target);
  // A service's assignments depend on that service alone (its endpoints and rules).
  return endpointAssignments(hosts ? { ...ctx, services: ctx.services.filter((s) => hosts.has(s.host)) } : ctx);
}
