// Clusters of ServiceEntries Envoy resolves itself, with the names to resolve
// inline (pilot's buildCluster for DNS resolutions):
// - resolution DNS → STRICT_DNS: every endpoint host name (or address) is
//   resolved and every address it returns is a host of the cluster;
// - resolution DNS_ROUND_ROBIN → LOGICAL_DNS: one name, connections go to
//   whichever address DNS returns first (exactly one endpoint allowed).
// A ServiceEntry without endpoints resolves its own host (endpoints.ts).
//
// Lookups prefer IPv4 and fall back to IPv6: Istio picks the family from the
// proxy's own addresses, which Trellis does not know. Failed lookups are
// retried every 60s (Istio's dnsRefreshRate); otherwise records live for their
// TTL.
import type { Cluster } from "../../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import type { ClusterLoadAssignment } from "../../envoy/generated/envoy/config/endpoint/v3/ClusterLoadAssignment.js";
import { DNS_REFRESH_RATE } from "./defaults.js";

export function dnsCluster(
  name: string,
  type: "STRICT_DNS" | "LOGICAL_DNS",
  assignment: ClusterLoadAssignment,
): Cluster {
  return {
    name,
    type,
    dns_lookup_family: "V4_PREFERRED",
    dns_refresh_rate: DNS_REFRESH_RATE,
    respect_dns_ttl: true,
    load_assignment: assignment,
  };
}

/** gRPC's LOGICAL_DNS cluster (gRFC A37): just the one name and port to resolve. */
export function proxylessDnsCluster(name: string, assignment: ClusterLoadAssignment): Cluster {
  return { name, type: "LOGICAL_DNS", load_assignment: assignment };
}
