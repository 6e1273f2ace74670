// Resource naming, shared by every translator so references line up.

/** Istio's outbound cluster name: `outbound|<port>|<subset>|<host>`. */
export function outboundClusterName(host: string, port: number, subset = ""): string {
  return `outbound|${port}|${subset}|${host}`;
}

/** The listener (and route configuration) a proxyless gRPC client asks for when dialling `xds:///host:port`. */
export function apiListenerName(host: string, port: number): string {
  return `${host}:${port}`;
}
