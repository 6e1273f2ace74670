// DestinationRule `loadBalancer.consistentHash`: the cluster side (RING_HASH or
// MAGLEV with their table sizes) and the route side (the hash policies a
// route to that cluster must carry, `hashPolicyFor`, used by routes/).
//
// Istio's precedence when several members of its oneofs are given (the schema
// accepts it; analyze.ts reports it): maglev over ringHash over the deprecated
// top-level minimumRingSize; httpHeaderName, then httpCookie, useSourceIp,
// httpQueryParameterName.
//
// Proxyless gRPC (gRFC A42) implements RING_HASH only, with rings up to
// 8,388,608 entries, and hashes on request headers (or its channel id) only:
// maglev is served as a ring hash, other hash keys produce no hash policy
// (gRPC then picks a random hash per RPC). Both are reported by analyze.ts.
import type { ConsistentHashLB } from "../../config/networking/destination-rule.js";
import type { Cluster } from "../../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import type { _envoy_config_route_v3_RouteAction_HashPolicy as RouteAction_HashPolicy } from "../../envoy/generated/envoy/config/route/v3/RouteAction.js";
import type { ServiceModel } from "../../model/services.js";
import type { ProxyClass, TranslationContext } from "../context.js";
import { protoDuration } from "../duration.js";
import { DEFAULT_MIN_RING_SIZE, GRPC_MAX_RING_SIZE } from "./defaults.js";
import { effectivePolicy, ruleFor, subsetsOf } from "./traffic-policy.js";

function clearLbConfig(c: Cluster): void {
  delete c.round_robin_lb_config;
  delete c.least_request_lb_config;
  delete c.ring_hash_lb_config;
  delete c.maglev_lb_config;
}

/** Sidecar clusters: RING_HASH or MAGLEV, replacing whatever `simple` chose. */
export function applyConsistentHash(c: Cluster, hash: ConsistentHashLB): void {
  clearLbConfig(c);
  if (hash.maglev) {
    c.lb_policy = "MAGLEV";
    if (hash.maglev.tableSize) c.maglev_lb_config = { table_size: { value: String(hash.maglev.tableSize) } };
    return;
  }
  c.lb_policy = "RING_HASH";
  if (hash.ringHash) {
    if (hash.ringHash.minimumRingSize) {
      c.ring_hash_lb_config = { minimum_ring_size: { value: String(hash.ringHash.minimumRingSize) } };
    }
    return;
  }
  c.ring_hash_lb_config = { minimum_ring_size: { value: String(hash.minimumRingSize || DEFAULT_MIN_RING_SIZE) } };
}

/** Proxyless clusters: always RING_HASH, the ring within gRPC's limit. */
export function applyProxylessConsistentHash(c: Cluster, hash: ConsistentHashLB): void {
  clearLbConfig(c);
  c.lb_policy = "RING_HASH";
  // The same precedence as for sidecars: maglev (no ring size), ringHash, the deprecated field.
  const requested = hash.maglev ? undefined : hash.ringHash ? hash.ringHash.minimumRingSize : hash.minimumRingSize;
  const size = requested || DEFAULT_MIN_RING_SIZE;
  c.ring_hash_lb_config = { minimum_ring_size: { value: String(Math.min(size, GRPC_MAX_RING_SIZE)) } };
}

/** The hash policy for one consistentHash setting, or none where the proxy class cannot hash on that key. */
export function hashPolicyOf(hash: ConsistentHashLB, proxyClass: ProxyClass): RouteAction_HashPolicy | undefined {
  if (hash.httpHeaderName) return { header: { header_name: hash.httpHeaderName } };
  if (proxyClass === "proxyless-grpc") return undefined;
  if (hash.httpCookie) {
    const c = hash.httpCookie;
    const cookie: NonNullable<RouteAction_HashPolicy["cookie"]> = { name: c.name };
    if (c.ttl) cookie.ttl = protoDuration(c.ttl);
    if (c.path) cookie.path = c.path;
    if (c.attributes?.length) cookie.attributes = c.attributes.map((a) => ({ name: a.name, value: a.value ?? "" }));
    return { cookie };
  }
  if (hash.useSourceIp) return { connection_properties: { source_ip: true } };
  if (hash.httpQueryParameterName) return { query_parameter: { name: hash.httpQueryParameterName } };
  return undefined;
}

/**
 * The route hash policies for traffic to `outbound|port|subset|host`: those of
 * the consistentHash in the DestinationRule policy that applies to that
 * cluster (top level → port level → subset, merged as for the cluster itself),
 * so a route hashes exactly when its cluster is a ring hash or maglev cluster.
 */
export function hashPolicyFor(
  ctx: TranslationContext,
  service: ServiceModel,
  port: number,
  subset?: string,
): RouteAction_HashPolicy[] {
  const rule = ruleFor(ctx, service)?.object.object;
  if (!rule) return [];
  const s = subset ? subsetsOf(rule).find((x) => x.name === subset) : undefined;
  if (subset && !s) return [];
  const hash = effectivePolicy(rule, port, s)?.loadBalancer?.consistentHash;
  const policy = hash && hashPolicyOf(hash, ctx.proxy.class);
  return policy ? [policy] : [];
}
