// The route of a service no VirtualService routes (or whose VirtualServices
// have no route for this proxy and port): everything to the service's cluster,
// with Istio's defaults — no timeout, the default retry policy — and the
// consistent hash of its DestinationRule, if any (Istio's
// BuildDefaultHTTPOutboundRoute).
import type { Route } from "../../envoy/generated/envoy/config/route/v3/Route.js";
import type { RouteAction } from "../../envoy/generated/envoy/config/route/v3/RouteAction.js";
import type { ServiceModel } from "../../model/services.js";
import { hashPolicyFor } from "../clusters/consistent-hash.js";
import { outboundClusterName } from "../names.js";
import { CATCH_ALL_MATCH } from "./match.js";
import { defaultRetryPolicy } from "./retries.js";
import type { RouteScope } from "./scope.js";
import { routeTimeout } from "./timeout.js";

export const DEFAULT_ROUTE_NAME = "default";

export function defaultRoute(scope: RouteScope, svc: ServiceModel): Route {
  const action: RouteAction = {
    cluster: outboundClusterName(svc.host, scope.port),
    ...routeTimeout(undefined, scope.ctx.proxy.class),
    retry_policy: defaultRetryPolicy(false),
  };
  const hash = hashPolicyFor(scope.ctx, svc, scope.port, undefined);
  if (hash.length > 0) action.hash_policy = hash;
  return { name: DEFAULT_ROUTE_NAME, match: { ...CATCH_ALL_MATCH }, route: action };
}
