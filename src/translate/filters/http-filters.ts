// The HTTP filter chain of every HttpConnectionManager Trellis generates. The
// CORS and fault filters are always present with empty configs and are
// configured per route through typed_per_filter_config (routes/cors.ts,
// routes/fault.ts), as Istio does; the router is last. Sidecars get Istio's
// order — CORS, fault, router — so a CORS preflight is answered before any
// fault applies. Proxyless gRPC rejects a listener naming an HTTP filter it
// does not implement (it knows router, fault and RBAC), so its chain is fault,
// router: without the fault filter here, the fault configs on its routes
// would have no effect.
import { packAny, ROUTER_TYPE_URL } from "../../envoy/any.js";
import type { Cors } from "../../envoy/generated/envoy/extensions/filters/http/cors/v3/Cors.js";
import type { HTTPFault } from "../../envoy/generated/envoy/extensions/filters/http/fault/v3/HTTPFault.js";
import type { HttpFilter } from "../../envoy/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.js";
import type { ProxyClass } from "../context.js";
import { deepFreeze } from "../security/tls-context.js";

export const FAULT_FILTER = "envoy.filters.http.fault";
export const CORS_FILTER = "envoy.filters.http.cors";
export const ROUTER_FILTER = "envoy.filters.http.router";

// The filters themselves are constant: shared (and frozen) by every
// HttpConnectionManager (a proxyless view has one per service port).
const FAULT = deepFreeze({
  name: FAULT_FILTER,
  typed_config: packAny<HTTPFault>("type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault", {}),
});
const CORS = deepFreeze({
  name: CORS_FILTER,
  typed_config: packAny<Cors>("type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors", {}),
});
const ROUTER = deepFreeze({ name: ROUTER_FILTER, typed_config: packAny(ROUTER_TYPE_URL, {}) });

/** A new list (callers insert filters into it) of the shared filters. */
export function httpFilters(proxyClass: ProxyClass): HttpFilter[] {
  return proxyClass === "proxyless-grpc" ? [FAULT, ROUTER] : [CORS, FAULT, ROUTER];
}
