// VirtualService `tls:` routes on a sidecar's outbound TLS/HTTPS listener:
// TLS passthrough routed by SNI (server_names, read by the tls_inspector
// listener filter) and optionally destinationSubnets. Every applicable match
// becomes a filter chain, unless an earlier one already has the same runtime
// predicates (it could never be reached). Without any applicable match the
// service's own cluster gets a chain matched by its host name as SNI — needed
// when the listener sits on 0.0.0.0 and SNI is the only way to tell services
// apart; a service with its own address is matched by address instead.
import type { ServiceModel } from "../../model/services.js";
import type { IndexedVirtualService } from "../../model/traffic.js";
import type { TranslationContext } from "../context.js";
import type { ChainOpts } from "./filter-chains.js";
import { routeNetworkFilters, serviceNetworkFilters } from "./l4-destinations.js";
import { matchesProxy, usableSubnets } from "./tcp-routes.js";

export function tlsRouteChains(
  ctx: TranslationContext,
  svc: ServiceModel,
  listenPort: number,
  cidrs: readonly string[],
  sniForService: boolean,
  virtualServices: readonly IndexedVirtualService[],
): ChainOpts[] {
  const out: ChainOpts[] = [];
  const handled = new Set<string>();
  for (const vs of virtualServices) {
    for (const tls of vs.object.object.spec.tls ?? []) {
      if (!tls.route || tls.route.length === 0) continue; // reported by analyze
      for (const m of tls.match) {
        if (!matchesProxy(m, ctx, listenPort)) continue;
        // Istio takes sniHosts literally (unlike hosts and destinations, short names are not expanded).
        const sniHosts = m.sniHosts;
        const subnets = usableSubnets(m.destinationSubnets);
        const key = `${sniHosts.join(",")}|${subnets.join(",")}`;
        if (handled.has(key)) continue;
        handled.add(key);
        out.push({
          sniHosts,
          destinationCidrs: subnets.length > 0 ? subnets : cidrs,
          filters: routeNetworkFilters(ctx, tls.route, vs, listenPort),
        });
      }
    }
  }
  if (out.length === 0) {
    out.push({
      sniHosts: sniForService ? [svc.host] : [],
      destinationCidrs: cidrs,
      filters: serviceNetworkFilters(ctx, svc, listenPort),
    });
  }
  return out;
}
