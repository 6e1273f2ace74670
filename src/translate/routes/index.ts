// Route configurations for a proxy — VirtualService HTTP routing for both
// proxy classes:
// - sidecars: one RouteConfiguration per HTTP port of the services they see,
//   named after the port (the outbound HTTP listener on that port asks RDS for
//   it), with a virtual host per service host and a catch-all;
// - proxyless gRPC: one per service host and port, named `host:port` like the
//   API listener that references it.
// One file per feature below this one; analyze.ts reports what the
// translation leaves out. Imports model/, config/ (types), envoy/ (types) and
// the shared translate/ helpers; never xds/.
import type { RouteConfiguration } from "../../envoy/generated/envoy/config/route/v3/RouteConfiguration.js";
import type { VirtualHost } from "../../envoy/generated/envoy/config/route/v3/VirtualHost.js";
import { isHttp } from "../../model/protocol.js";
import type { ServiceModel } from "../../model/services.js";
import type { TranslationContext } from "../context.js";
import { apiListenerName, sidecarRouteName } from "../names.js";
import { apiRouteConfiguration } from "./api-route.js";
import { MAX_DIRECT_RESPONSE_BODY_BYTES } from "./direct-response.js";
import { catchAllVirtualHost, claimAllSidecarDomains, serviceRoutes } from "./virtual-host.js";

export function routeConfigurations(ctx: TranslationContext): RouteConfiguration[] {
  return ctx.proxy.class === "proxyless-grpc" ? proxylessRouteConfigurations(ctx) : sidecarRouteConfigurations(ctx);
}

/** One service per host: the one in the proxy's namespace, else the first (Istio's lookup). */
function servicesByHost(ctx: TranslationContext): ServiceModel[] {
  const byHost = new Map<string, ServiceModel>();
  for (const svc of ctx.services) {
    const seen = byHost.get(svc.host);
    if (!seen || (seen.namespace !== ctx.proxy.namespace && svc.namespace === ctx.proxy.namespace))
      byHost.set(svc.host, svc);
  }
  return [...byHost.values()];
}

function sidecarRouteConfigurations(ctx: TranslationContext): RouteConfiguration[] {
  const services = servicesByHost(ctx);
  const ports = new Set<number>();
  for (const svc of services) for (const p of svc.ports) if (isHttp(p.protocol)) ports.add(p.number);
  // Exact hosts claim shared VIPs before wildcard hosts do. One service per host, so
  // the keys are distinct: sorting once and filtering per port gives each port's order.
  const sorted = services
    .map((s) => ({ s, key: `${s.host.startsWith("*") ? 1 : 0}${s.host}` }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((x) => x.s);
  return [...ports]
    .sort((a, b) => a - b)
    .map((port) => {
      const vhosts: VirtualHost[] = [];
      const onPort = sorted.filter((s) => s.ports.some((p) => p.number === port && isHttp(p.protocol)));
      const claimed = claimAllSidecarDomains(ctx, onPort, port);
      onPort.forEach((svc, i) => {
        const domains = claimed[i] ?? [];
        if (domains.length === 0) return;
        vhosts.push({ name: `${svc.host}:${port}`, domains, routes: serviceRoutes({ ctx, port }, svc) });
      });
      vhosts.push(catchAllVirtualHost(ctx));
      return {
        name: sidecarRouteName(port),
        virtual_hosts: vhosts,
        // Routes may name clusters that do not exist (a missing subset): Envoy answers 503 rather than rejecting.
        validate_clusters: { value: false },
        max_direct_response_body_size_bytes: { value: MAX_DIRECT_RESPONSE_BODY_BYTES },
      };
    });
}

function proxylessRouteConfigurations(ctx: TranslationContext): RouteConfiguration[] {
  const out: RouteConfiguration[] = [];
  for (const svc of servicesByHost(ctx)) {
    for (const port of svc.ports) {
      const name = apiListenerName(svc.host, port.number);
      out.push(apiRouteConfiguration(name, svc.host, port.number, serviceRoutes({ ctx, port: port.number }, svc)));
    }
  }
  return out;
}
