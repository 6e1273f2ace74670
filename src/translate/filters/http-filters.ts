// The HTTP filter chain of every HttpConnectionManager Trellis generates. The
// fault and CORS filters are always present (configured per route with
// typed_per_filter_config, as Istio does), and the router is last. Proxyless
// gRPC rejects a listener naming an HTTP filter it does not implement (it knows
// router, fault and RBAC), so its chain leaves CORS out.
import { packAny, ROUTER_TYPE_URL } from "../../envoy/any.js";
import type { HttpFilter } from "../../envoy/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.js";
import type { ProxyClass } from "../context.js";

export const FAULT_FILTER = "envoy.filters.http.fault";
export const CORS_FILTER = "envoy.filters.http.cors";
export const ROUTER_FILTER = "envoy.filters.http.router";

export function httpFilters(proxyClass: ProxyClass): HttpFilter[] {
  const fault = {
    name: FAULT_FILTER,
    typed_config: packAny("type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault", {}),
  };
  const cors = {
    name: CORS_FILTER,
    typed_config: packAny("type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors", {}),
  };
  const router = { name: ROUTER_FILTER, typed_config: packAny(ROUTER_TYPE_URL, {}) };
  return proxyClass === "proxyless-grpc" ? [fault, router] : [fault, cors, router];
}
