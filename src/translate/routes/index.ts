// Route configurations for a proxy's HTTP listeners.
import type { RouteConfiguration } from "../../envoy/generated/envoy/config/route/v3/RouteConfiguration.js";
import type { TranslationContext } from "../context.js";
import { apiListenerName, outboundClusterName } from "../names.js";
import { apiRouteConfiguration } from "./api-route.js";

export function routeConfigurations(ctx: TranslationContext): RouteConfiguration[] {
  if (ctx.proxy.class !== "proxyless-grpc") return [];
  const out: RouteConfiguration[] = [];
  for (const svc of ctx.services) {
    for (const port of svc.ports) {
      const name = apiListenerName(svc.host, port.number);
      out.push(apiRouteConfiguration(name, svc.host, port.number, outboundClusterName(svc.host, port.number)));
    }
  }
  return out;
}
