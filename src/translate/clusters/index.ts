// Clusters for a proxy: one per visible service port (DestinationRule policies
// and subsets come with the traffic-management translators).
import type { Cluster } from "../../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import type { TranslationContext } from "../context.js";
import { outboundClusterName } from "../names.js";
import { edsCluster } from "./eds-cluster.js";

export function clusters(ctx: TranslationContext): Cluster[] {
  const out: Cluster[] = [];
  for (const svc of ctx.services) {
    for (const port of svc.ports) out.push(edsCluster(outboundClusterName(svc.host, port.number)));
  }
  return out;
}
