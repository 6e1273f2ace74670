// One VirtualService's HTTP routes → Envoy routes for one proxy and port, in
// order (Envoy takes the first match, as Istio's first-match rule says). Each
// HTTP route becomes one Envoy route per match clause that applies to this
// proxy; translation stops after a catch-all, as Istio's does. What a proxy
// class cannot do is left out of its routes here and reported by
// analyzeVirtualServices: proxyless gRPC gets no redirect, direct response,
// rewrite, header operation, mirror or CORS policy (grpc-js rejects a route
// configuration with a redirect or direct-response route outright).
import type { HTTPMatchRequest, HTTPRoute } from "../../config/networking/virtual-service.js";
import type { Route } from "../../envoy/generated/envoy/config/route/v3/Route.js";
import type { RouteAction } from "../../envoy/generated/envoy/config/route/v3/RouteAction.js";
import type { Any } from "../../envoy/generated/google/protobuf/Any.js";
import type { IndexedVirtualService } from "../../model/traffic.js";
import { CORS_FILTER, FAULT_FILTER } from "../filters/http-filters.js";
import { corsConfig } from "./cors.js";
import { type ExpandedRoute, expandRoutes } from "./delegate.js";
import { destinationAction } from "./destination.js";
import { directResponseAction, directResponseBodyBytes, MAX_DIRECT_RESPONSE_BODY_BYTES } from "./direct-response.js";
import { faultConfig } from "./fault.js";
import { appendOperations, headerOperations } from "./headers.js";
import { clauseSkip, isCatchAll, routeMatch } from "./match.js";
import { mirrorPolicies } from "./mirror.js";
import { redirectAction } from "./redirect.js";
import { isRe2Compatible } from "./regex.js";
import { retryPolicy } from "./retries.js";
import { hostRewrite, pathRewrite } from "./rewrite.js";
import type { RouteScope } from "./scope.js";
import { routeTimeout } from "./timeout.js";

/** A route without its match and name: what every match clause of one HTTP route shares. */
type RouteBody = Omit<Route, "match" | "name" | "stat_prefix">;

export function isValidDirectResponse(status: number, bytes: number): boolean {
  return status >= 200 && status < 600 && bytes <= MAX_DIRECT_RESPONSE_BODY_BYTES;
}

/** The Envoy routes of a VirtualService for this proxy and port; empty when none applies. */
export function virtualServiceRoutes(scope: RouteScope, vs: IndexedVirtualService): Route[] {
  const out: Route[] = [];
  for (const er of expandRoutes(scope.ctx.traffic, vs)) {
    const { routes, catchAll } = translateHttpRoute(scope, er);
    out.push(...routes);
    if (catchAll) break;
  }
  return out;
}

function translateHttpRoute(scope: RouteScope, er: ExpandedRoute): { routes: Route[]; catchAll: boolean } {
  const http = er.http;
  const clauses: (HTTPMatchRequest | undefined)[] = http.match?.length ? http.match : [undefined];
  // A route without match clauses is a catch-all even when it cannot be translated (Istio).
  let catchAll = !http.match?.length;
  const applicable = clauses.filter((m) => !m || !clauseSkip(m, scope.ctx.proxy, scope.port));
  if (applicable.length === 0) return { routes: [], catchAll };
  const body = routeBody(scope, er);
  if (!body) return { routes: [], catchAll };
  const routes: Route[] = [];
  for (const m of applicable) {
    const route: Route = { match: routeMatch(m), ...body };
    const name = m?.name ? `${http.name ?? ""}.${m.name}` : http.name;
    if (name) route.name = name;
    if (m?.statPrefix) route.stat_prefix = m.statPrefix;
    routes.push(route);
    if (route.match && isCatchAll(route.match)) {
      catchAll = true;
      break;
    }
  }
  return { routes, catchAll };
}

/** Undefined when this proxy class cannot carry the route's action, or the route is invalid (analyze reports both). */
function routeBody(scope: RouteScope, er: ExpandedRoute): RouteBody | undefined {
  const http = er.http;
  const sidecar = scope.ctx.proxy.class === "sidecar";
  const body: RouteBody = {};
  const ops = sidecar && http.headers ? headerOperations(http.headers) : {};
  const { authority, ...routeOps } = ops;
  Object.assign(body, routeOps);

  if (http.redirect) {
    if (!sidecar) return undefined;
    const redirect = redirectAction(http.redirect, scope.port);
    if (!redirect) return undefined;
    body.redirect = redirect;
  } else if (http.directResponse) {
    if (!sidecar) return undefined;
    const d = http.directResponse;
    if (!isValidDirectResponse(d.status, directResponseBodyBytes(d))) return undefined;
    body.direct_response = directResponseAction(d);
  } else if (http.route?.length) {
    const rw = http.rewrite?.uriRegexRewrite;
    if (sidecar && rw && !isRe2Compatible(rw.match ?? "")) return undefined;
    const action = routeAction(scope, er, authority);
    if (!action) return undefined;
    body.route = action.action;
    if (action.headers) Object.assign(body, appendOperations(body, action.headers));
  } else {
    return undefined;
  }

  const perFilter: Record<string, Any> = {};
  const fault = http.fault ? faultConfig(http.fault) : undefined;
  if (fault) perFilter[FAULT_FILTER] = fault;
  if (sidecar && http.corsPolicy) perFilter[CORS_FILTER] = corsConfig(http.corsPolicy);
  if (Object.keys(perFilter).length > 0) body.typed_per_filter_config = perFilter;
  return body;
}

function routeAction(
  scope: RouteScope,
  er: ExpandedRoute,
  headerAuthority: string | undefined,
): { action: RouteAction; headers?: ReturnType<typeof headerOperations> } | undefined {
  const http: HTTPRoute = er.http;
  const sidecar = scope.ctx.proxy.class === "sidecar";
  const dest = destinationAction(scope, http, er.namespace, sidecar);
  if (!dest) return undefined;
  const action: RouteAction = {};
  if (dest.cluster !== undefined) action.cluster = dest.cluster;
  if (dest.weighted_clusters) action.weighted_clusters = dest.weighted_clusters;
  Object.assign(action, routeTimeout(http.timeout, scope.ctx.proxy.class));
  if (sidecar) {
    Object.assign(action, pathRewrite(http.rewrite));
    // The route's own host rewrite wins; a single destination's header authority applies only without one (Istio).
    const host = hostRewrite(http.rewrite, headerAuthority) ?? dest.headers?.authority;
    if (host) action.host_rewrite_literal = host;
    const mirrors = mirrorPolicies(scope, http, er.namespace);
    if (mirrors.length > 0) action.request_mirror_policies = mirrors;
  }
  if (dest.hash_policy.length > 0) action.hash_policy = dest.hash_policy;
  const retry = retryPolicy(http.retries, dest.consistentHash);
  if (retry) action.retry_policy = retry;
  return dest.headers ? { action, headers: dest.headers } : { action };
}
