// API listeners for proxyless gRPC clients: a client dialling xds:///host:port
// asks LDS for `host:port` and expects an HttpConnectionManager that points it
// at a route configuration over ADS (grpc-js validates: rds.config_source.ads,
// router filter last).
import { httpConnectionManager, router } from "../../envoy/any.js";
import type { Listener } from "../../envoy/generated/envoy/config/listener/v3/Listener.js";

export function apiListener(name: string, routeConfigName: string): Listener {
  return {
    name,
    api_listener: {
      api_listener: httpConnectionManager({
        stat_prefix: name,
        rds: { route_config_name: routeConfigName, config_source: { ads: {}, resource_api_version: "V3" } },
        http_filters: [{ name: "envoy.filters.http.router", typed_config: router() }],
      }),
    },
  };
}
