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
import { fullHostAliases, hostAliases } from "../../model/hosts.js";
import { isHttp } from "../../model/protocol.js";
import { registryPosition, type ServiceModel, type ServiceRegistry } from "../../model/services.js";
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
  return domainsOf(svc, port, ctx.mesh.clusterDomain, ctx.proxy.namespace);
}

/** The domains of `svc` on `port` as a client in `fromNamespace` may use them. */
function domainsOf(
  svc: ServiceModel,
  port: number,
  clusterDomain: string,
  fromNamespace: string | undefined,
): string[] {
  return domainsWith(hostAliases(svc.host, clusterDomain, fromNamespace), svc, port);
}

/** The domains of `svc` on `port` with these host aliases: each alias, then each VIP, with and without the port. */
function domainsWith(aliases: readonly string[], svc: ServiceModel, port: number): string[] {
  const out = aliases.flatMap((d) => withPort(d, port));
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

/** `claimDomains(sidecarDomains(ctx, svc, port), taken)`. */
export function claimSidecarDomains(
  ctx: TranslationContext,
  svc: ServiceModel,
  port: number,
  taken: Set<string>,
): string[] {
  return claimDomains(sidecarDomains(ctx, svc, port), taken);
}

/**
 * A service's domains on a port for clients in the namespace of its
 * Kubernetes-style host: with the bare name (hostAliases lists it last, with
 * and without the port, at `bareAt`); every other client's list is this one
 * without those two.
 */
interface ServiceDomains {
  aliasNamespace: string | undefined;
  domains: readonly string[];
  /** The domains as claimDomains compares them (lower case). */
  keys: readonly string[];
  /** Position of the bare name; -1 when the host has none. */
  bareAt: number;
  /** Positions of the keys another domain of the registry may have too (see domainsOnPort). */
  contested: readonly number[];
}

// By registry, cluster domain and port: the domains of the registry's services.
const portDomains = new WeakMap<ServiceRegistry, Map<string, Map<number, readonly (ServiceDomains | undefined)[]>>>();

/**
 * The domains of every registry service with an HTTP port `port`, by registry
 * position, computed once per (registry, cluster domain, port): every sidecar
 * view builds a virtual host per visible service on each HTTP port.
 * `contested` marks the keys that more than one domain of the registry has
 * (counting each service with its bare name); any other key belongs to one
 * domain of one service, which claims it in every view without contest, so
 * only contested keys need the set of taken domains.
 */
function domainsOnPort(
  registry: ServiceRegistry,
  clusterDomain: string,
  port: number,
): readonly (ServiceDomains | undefined)[] {
  let byDomain = portDomains.get(registry);
  if (!byDomain) {
    byDomain = new Map();
    portDomains.set(registry, byDomain);
  }
  let byPort = byDomain.get(clusterDomain);
  if (!byPort) {
    byPort = new Map();
    byDomain.set(clusterDomain, byPort);
  }
  const cached = byPort.get(port);
  if (cached) return cached;
  // Packed (not holey): most positions have an entry.
  const out: (ServiceDomains | undefined)[] = new Array(registry.services.length).fill(undefined);
  const seen = new Set<string>();
  const contested = new Set<string>();
  registry.services.forEach((svc, i) => {
    if (!svc.ports.some((p) => p.number === port && isHttp(p.protocol))) return;
    const { aliases, namespace: aliasNs } = fullHostAliases(svc.host, clusterDomain);
    const domains = domainsWith(aliases, svc, port);
    const keys = domains.map((d) => d.toLowerCase());
    for (const key of keys) {
      const before = seen.size;
      seen.add(key);
      if (seen.size === before) contested.add(key);
    }
    const bareAt = aliasNs === undefined ? -1 : 2 * (aliases.length - 1);
    out[i] = { aliasNamespace: aliasNs, domains, keys, bareAt, contested: [] };
  });
  if (contested.size > 0) {
    for (const entry of out) {
      if (!entry) continue;
      const at: number[] = [];
      entry.keys.forEach((k, j) => {
        if (contested.has(k)) at.push(j);
      });
      entry.contested = at;
    }
  }
  byPort.set(port, out);
  return out;
}

/**
 * The domains each of `services` (in this order, the virtual hosts of one
 * route configuration for `port`) claims: what claimSidecarDomains over them
 * in turn gives, taking the domains from `domainsOnPort` and comparing only
 * contested ones.
 */
export function claimAllSidecarDomains(
  ctx: TranslationContext,
  services: readonly ServiceModel[],
  port: number,
): string[][] {
  const taken = new Set<string>();
  const onPort = domainsOnPort(ctx.registry, ctx.mesh.clusterDomain, port);
  const entries = services.map((s) => onPort[registryPosition(ctx.registry, s)]);
  if (entries.includes(undefined)) {
    // Services from elsewhere (or without the port) could share any domain: compare them all.
    return services.map((svc) => claimSidecarDomains(ctx, svc, port, taken));
  }
  const namespace = ctx.proxy.namespace;
  return entries.map((entry) => {
    if (!entry) return [];
    const { domains, keys, contested, bareAt } = entry;
    const bare = bareAt >= 0 && namespace !== entry.aliasNamespace ? bareAt : -1;
    if (contested.length === 0 && bare < 0) return [...domains];
    const out: string[] = [];
    let next = 0;
    for (let j = 0; j < domains.length; j++) {
      const isContested = contested[next] === j;
      if (isContested) next++;
      // Not this client's: the bare name, with and without the port.
      if (bare >= 0 && (j === bare || j === bare + 1)) continue;
      if (isContested) {
        const key = keys[j] as string;
        if (taken.has(key)) continue;
        taken.add(key);
      }
      out.push(domains[j] as string);
    }
    return out;
  });
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
