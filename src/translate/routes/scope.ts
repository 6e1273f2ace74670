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

// Visible services by host, per context: routes look one up per destination,
// and a scan over `ctx.services` per lookup would make a view O(services²).
const servicesByHost = new WeakMap<TranslationContext, ReadonlyMap<string, ServiceModel>>();

/** The service for `host` among those this proxy sees: one in the proxy's namespace wins, as in Istio. */
export function visibleService(ctx: TranslationContext, host: string): ServiceModel | undefined {
  let byHost = servicesByHost.get(ctx);
  if (!byHost) {
    const map = new Map<string, ServiceModel>();
    // The first service of each host, unless a later one is in the proxy's namespace and the first is not.
    for (const svc of ctx.services) {
      const first = map.get(svc.host);
      if (!first || (first.namespace !== ctx.proxy.namespace && svc.namespace === ctx.proxy.namespace))
        map.set(svc.host, svc);
    }
    byHost = map;
    servicesByHost.set(ctx, byHost);
  }
  return byHost.get(host);
}

/** Whether any service this proxy sees has a host matching `pattern`. */
export function anyVisibleService(ctx: TranslationContext, pattern: string): boolean {
  return ctx.services.some((s) => hostMatches(pattern, s.host));
}
