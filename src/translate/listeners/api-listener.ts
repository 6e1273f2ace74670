// API listeners for proxyless gRPC clients: a client dialling xds:///host:port
// asks LDS for `host:port` and expects an HttpConnectionManager that points it
// at a route configuration over ADS (grpc-js validates: rds.config_source.ads,
// router filter last). The HTTP filters are the proxyless chain (filters/),
// which leaves out what gRPC clients do not implement.
import { httpConnectionManager } from "../../envoy/any.js";
import type { Listener } from "../../envoy/generated/envoy/config/listener/v3/Listener.js";
import { httpFilters } from "../filters/http-filters.js";
import { deepFreeze } from "../security/tls-context.js";

// Shared (and frozen) by every API listener: a proxyless view has one per service port.
const ADS_CONFIG_SOURCE = deepFreeze({ ads: {}, resource_api_version: "V3" as const });

export function apiListener(name: string, routeConfigName: string): Listener {
  return {
    name,
    api_listener: {
      api_listener: httpConnectionManager({
        stat_prefix: name,
        rds: { route_config_name: routeConfigName, config_source: ADS_CONFIG_SOURCE },
        http_filters: httpFilters("proxyless-grpc"),
      }),
    },
  };
}
