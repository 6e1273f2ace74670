// An EDS cluster whose endpoints come over ADS, named after itself so the
// xDS layer can pair a cluster with its ClusterLoadAssignment. Accepted by
// Envoy and by gRPC (which requires eds_config ads or self).
import type { Cluster } from "../../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import { deepFreeze } from "../security/tls-context.js";

// Shared (and frozen) by every EDS cluster.
const EDS_CONFIG = deepFreeze({ ads: {}, resource_api_version: "V3" as const });

export function edsCluster(name: string): Cluster {
  return {
    name,
    type: "EDS",
    eds_cluster_config: { eds_config: EDS_CONFIG, service_name: name },
  };
}
