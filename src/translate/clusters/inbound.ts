// Sidecar inbound clusters `inbound|<port>||`, one per port the proxy's own
// workload serves (translate/inbound.ts), which the 15006 listener's filter
// chains route to.
//
// Istio's current behaviour (MeshConfig inboundTrafficPolicy PASSTHROUGH, the
// default since 1.10): ORIGINAL_DST, i.e. the connection goes to the address
// the client dialled (the pod IP and port), not to 127.0.0.1, so an
// application listening on localhost only is not exposed to the mesh, just as
// without a sidecar. The upstream connection is bound to 127.0.0.6, which
// trellis-init exempts from redirection; host cleanup is disabled (there is
// only ever the one local host). The service's DestinationRule connection
// pool applies on the server side too (so the receiver has capacity for what
// clients are allowed to send); its other settings are client-side only.
import type { Cluster } from "../../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import type { TranslationContext } from "../context.js";
import { inboundPorts } from "../inbound.js";
import { inboundClusterName } from "../names.js";
import { applyConnectionPool } from "./connection-pool.js";
import { INBOUND_PASSTHROUGH_BIND } from "./defaults.js";
import { policyForPort, ruleFor } from "./traffic-policy.js";
import { type ClusterDraft, finish, setHttp2, upstreamIsHttp2 } from "./upstream-protocol.js";

/** The longest Duration Envoy converts to its internal clock without overflow (Istio's value). */
const NEVER = { seconds: "9223372035", nanos: 0 };

export function inboundClusters(ctx: TranslationContext): Cluster[] {
  return inboundPorts(ctx).map((ip) => {
    const d: ClusterDraft = {
      cluster: {
        name: inboundClusterName(ip.port),
        type: "ORIGINAL_DST",
        lb_policy: "CLUSTER_PROVIDED",
        cleanup_interval: NEVER,
        upstream_bind_config: { source_address: { address: INBOUND_PASSTHROUGH_BIND, port_value: 0 } },
      },
    };
    if (upstreamIsHttp2(ip.protocol)) setHttp2(d);
    const rule = ip.service ? ruleFor(ctx, ip.service)?.object.object : undefined;
    const policy =
      ip.servicePort !== undefined ? policyForPort(rule?.spec.trafficPolicy, ip.servicePort).policy : undefined;
    applyConnectionPool(d, policy?.connectionPool, policy?.retryBudget);
    return finish(d);
  });
}
