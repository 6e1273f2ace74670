// Where a tcp or tls route sends a connection: the cluster of each
// destination (Istio's rule for the port: the destination's port, else the
// service's only port, else the listener port) and the tcp_proxy that spreads
// connections over weighted destinations. A DestinationRule's TCP settings that
// Istio applies on the listener side (idle timeout, maximum connection
// duration, source-IP hashing) go into the tcp_proxy.
import type { Destination, RouteDestination } from "../../config/networking/virtual-service.js";
import type { Filter } from "../../envoy/generated/envoy/config/listener/v3/Filter.js";
import { resolveHost } from "../../model/hosts.js";
import { lookupService, type ServiceModel } from "../../model/services.js";
import { destinationRuleFor, type IndexedVirtualService } from "../../model/traffic.js";
import type { TranslationContext } from "../context.js";
import { protoDuration } from "../duration.js";
import { outboundClusterName } from "../names.js";
import { type TcpProxyOptions, tcpProxyFilter, type WeightedCluster } from "./network-filters.js";

export function destinationHost(ctx: TranslationContext, d: Destination, vsNamespace: string): string {
  return resolveHost(d.host, vsNamespace, ctx.mesh.clusterDomain);
}

export function destinationCluster(
  ctx: TranslationContext,
  d: Destination,
  vsNamespace: string,
  listenPort: number,
): string {
  const host = destinationHost(ctx, d, vsNamespace);
  const svc = lookupService(ctx.registry, host, ctx.proxy.namespace);
  const only = svc?.ports.length === 1 ? svc.ports[0]?.number : undefined;
  return outboundClusterName(host, d.port?.number ?? only ?? listenPort, d.subset ?? "");
}

/** The DestinationRule settings Istio puts on the tcp_proxy (top-level traffic policy; subset load balancer for hashing). */
export function tcpProxyOptions(ctx: TranslationContext, host: string, subset: string | undefined): TcpProxyOptions {
  const svc: ServiceModel | undefined = lookupService(ctx.registry, host, ctx.proxy.namespace);
  const dr = destinationRuleFor(
    ctx.traffic,
    host,
    ctx.proxy.namespace,
    svc?.namespace ?? ctx.proxy.namespace,
    ctx.proxy.labels,
  );
  const policy = dr?.object.object.spec.trafficPolicy;
  const out: TcpProxyOptions = {};
  const tcp = policy?.connectionPool?.tcp;
  if (tcp?.idleTimeout) out.idle_timeout = protoDuration(tcp.idleTimeout);
  if (tcp?.maxConnectionDuration) out.max_downstream_connection_duration = protoDuration(tcp.maxConnectionDuration);
  let sourceIp = policy?.loadBalancer?.consistentHash?.useSourceIp ?? false;
  const subsetLb = dr?.object.object.spec.subsets?.find((s) => s.name === subset)?.trafficPolicy?.loadBalancer;
  if (subsetLb) sourceIp = subsetLb.consistentHash?.useSourceIp ?? false;
  if (sourceIp) out.hash_policy = [{ source_ip: {} }];
  return out;
}

/**
 * The tcp_proxy for a route's destinations. Destinations of weight 0 get no
 * connections (Envoy refuses zero weights); several destinations without any
 * weight send everything to the first (reported by analyze).
 */
export function routeNetworkFilters(
  ctx: TranslationContext,
  route: readonly RouteDestination[],
  vs: IndexedVirtualService,
  listenPort: number,
): Filter[] {
  const weighted = route.filter((r) => (r.weight ?? 0) > 0);
  const first =
    route.length === 1 || weighted.length === 0 ? route[0] : weighted.length === 1 ? weighted[0] : undefined;
  if (first) {
    const cluster = destinationCluster(ctx, first.destination, vs.namespace, listenPort);
    const host = destinationHost(ctx, first.destination, vs.namespace);
    return [tcpProxyFilter(cluster, cluster, tcpProxyOptions(ctx, host, first.destination.subset))];
  }
  const clusters: WeightedCluster[] = weighted.map((r) => ({
    name: destinationCluster(ctx, r.destination, vs.namespace, listenPort),
    weight: r.weight ?? 0,
  }));
  const lead = weighted[0]?.destination;
  const options = lead ? tcpProxyOptions(ctx, destinationHost(ctx, lead, vs.namespace), undefined) : {};
  const { name, namespace } = vs.object.object.metadata;
  return [tcpProxyFilter(`${name}.${namespace ?? vs.namespace}`, clusters, options)];
}

/** The tcp_proxy to a service's own cluster (no VirtualService route applies). */
export function serviceNetworkFilters(ctx: TranslationContext, svc: ServiceModel, listenPort: number): Filter[] {
  const port = svc.ports.length === 1 ? (svc.ports[0]?.number ?? listenPort) : listenPort;
  const cluster = outboundClusterName(svc.host, port);
  return [tcpProxyFilter(cluster, cluster, tcpProxyOptions(ctx, svc.host, undefined))];
}
