// An EDS cluster whose endpoints come over ADS, named after itself so the
// xDS layer can pair a cluster with its ClusterLoadAssignment. Accepted by
// Envoy and by gRPC (which requires eds_config ads or self).
import type { Cluster } from "../../envoy/generated/envoy/config/cluster/v3/Cluster.js";

export function edsCluster(name: string): Cluster {
  return {
    name,
    type: "EDS",
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: "V3" }, service_name: name },
  };
}
