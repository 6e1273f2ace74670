// What route translation needs besides the HTTP route itself: the proxy's
// translation context and the port the client called (the sidecar's listener
// port, or the port in a proxyless client's xds:///host:port target).
import { hostMatches } from "../../model/hosts.js";
import type { ServiceModel } from "../../model/services.js";
import type { TranslationContext } from "../context.js";

export interface RouteScope {
  ctx: TranslationContext;
  port: number;
}

/** The service for `host` among those this proxy sees: one in the proxy's namespace wins, as in Istio. */
export function visibleService(ctx: TranslationContext, host: string): ServiceModel | undefined {
  let first: ServiceModel | undefined;
  for (const svc of ctx.services) {
    if (svc.host !== host) continue;
    if (svc.namespace === ctx.proxy.namespace) return svc;
    first ??= svc;
  }
  return first;
}

/** Whether any service this proxy sees has a host matching `pattern`. */
export function anyVisibleService(ctx: TranslationContext, pattern: string): boolean {
  return ctx.services.some((s) => hostMatches(pattern, s.host));
}
