// virtualOutbound: the listener on 0.0.0.0:15001 that iptables redirects every
// outbound connection of the workload to. `use_original_dst` makes Envoy hand
// the connection to the listener of its original destination (Envoy adds the
// original_dst listener filter itself when this flag is set; listing it as
// well would run it twice). What no listener claims is decided by the
// outbound traffic policy: PassthroughCluster (ALLOW_ANY) or BlackHoleCluster
// (REGISTRY_ONLY). Connections addressed to 15001 itself are dropped, or a
// passthrough would loop back into this listener.
import type { FilterChain } from "../../envoy/generated/envoy/config/listener/v3/FilterChain.js";
import type { Listener } from "../../envoy/generated/envoy/config/listener/v3/Listener.js";
import { BLACKHOLE_CLUSTER, OUTBOUND_CAPTURE_PORT, PASSTHROUGH_CLUSTER, VIRTUAL_OUTBOUND_LISTENER } from "../names.js";
import { tcpProxyFilter } from "./network-filters.js";
import type { OutboundTrafficMode } from "./sidecar-scope.js";

/** A chain sending everything to PassthroughCluster or BlackHoleCluster, per the outbound traffic policy. */
export function catchAllChain(mode: OutboundTrafficMode, name: string): FilterChain {
  const cluster = mode === "ALLOW_ANY" ? PASSTHROUGH_CLUSTER : BLACKHOLE_CLUSTER;
  return { name, filters: [tcpProxyFilter(cluster, cluster)] };
}

export function virtualOutboundListener(mode: OutboundTrafficMode): Listener {
  return {
    name: VIRTUAL_OUTBOUND_LISTENER,
    address: { socket_address: { address: "0.0.0.0", port_value: OUTBOUND_CAPTURE_PORT } },
    use_original_dst: { value: true },
    traffic_direction: "OUTBOUND",
    filter_chains: [
      {
        name: `${VIRTUAL_OUTBOUND_LISTENER}-blackhole`,
        filter_chain_match: { destination_port: { value: OUTBOUND_CAPTURE_PORT } },
        filters: [tcpProxyFilter(BLACKHOLE_CLUSTER, BLACKHOLE_CLUSTER)],
      },
    ],
    default_filter_chain: catchAllChain(mode, `${VIRTUAL_OUTBOUND_LISTENER}-catchall-tcp`),
  };
}
