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
import { clusters } from "./clusters/index.js";
import { buildContext, type ProxyTarget, type TranslationInputs } from "./context.js";
import { endpointAssignments } from "./endpoints/index.js";
import { listeners } from "./listeners/index.js";
import { routeConfigurations } from "./routes/index.js";
import { buildPeerAuthenticationIndex } from "./security/peer-authentication.js";

export type { ProxyClass, ProxyTarget, TranslationInputs } from "./context.js";
export { viewKey } from "./context.js";

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
