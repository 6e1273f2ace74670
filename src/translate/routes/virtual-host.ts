// Virtual hosts. A sidecar's route configuration for an HTTP port has one
// virtual host per service host with that port, named `host:port`, answering
// to every name a client may use for it — the host and its short forms
// (`reviews`, `reviews.default`, `reviews.default.svc` from the same
// namespace; without the bare name from others), each also with `:port` —
// and to the service's VIPs, plus a catch-all virtual host for unknown hosts:
// PassthroughCluster under ALLOW_ANY, a 502 under REGISTRY_ONLY (Istio's
// allow_any / block_all). Envoy rejects a domain served by two virtual hosts
// of one configuration, so a domain already taken is left out of later ones.
import { isIP } from "node:net";
import type { Route } from "../../envoy/generated/envoy/config/route/v3/Route.js";
import type { VirtualHost } from "../../envoy/generated/envoy/config/route/v3/VirtualHost.js";
import { hostAliases } from "../../model/hosts.js";
import type { ServiceModel } from "../../model/services.js";
import type { TranslationContext } from "../context.js";
import { PASSTHROUGH_CLUSTER } from "../names.js";
import { defaultRoute } from "./default-route.js";
import { virtualServiceRoutes } from "./http-route.js";
import { routingVirtualServices } from "./merge.js";
import type { RouteScope } from "./scope.js";

/** The routes for a service on a port: its VirtualService's, else the default route. */
export function serviceRoutes(scope: RouteScope, svc: ServiceModel): Route[] {
  // A VirtualService without any route for this proxy and port does not apply (Istio).
  for (const vs of routingVirtualServices(scope.ctx, svc.host)) {
    const routes = virtualServiceRoutes(scope, vs);
    if (routes.length > 0) return routes;
  }
  return [defaultRoute(scope, svc)];
}

function withPort(domain: string, port: number): string[] {
  return [domain, `${domain}:${port}`];
}

/** A VIP as an Envoy domain: IPv6 in brackets; CIDR ranges are not host names and are left out. */
function vipDomain(address: string): string | undefined {
  if (address.includes("/")) return undefined;
  return isIP(address) === 6 ? `[${address}]` : address;
}

export function sidecarDomains(ctx: TranslationContext, svc: ServiceModel, port: number): string[] {
  const out = hostAliases(svc.host, ctx.mesh.clusterDomain, ctx.proxy.namespace).flatMap((d) => withPort(d, port));
  for (const a of svc.addresses) {
    const d = vipDomain(a);
    if (d) out.push(...withPort(d, port));
  }
  return out;
}

/** Removes domains another virtual host of the same configuration already serves; records the rest. */
export function claimDomains(domains: string[], taken: Set<string>): string[] {
  const out: string[] = [];
  for (const d of domains) {
    const key = d.toLowerCase();
    if (taken.has(key)) continue;
    taken.add(key);
    out.push(d);
  }
  return out;
}

export const ALLOW_ANY_VHOST = "allow_any";
export const BLOCK_ALL_VHOST = "block_all";

export function catchAllVirtualHost(ctx: TranslationContext): VirtualHost {
  const mode = ctx.sidecar?.object.spec.outboundTrafficPolicy?.mode ?? ctx.mesh.outboundTrafficPolicy.mode;
  if (mode === "REGISTRY_ONLY") {
    return {
      name: BLOCK_ALL_VHOST,
      domains: ["*"],
      routes: [{ name: BLOCK_ALL_VHOST, match: { prefix: "/" }, direct_response: { status: 502 } }],
    };
  }
  return {
    name: ALLOW_ANY_VHOST,
    domains: ["*"],
    routes: [
      {
        name: ALLOW_ANY_VHOST,
        match: { prefix: "/" },
        route: {
          cluster: PASSTHROUGH_CLUSTER,
          timeout: { seconds: "0", nanos: 0 },
          max_stream_duration: { grpc_timeout_header_max: { seconds: "0", nanos: 0 } },
        },
      },
    ],
  };
}
