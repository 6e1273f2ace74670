// Resource naming, shared by every translator so references line up.

/** Istio's outbound cluster name: `outbound|<port>|<subset>|<host>`. */
export function outboundClusterName(host: string, port: number, subset = ""): string {
  return `outbound|${port}|${subset}|${host}`;
}

/** The listener (and route configuration) a proxyless gRPC client asks for when dialling `xds:///host:port`. */
export function apiListenerName(host: string, port: number): string {
  return `${host}:${port}`;
}

/** Istio's inbound cluster name: `inbound|<port>||`. */
export function inboundClusterName(port: number): string {
  return `inbound|${port}||`;
}

/** A sidecar's outbound HTTP route configuration is shared by every service on one port, named after the port. */
export function sidecarRouteName(port: number): string {
  return String(port);
}

export const PASSTHROUGH_CLUSTER = "PassthroughCluster";
export const BLACKHOLE_CLUSTER = "BlackHoleCluster";
/** Inbound traffic to a workload port no service declares: original destination, from 127.0.0.6. */
export const INBOUND_PASSTHROUGH_CLUSTER = "InboundPassthroughCluster";
export const VIRTUAL_OUTBOUND_LISTENER = "virtualOutbound";
export const VIRTUAL_INBOUND_LISTENER = "virtualInbound";
export const OUTBOUND_CAPTURE_PORT = 15001;
export const INBOUND_CAPTURE_PORT = 15006;
