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
import type { ProxyClass, TranslationContext } from "../context.js";
import { apiListenerName, VIRTUAL_OUTBOUND_LISTENER } from "../names.js";
import { apiListener } from "./api-listener.js";
import { grpcServerListeners } from "./grpc-server.js";
import { outboundListeners } from "./outbound-listeners.js";
import { outboundTrafficMode } from "./sidecar-scope.js";
import { inboundListeners } from "./virtual-inbound.js";
import { virtualOutboundListener } from "./virtual-outbound.js";

export function listeners(ctx: TranslationContext): Listener[] {
  return combineListeners(ctx.proxy.class, listenersOutbound(ctx), listenersInbound(ctx));
}

/** Where a listener binds, `address:port`: two listeners may not share one. */
export const addressKey = (l: Listener) =>
  `${l.address?.socket_address?.address}:${l.address?.socket_address?.port_value}`;

/** The listeners of the outbound layer (translate/layers.ts). */
export function listenersOutbound(ctx: TranslationContext): Listener[] {
  if (ctx.proxy.class === "proxyless-grpc") {
    return ctx.services.flatMap((svc) =>
      svc.ports.map((port) => {
        const name = apiListenerName(svc.host, port.number);
        return apiListener(name, name);
      }),
    );
  }
  const mode = outboundTrafficMode(ctx);
  return [...outboundListeners(ctx, mode), virtualOutboundListener(mode)];
}

/** The listeners of the inbound layer: traffic to the proxy's own workload. */
export function listenersInbound(ctx: TranslationContext): Listener[] {
  return ctx.proxy.class === "proxyless-grpc" ? grpcServerListeners(ctx) : inboundListeners(ctx);
}

/**
 * Both layers' listeners. Envoy refuses two listeners on one address, bound or
 * not: a Sidecar ingress listener bound to an address:port keeps it. (Proxyless
 * listeners have no address.)
 */
export function combineListeners(proxyClass: ProxyClass, outbound: Listener[], inbound: Listener[]): Listener[] {
  if (proxyClass === "proxyless-grpc") return [...outbound, ...inbound];
  const taken = new Set(inbound.map(addressKey));
  return [...outbound.filter((l) => l.name === VIRTUAL_OUTBOUND_LISTENER || !taken.has(addressKey(l))), ...inbound];
}
