// Listeners for a proxy (LDS). Proxyless gRPC clients get one API listener per
// visible service port, and proxyless gRPC servers a server listener per port
// their workload serves (grpc-server.ts). Envoy sidecars, whose traffic iptables captures, get
// the outbound listeners per service port (outbound-listeners.ts), the
// virtualOutbound capture listener on 15001 and the virtualInbound capture
// listener on 15006 (plus real listeners for Sidecar ingress with
// captureMode NONE).
//
// Names this module references but does not generate: route configurations
// `sidecarRouteName(port)` / `apiListenerName(host, port)` (routes/), clusters
// `outboundClusterName`, `inboundClusterName`, PassthroughCluster and
// BlackHoleCluster (clusters/). Snapshot-level diagnostics for what it
// cannot honour are in analyze.ts. It must not import xds/ or sources/.
import type { Listener } from "../../envoy/generated/envoy/config/listener/v3/Listener.js";
import type { TranslationContext } from "../context.js";
import { apiListenerName } from "../names.js";
import { apiListener } from "./api-listener.js";
import { grpcServerListeners } from "./grpc-server.js";
import { outboundListeners } from "./outbound-listeners.js";
import { outboundTrafficMode } from "./sidecar-scope.js";
import { inboundListeners } from "./virtual-inbound.js";
import { virtualOutboundListener } from "./virtual-outbound.js";

const addressKey = (l: Listener) => `${l.address?.socket_address?.address}:${l.address?.socket_address?.port_value}`;

export function listeners(ctx: TranslationContext): Listener[] {
  if (ctx.proxy.class === "proxyless-grpc") {
    const clients = ctx.services.flatMap((svc) =>
      svc.ports.map((port) => {
        const name = apiListenerName(svc.host, port.number);
        return apiListener(name, name);
      }),
    );
    return [...clients, ...grpcServerListeners(ctx)];
  }
  const mode = outboundTrafficMode(ctx);
  const inbound = inboundListeners(ctx);
  // Envoy refuses two listeners on one address, bound or not: a Sidecar ingress
  // listener bound to an address:port keeps it.
  const taken = new Set(inbound.map(addressKey));
  const outbound = outboundListeners(ctx, mode).filter((l) => !taken.has(addressKey(l)));
  return [...outbound, virtualOutboundListener(mode), ...inbound];
}
