// The network and listener filters every sidecar listener is made of:
// tcp_proxy (to one cluster or weighted clusters), the HTTP connection manager
// wrapper, and the listener filters original_dst, tls_inspector and
// http_inspector. Every typed_config names a message of Envoy's own API.
import { httpConnectionManager, packAny } from "../../envoy/any.js";
import type { Filter } from "../../envoy/generated/envoy/config/listener/v3/Filter.js";
import type { ListenerFilter } from "../../envoy/generated/envoy/config/listener/v3/ListenerFilter.js";
import type { HttpInspector } from "../../envoy/generated/envoy/extensions/filters/listener/http_inspector/v3/HttpInspector.js";
import type { OriginalDst } from "../../envoy/generated/envoy/extensions/filters/listener/original_dst/v3/OriginalDst.js";
import type { TlsInspector } from "../../envoy/generated/envoy/extensions/filters/listener/tls_inspector/v3/TlsInspector.js";
import type { HttpConnectionManager } from "../../envoy/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.js";
import type { TcpProxy } from "../../envoy/generated/envoy/extensions/filters/network/tcp_proxy/v3/TcpProxy.js";

const T = "type.googleapis.com/";
export const TCP_PROXY_FILTER = "envoy.filters.network.tcp_proxy";
export const HCM_FILTER = "envoy.filters.network.http_connection_manager";

export interface WeightedCluster {
  name: string;
  weight: number;
}

/** Extra tcp_proxy settings a DestinationRule contributes (Istio applies them on the listener side). */
export type TcpProxyOptions = Pick<TcpProxy, "idle_timeout" | "max_downstream_connection_duration" | "hash_policy">;

export function tcpProxyFilter(
  statPrefix: string,
  target: string | readonly WeightedCluster[],
  options: TcpProxyOptions = {},
): Filter {
  const proxy: TcpProxy =
    typeof target === "string"
      ? { stat_prefix: statPrefix, cluster: target, ...options }
      : {
          stat_prefix: statPrefix,
          weighted_clusters: { clusters: target.map((c) => ({ name: c.name, weight: c.weight })) },
          ...options,
        };
  return {
    name: TCP_PROXY_FILTER,
    typed_config: packAny(`${T}envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy`, proxy),
  };
}

export function hcmFilter(hcm: HttpConnectionManager): Filter {
  return { name: HCM_FILTER, typed_config: httpConnectionManager(hcm) };
}

export function originalDstListenerFilter(): ListenerFilter {
  return {
    name: "envoy.filters.listener.original_dst",
    typed_config: packAny<OriginalDst>(`${T}envoy.extensions.filters.listener.original_dst.v3.OriginalDst`, {}),
  };
}

export function tlsInspectorListenerFilter(): ListenerFilter {
  return {
    name: "envoy.filters.listener.tls_inspector",
    typed_config: packAny<TlsInspector>(`${T}envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector`, {}),
  };
}

export function httpInspectorListenerFilter(): ListenerFilter {
  return {
    name: "envoy.filters.listener.http_inspector",
    typed_config: packAny<HttpInspector>(`${T}envoy.extensions.filters.listener.http_inspector.v3.HttpInspector`, {}),
  };
}

/** Duration zero: on listener filters it disables the timeout; on HCM streams it disables the idle timer. */
export const ZERO_DURATION = { seconds: "0", nanos: 0 } as const;
