// VirtualService `tcp:` routes on a sidecar's outbound TCP listener, in
// Istio's order: the first route whose match applies to this proxy and port
// without `destinationSubnets` (or a route without matches) is the catch-all
// and ends the search; routes matching only by `destinationSubnets` become
// filter chains on those CIDRs. Without a catch-all route the service's own
// cluster takes the remaining connections.
//
// The static predicates (port, sourceLabels, sourceNamespace, gateways) are
// decided here, for this proxy; destinationSubnets is the only one Envoy
// evaluates per connection (prefix_ranges).
import { labelsMatch } from "../../model/labels.js";
import type { ServiceModel } from "../../model/services.js";
import type { IndexedVirtualService } from "../../model/traffic.js";
import type { TranslationContext } from "../context.js";
import type { ChainOpts } from "./filter-chains.js";
import { isCidr } from "./filter-chains.js";
import { routeNetworkFilters, serviceNetworkFilters } from "./l4-destinations.js";

/** The predicates of L4MatchAttributes and TLSMatchAttributes known when generating config. */
interface StaticMatch {
  port?: number;
  sourceLabels?: Record<string, string>;
  gateways?: string[];
  sourceNamespace?: string;
}

/** The predicates a tcp or tls match shares, evaluated for a sidecar (its only gateway is `mesh`). */
export function matchesProxy(m: StaticMatch, ctx: TranslationContext, listenPort: number): boolean {
  const gatewayOk = !m.gateways || m.gateways.length === 0 || m.gateways.includes("mesh");
  const labelsOk = labelsMatch(m.sourceLabels ?? {}, ctx.proxy.labels);
  const portOk = m.port === undefined || m.port === 0 || m.port === listenPort;
  const nsOk = !m.sourceNamespace || m.sourceNamespace === ctx.proxy.namespace;
  return gatewayOk && labelsOk && portOk && nsOk;
}

/** Valid `destinationSubnets` entries (malformed ones are reported by analyze and skipped). */
export function usableSubnets(subnets: readonly string[] | undefined): string[] {
  return (subnets ?? []).filter(isCidr);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const sortedB = [...b].sort();
  return [...a].sort().every((v, i) => v === sortedB[i]);
}

export function tcpRouteChains(
  ctx: TranslationContext,
  svc: ServiceModel,
  listenPort: number,
  cidrs: readonly string[],
  virtualServices: readonly IndexedVirtualService[],
): ChainOpts[] {
  const out: ChainOpts[] = [];
  let catchAll = false;
  search: for (const vs of virtualServices) {
    for (const tcp of vs.object.object.spec.tcp ?? []) {
      if (!tcp.route || tcp.route.length === 0) continue; // reported by analyze
      if (!tcp.match || tcp.match.length === 0) {
        out.push({ destinationCidrs: cidrs, filters: routeNetworkFilters(ctx, tcp.route, vs, listenPort) });
        catchAll = true;
        break search;
      }
      const subnets: string[] = [];
      for (const m of tcp.match) {
        if (!matchesProxy(m, ctx, listenPort)) continue;
        const own = usableSubnets(m.destinationSubnets);
        if (!m.destinationSubnets?.length) {
          out.push({ destinationCidrs: cidrs, filters: routeNetworkFilters(ctx, tcp.route, vs, listenPort) });
          catchAll = true;
          break search;
        }
        subnets.push(...own);
      }
      if (subnets.length > 0) {
        out.push({ destinationCidrs: subnets, filters: routeNetworkFilters(ctx, tcp.route, vs, listenPort) });
        // Same CIDRs as the service's own chain would have: that chain would be a duplicate match.
        if (sameSet(subnets, cidrs)) catchAll = true;
      }
    }
  }
  if (!catchAll) out.push({ destinationCidrs: cidrs, filters: serviceNetworkFilters(ctx, svc, listenPort) });
  return out;
}
