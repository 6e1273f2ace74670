// The route of a service no VirtualService routes (or whose VirtualServices
// have no route for this proxy and port): everything to the service's cluster,
// with Istio's defaults — no timeout, the default retry policy — and the
// consistent hash of its DestinationRule, if any (Istio's
// BuildDefaultHTTPOutboundRoute).
import type { Route } from "../../envoy/generated/envoy/config/route/v3/Route.js";
import type { RouteAction } from "../../envoy/generated/envoy/config/route/v3/RouteAction.js";
import type { ServiceModel } from "../../model/services.js";
import type { IndexedDestinationRule } from "../../model/traffic.js";
import { hashPolicyFor } from "../clusters/consistent-hash.js";
import { ruleFor } from "../clusters/traffic-policy.js";
import type { ProxyClass } from "../context.js";
import { outboundClusterName } from "../names.js";
import { CATCH_ALL_MATCH } from "./match.js";
import { defaultRetryPolicy } from "./retries.js";
import type { RouteScope } from "./scope.js";
import { routeTimeout } from "./timeout.js";

export const DEFAULT_ROUTE_NAME = "default";

// By service, proxy class and port, with the DestinationRule it was built
// for (its consistent hash): the same for every view that uses that rule.
// Shared: nearly every virtual host of every view has one (nothing writes to
// a route once built).
const defaultRoutes = new WeakMap<
  ServiceModel,
  { proxyClass: ProxyClass; port: number; rule: IndexedDestinationRule | undefined; route: Route }[]
>();

export function defaultRoute(scope: RouteScope, svc: ServiceModel): Route {
  const rule = ruleFor(scope.ctx, svc);
  const proxyClass = scope.ctx.proxy.class;
  let entries = defaultRoutes.get(svc);
  if (!entries) {
    entries = [];
    defaultRoutes.set(svc, entries);
  }
  // One per proxy class and HTTP port: a handful. Views whose clients use another
  // rule replace it (rules differ by client namespace only where one is declared there).
  const at = entries.findIndex((e) => e.proxyClass === proxyClass && e.port === scope.port);
  const found = entries[at];
  if (found && found.rule === rule) return found.route;
  const route = buildDefaultRoute(scope, svc);
  const entry = { proxyClass, port: scope.port, rule, route };
  if (found) entries[at] = entry;
  else entries.push(entry);
  return route;
}

function buildDefaultRoute(scope: RouteScope, svc: ServiceModel): Route {
  const action: RouteAction = {
    cluster: outboundClusterName(svc.host, scope.port),
    ...routeTimeout(undefined, scope.ctx.proxy.class),
    retry_policy: defaultRetryPolicy(false),
  };
  const hash = hashPolicyFor(scope.ctx, svc, scope.port, undefined);
  if (hash.length > 0) action.hash_policy = hash;
  return { name: DEFAULT_ROUTE_NAME, match: { ...CATCH_ALL_MATCH }, route: action };
}
