// DestinationRule `proxyProtocol`: send a PROXY protocol header (v1 or v2) on
// every upstream connection, by wrapping the cluster's transport socket (TLS
// or plaintext) in Envoy's upstream_proxy_protocol socket, as Istio does.
// gRPC has no such socket; proxyless clusters do without it (reported).
import type { TrafficPolicy } from "../../config/networking/destination-rule.js";
import { packAny } from "../../envoy/any.js";
import type { Cluster } from "../../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import type { ProxyProtocolUpstreamTransport } from "../../envoy/generated/envoy/extensions/transport_sockets/proxy_protocol/v3/ProxyProtocolUpstreamTransport.js";

const RAW_BUFFER = {
  name: "envoy.transport_sockets.raw_buffer",
  typed_config: packAny("type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer", {}),
};

type Socket = NonNullable<Cluster["transport_socket"]>;

function wrap(inner: Socket, version: "V1" | "V2"): Socket {
  const wrapped: ProxyProtocolUpstreamTransport = { config: { version }, transport_socket: inner };
  return {
    name: "envoy.transport_sockets.upstream_proxy_protocol",
    typed_config: packAny(
      "type.googleapis.com/envoy.extensions.transport_sockets.proxy_protocol.v3.ProxyProtocolUpstreamTransport",
      wrapped,
    ),
  };
}

export function applyProxyProtocol(c: Cluster, proxyProtocol: TrafficPolicy["proxyProtocol"]): void {
  if (!proxyProtocol) return;
  const version = proxyProtocol.version ?? "V1";
  c.transport_socket = wrap(c.transport_socket ?? RAW_BUFFER, version);
  // Auto mTLS chooses the socket per endpoint: each choice gets the header too, as in Istio.
  for (const m of c.transport_socket_matches ?? [])
    m.transport_socket = wrap(m.transport_socket ?? RAW_BUFFER, version);
}
