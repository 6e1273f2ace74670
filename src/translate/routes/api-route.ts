// The route configuration behind a proxyless gRPC API listener: one virtual
// host answering to the names a client may use as authority, routing every
// RPC to the service's cluster. (VirtualService routing comes with the traffic
// management translators.)
import type { RouteConfiguration } from "../../envoy/generated/envoy/config/route/v3/RouteConfiguration.js";

export function apiRouteConfiguration(
  name: string,
  host: string,
  port: number,
  clusterName: string,
): RouteConfiguration {
  return {
    name,
    virtual_hosts: [
      {
        name: `${host}:${port}`,
        domains: [`${host}:${port}`, host],
        routes: [{ match: { prefix: "" }, route: { cluster: clusterName } }],
      },
    ],
  };
}
