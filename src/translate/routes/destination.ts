// Route destinations → Envoy clusters: one destination routes to its cluster,
// several to weighted clusters (weight-0 destinations left out, as in Istio);
// per-destination headers; the consistent-hash policy of each destination's
// DestinationRule. Cluster names are Istio's `outbound|port|subset|host`; a
// destination whose host, subset or port does not exist still gets that name
// (no such cluster: Envoy answers 503, gRPC fails the call UNAVAILABLE), as in
// Istio — analyzeVirtualServices reports it.
import type { Destination, HTTPRoute } from "../../config/networking/virtual-service.js";
import type { _envoy_config_route_v3_RouteAction_HashPolicy as HashPolicy } from "../../envoy/generated/envoy/config/route/v3/RouteAction.js";
import type { _envoy_config_route_v3_WeightedCluster_ClusterWeight as ClusterWeight } from "../../envoy/generated/envoy/config/route/v3/WeightedCluster.js";
import { resolveHost } from "../../model/hosts.js";
import { hashPolicyFor } from "../clusters/consistent-hash.js";
import { outboundClusterName } from "../names.js";
import { type HeaderOperations, headerOperations } from "./headers.js";
import { type RouteScope, visibleService } from "./scope.js";

/**
 * The port a destination is called on: its own `port`, else the service's only
 * port, else the port the client called (Istio's GetDestinationCluster).
 */
export function destinationCluster(scope: RouteScope, d: Destination, namespace: string) {
  const host = resolveHost(d.host, namespace, scope.ctx.mesh.clusterDomain);
  const service = visibleService(scope.ctx, host);
  const only = service?.ports.length === 1 ? service.ports[0]?.number : undefined;
  const port = d.port?.number ?? only ?? scope.port;
  return { host, service, port, subset: d.subset, name: outboundClusterName(host, port, d.subset ?? "") };
}

export interface DestinationAction {
  cluster?: string;
  weighted_clusters?: { clusters: ClusterWeight[] };
  hash_policy: HashPolicy[];
  /** Header operations of a single destination, appended to the route's. */
  headers?: HeaderOperations;
  /** Whether a single destination is consistent-hashed (then retries keep the same host, as in Istio). */
  consistentHash: boolean;
}

/** Undefined when several destinations all have weight 0 (Envoy would reject an empty weighted cluster). */
export function destinationAction(
  scope: RouteScope,
  http: HTTPRoute,
  namespace: string,
  withHeaders: boolean,
): DestinationAction | undefined {
  const dests = http.route ?? [];
  const hashOf = (d: Destination) => {
    const c = destinationCluster(scope, d, namespace);
    return c.service ? hashPolicyFor(scope.ctx, c.service, c.port, d.subset) : [];
  };
  if (dests.length === 1 && dests[0]) {
    const d = dests[0];
    const hash_policy = hashOf(d.destination);
    const out: DestinationAction = {
      cluster: destinationCluster(scope, d.destination, namespace).name,
      hash_policy,
      consistentHash: hash_policy.length > 0,
    };
    if (withHeaders && d.headers) out.headers = headerOperations(d.headers);
    return out;
  }
  const clusters: ClusterWeight[] = [];
  const hash_policy: HashPolicy[] = [];
  for (const d of dests) {
    if (!d.weight) continue;
    const cw: ClusterWeight = {
      name: destinationCluster(scope, d.destination, namespace).name,
      weight: { value: d.weight },
    };
    if (withHeaders && d.headers) {
      const { authority, ...ops } = headerOperations(d.headers);
      Object.assign(cw, ops);
      if (authority !== undefined) cw.host_rewrite_literal = authority;
    }
    clusters.push(cw);
    hash_policy.push(...hashOf(d.destination));
  }
  if (clusters.length === 0) return undefined;
  return { weighted_clusters: { clusters }, hash_policy, consistentHash: false };
}
