// Clusters for a proxy (CDS). Owns the outbound clusters of every visible
// service port and DestinationRule subset (outbound.ts, with one file per
// DestinationRule feature), and for sidecars the BlackHoleCluster, the
// PassthroughCluster, the inbound clusters of the proxy's own ports and the
// clusters it fetches JWT keys through.
// Pure; imports model/, config/ types and envoy/ types only.
import type { Cluster } from "../../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import type { TranslationContext } from "../context.js";
import { jwksClusters } from "../filters/jwt-authn.js";
import { inboundClusters } from "./inbound.js";
import { outboundClusters } from "./outbound.js";
import { blackholeCluster, inboundPassthroughCluster, passthroughCluster } from "./passthrough.js";

export function clusters(ctx: TranslationContext): Cluster[] {
  return [...clustersOutbound(ctx), ...clustersInbound(ctx)];
}

/** The clusters of the outbound layer (translate/layers.ts): what the proxy can reach. */
export function clustersOutbound(ctx: TranslationContext): Cluster[] {
  const out = outboundClusters(ctx);
  if (ctx.proxy.class === "sidecar") out.push(blackholeCluster(), passthroughCluster(), inboundPassthroughCluster());
  return out;
}

/** The clusters of the inbound layer: the proxy's own ports, and where it fetches RequestAuthentication keys (filters/jwt-authn.ts). */
export function clustersInbound(ctx: TranslationContext): Cluster[] {
  return ctx.proxy.class === "sidecar" ? [...inboundClusters(ctx), ...jwksClusters(ctx)] : [];
}
