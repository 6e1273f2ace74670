// The route configuration behind a proxyless gRPC API listener (named
// `host:port`, as the client's LDS name): one virtual host answering to the
// authorities a client may use — `host:port` and `host` — with the service's
// routes for that port.
import type { Route } from "../../envoy/generated/envoy/config/route/v3/Route.js";
import type { RouteConfiguration } from "../../envoy/generated/envoy/config/route/v3/RouteConfiguration.js";

export function apiRouteConfiguration(name: string, host: string, port: number, routes: Route[]): RouteConfiguration {
  return {
    name,
    virtual_hosts: [{ name: `${host}:${port}`, domains: [`${host}:${port}`, host], routes }],
  };
}
