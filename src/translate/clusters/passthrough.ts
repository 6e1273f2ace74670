// Clusters that send traffic to the connection's original destination, and
// the one that drops it (sidecars only; gRPC has neither):
// - PassthroughCluster: ORIGINAL_DST for traffic to destinations outside the
//   registry under outboundTrafficPolicy ALLOW_ANY; the upstream speaks
//   whatever HTTP version the client spoke, idle connections close after 5
//   minutes, Istio's unlimited circuit breakers;
// - InboundPassthroughCluster: ORIGINAL_DST for inbound traffic to a workload
//   port no service declares, bound to 127.0.0.6 like the inbound clusters so
//   the forwarded connection is not captured again;
// - BlackHoleCluster: STATIC without endpoints, for REGISTRY_ONLY and
//   unmatched routes (Envoy answers 503 / closes the connection);
// - an ORIGINAL_DST cluster for a ServiceEntry with resolution NONE or a
//   DestinationRule loadBalancer PASSTHROUGH (outbound.ts).
import type { Cluster } from "../../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import { protoDuration } from "../duration.js";
import { BLACKHOLE_CLUSTER, INBOUND_PASSTHROUGH_CLUSTER, PASSTHROUGH_CLUSTER } from "../names.js";
import { applyConnectionPool } from "./connection-pool.js";
import { CONNECT_TIMEOUT, INBOUND_PASSTHROUGH_BIND, PASSTHROUGH_IDLE_TIMEOUT } from "./defaults.js";
import { type ClusterDraft, commonHttpOptions, finish, setUseDownstreamProtocol } from "./upstream-protocol.js";

export function originalDstCluster(name: string): Cluster {
  return { name, type: "ORIGINAL_DST", lb_policy: "CLUSTER_PROVIDED" };
}

export function passthroughCluster(): Cluster {
  const d: ClusterDraft = { cluster: originalDstCluster(PASSTHROUGH_CLUSTER) };
  applyConnectionPool(d, undefined);
  setUseDownstreamProtocol(d);
  commonHttpOptions(d).idle_timeout = PASSTHROUGH_IDLE_TIMEOUT;
  return finish(d);
}

export function inboundPassthroughCluster(): Cluster {
  const d: ClusterDraft = {
    cluster: {
      ...originalDstCluster(INBOUND_PASSTHROUGH_CLUSTER),
      upstream_bind_config: { source_address: { address: INBOUND_PASSTHROUGH_BIND, port_value: 0 } },
    },
  };
  applyConnectionPool(d, undefined);
  setUseDownstreamProtocol(d);
  commonHttpOptions(d).idle_timeout = PASSTHROUGH_IDLE_TIMEOUT;
  return finish(d);
}

export function blackholeCluster(): Cluster {
  return {
    name: BLACKHOLE_CLUSTER,
    type: "STATIC",
    connect_timeout: protoDuration(CONNECT_TIMEOUT),
    lb_policy: "ROUND_ROBIN",
  };
}
