// Which outbound clusters a proxy gets, and how each is built. One cluster per
// visible service port (`outbound|port||host`) plus one per DestinationRule
// subset (`outbound|port|subset|host`), each with the policy that applies to
// it (traffic-policy.ts). clusters/ builds the Cluster objects from these
// plans; endpoints/ builds the ClusterLoadAssignments of the EDS ones, so both
// always agree on which clusters exist.
//
// Cluster type by ServiceEntry resolution, as Istio: STATIC → EDS; DNS →
// STRICT_DNS; DNS_ROUND_ROBIN → LOGICAL_DNS; NONE → ORIGINAL_DST; and
// loadBalancer PASSTHROUGH → ORIGINAL_DST. DYNAMIC_DNS (Envoy's dynamic
// forward proxy) is not implemented. UDP ports get no cluster (as in Istio).
// DNS clusters whose (subset) endpoints are empty are left out, as Istio
// does; an EDS cluster is kept with an empty assignment.
//
// Proxyless gRPC accepts EDS and LOGICAL_DNS with exactly one endpoint only:
// STATIC services are EDS, DNS and DNS_ROUND_ROBIN services with one endpoint
// (or none: the host itself) are LOGICAL_DNS, everything else is left out of
// proxyless views, as are clusters that need TLS origination (tls.ts).
// Every such omission is reported once by analyze.ts.
//
// Istio mutual TLS: DestinationRule ISTIO_MUTUAL (istio-mutual.ts, both proxy
// classes) and, for sidecars, auto mTLS (auto-mtls.ts).
import type { Subset, TrafficPolicy } from "../../config/networking/destination-rule.js";
import type { ServiceEntry } from "../../config/networking/service-entry.js";
import type { Cluster } from "../../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import {
  type EndpointModel,
  endpointsMatching,
  type ServiceModel,
  type ServicePortModel,
} from "../../model/services.js";
import type { MeshSnapshot } from "../../model/snapshot.js";
import type { ProxyClass, TranslationContext } from "../context.js";
import { localityGroups, serviceLocalityGroups, toAssignment } from "../endpoints/load-assignment.js";
import { outboundClusterName } from "../names.js";
import { applySidecarMeshTls } from "./auto-mtls.js";
import { applyConnectionPool, applyH2Upgrade, applyProxylessConnectionPool } from "./connection-pool.js";
import { applyConsistentHash, applyProxylessConsistentHash } from "./consistent-hash.js";
import { dnsCluster, proxylessDnsCluster } from "./dns-cluster.js";
import { edsCluster } from "./eds-cluster.js";
import { applyProxylessIstioMutual, isIstioMutual, type MutualTlsTarget } from "./istio-mutual.js";
import { applySimpleLoadBalancer } from "./load-balancer.js";
import {
  applyLocality,
  applyLocalityToCluster,
  effectiveLocalitySetting,
  type ProxyPlacement,
  proxyPlacement,
} from "./locality.js";
import { applyOutlierDetection, applyProxylessOutlierDetection } from "./outlier.js";
import { originalDstCluster } from "./passthrough.js";
import { applyProxyProtocol } from "./proxy-protocol.js";
import { applyTls, originatesTls } from "./tls.js";
import { effectivePolicy, ruleFor, subsetsOf } from "./traffic-policy.js";
import { type ClusterDraft, finish, setHttp2, upstreamIsHttp2 } from "./upstream-protocol.js";

export type ClusterType = "EDS" | "STRICT_DNS" | "LOGICAL_DNS" | "ORIGINAL_DST";

export interface OutboundClusterPlan {
  name: string;
  service: ServiceModel;
  port: ServicePortModel;
  subset?: Subset;
  /** The merged DestinationRule policy for this cluster, if a rule applies. */
  policy: TrafficPolicy | undefined;
  type: ClusterType;
  /** The cluster's endpoints (a subset's matching ones); for DNS types, the names to resolve. Shared: read only. */
  endpoints: readonly EndpointModel[];
}

const isDns = (r: ServiceModel["resolution"]) => r === "DNS" || r === "DNS_ROUND_ROBIN";

/** The endpoints of a service; a DNS ServiceEntry without endpoints resolves its own host. */
export function serviceEndpoints(svc: ServiceModel): readonly EndpointModel[] {
  if (!isDns(svc.resolution) || svc.endpoints.length > 0 || svc.host.includes("*")) return svc.endpoints;
  return [
    {
      address: svc.host,
      ports: new Map(svc.ports.map((p) => [p.number, p.targetPort ?? p.number])),
      labels: {},
      locality: "",
      weight: 1,
      origin: svc.origin,
    },
  ];
}

/** The cluster type a service gets for a proxy class; undefined when that class cannot be served it. */
export function serviceClusterType(proxyClass: ProxyClass, svc: ServiceModel): ClusterType | undefined {
  if (svc.resolution === "STATIC") return "EDS";
  if (isDns(svc.resolution)) {
    const n = serviceEndpoints(svc).length;
    if (n === 0) return undefined;
    if (proxyClass === "proxyless-grpc") return n === 1 ? "LOGICAL_DNS" : undefined;
    return svc.resolution === "DNS" ? "STRICT_DNS" : "LOGICAL_DNS";
  }
  if (svc.resolution === "NONE") return proxyClass === "sidecar" ? "ORIGINAL_DST" : undefined;
  return undefined;
}

/** Whether the proxy gets clusters for this service at all (listeners/routes should skip the others). */
export function servesService(ctx: TranslationContext, svc: ServiceModel): boolean {
  return serviceClusterType(ctx.proxy.class, svc) !== undefined;
}

// A subset's endpoints, by service and subset: the same for every view.
const subsetEndpointsByService = new WeakMap<ServiceModel, Map<Subset, readonly EndpointModel[]>>();

/** `endpointsMatching(all, subset.labels)`, remembered per service; `all` must be `serviceEndpoints(svc)`. */
function subsetEndpoints(svc: ServiceModel, all: readonly EndpointModel[], subset: Subset): readonly EndpointModel[] {
  let bySubset = subsetEndpointsByService.get(svc);
  if (!bySubset) {
    bySubset = new Map();
    subsetEndpointsByService.set(svc, bySubset);
  }
  let found = bySubset.get(subset);
  if (!found) {
    found = Object.freeze(endpointsMatching(all, subset.labels));
    bySubset.set(subset, found);
  }
  return found;
}

// Both CDS and EDS of a view need the plans: computed once per context.
const plansByContext = new WeakMap<TranslationContext, readonly OutboundClusterPlan[]>();

export function outboundClusterPlans(ctx: TranslationContext): OutboundClusterPlan[] {
  const cached = plansByContext.get(ctx);
  if (cached) return [...cached];
  const out: OutboundClusterPlan[] = [];
  const proxyless = ctx.proxy.class === "proxyless-grpc";
  for (const svc of ctx.services) {
    const base = serviceClusterType(ctx.proxy.class, svc);
    if (!base) continue;
    const rule = ruleFor(ctx, svc)?.object.object;
    const all = serviceEndpoints(svc);
    const subsets = [undefined, ...subsetsOf(rule)];
    for (const port of svc.ports) {
      if (port.protocol === "UDP") continue;
      for (const subset of subsets) {
        const policy = effectivePolicy(rule, port.number, subset);
        const type = !proxyless && policy?.loadBalancer?.simple === "PASSTHROUGH" ? "ORIGINAL_DST" : base;
        const endpoints = subset ? subsetEndpoints(svc, all, subset) : all;
        if ((type === "STRICT_DNS" || type === "LOGICAL_DNS") && endpoints.length === 0) continue;
        if (proxyless && (originatesTls(policy?.tls) || (type === "LOGICAL_DNS" && endpoints.length !== 1))) continue;
        out.push({
          name: outboundClusterName(svc.host, port.number, subset?.name),
          service: svc,
          port,
          subset,
          policy,
          type,
          endpoints,
        });
      }
    }
  }
  plansByContext.set(ctx, out);
  return [...out];
}

/** One shared empty list, so the server identities derived from it can be remembered per service (istio-mutual.ts). */
const NO_SANS: readonly string[] = [];

// By snapshot: the lookup reads every object of the snapshot, and every view needs it.
const subjectAltNamesBySnapshot = new WeakMap<MeshSnapshot, ReadonlyMap<string, readonly string[]>>();

/** ServiceEntry subjectAltNames by service (the model does not carry them). */
function serviceSubjectAltNames(ctx: TranslationContext): (svc: ServiceModel) => readonly string[] {
  let byKey = subjectAltNamesBySnapshot.get(ctx.snapshot);
  if (!byKey) {
    const sans = new Map<string, readonly string[]>();
    for (const s of ctx.snapshot.objects) {
      if (s.object.kind !== "ServiceEntry") continue;
      const list = (s.object as ServiceEntry).spec.subjectAltNames;
      if (list?.length) sans.set(`${s.object.metadata.namespace ?? "default"}/${s.object.metadata.name}`, list);
    }
    byKey = sans;
    subjectAltNamesBySnapshot.set(ctx.snapshot, byKey);
  }
  const found = byKey;
  return (svc) => found.get(`${svc.origin.namespace ?? "default"}/${svc.origin.name}`) ?? NO_SANS;
}

function dnsAssignment(plan: OutboundClusterPlan, placement: ProxyPlacement, enableFailover: boolean) {
  const lb = plan.policy?.loadBalancer;
  if (plan.type === "LOGICAL_DNS") {
    // Exactly one name: Envoy and gRPC reject more (analyze reports the extra ones).
    const first = plan.endpoints.slice(0, 1);
    return toAssignment(plan.name, localityGroups(plan.port.number, first));
  }
  const groups = serviceLocalityGroups(plan.service, plan.port.number, plan.subset, plan.endpoints);
  return toAssignment(plan.name, applyLocality(groups, placement, effectiveLocalitySetting(lb), enableFailover));
}

function sidecarCluster(
  ctx: TranslationContext,
  plan: OutboundClusterPlan,
  placement: ProxyPlacement,
  sans: readonly string[],
): Cluster {
  const policy = plan.policy;
  const lb = policy?.loadBalancer;
  const enableFailover = policy?.outlierDetection !== undefined;
  let cluster: Cluster;
  if (plan.type === "EDS") cluster = edsCluster(plan.name);
  else if (plan.type === "ORIGINAL_DST") cluster = originalDstCluster(plan.name);
  else cluster = dnsCluster(plan.name, plan.type, dnsAssignment(plan, placement, enableFailover));
  const d: ClusterDraft = { cluster };
  if (upstreamIsHttp2(plan.port.protocol)) setHttp2(d);
  applyH2Upgrade(d, policy?.connectionPool);
  applyConnectionPool(d, policy?.connectionPool, policy?.retryBudget);
  applyOutlierDetection(cluster, policy?.outlierDetection);
  if (plan.type === "ORIGINAL_DST") {
    cluster.lb_policy = "CLUSTER_PROVIDED";
  } else {
    applySimpleLoadBalancer(cluster, lb);
    if (lb?.consistentHash) applyConsistentHash(cluster, lb.consistentHash);
    applyLocalityToCluster(cluster, effectiveLocalitySetting(lb), enableFailover);
  }
  const http2 = d.http?.explicit_http_config?.http2_protocol_options !== undefined;
  applyTls(d, policy?.tls, { http2, serviceSubjectAltNames: sans });
  applySidecarMeshTls(d, ctx, mutualTlsTarget(plan, sans), {
    service: plan.service,
    policy,
    originalDst: plan.type === "ORIGINAL_DST",
    endpoints: plan.endpoints,
  });
  applyProxyProtocol(cluster, policy?.proxyProtocol);
  return finish(d);
}

function proxylessCluster(ctx: TranslationContext, plan: OutboundClusterPlan, sans: readonly string[]): Cluster {
  const cluster =
    plan.type === "EDS"
      ? edsCluster(plan.name)
      : proxylessDnsCluster(plan.name, toAssignment(plan.name, localityGroups(plan.port.number, plan.endpoints)));
  const hash = plan.policy?.loadBalancer?.consistentHash;
  if (hash) applyProxylessConsistentHash(cluster, hash);
  applyProxylessConnectionPool(cluster, plan.policy?.connectionPool);
  applyProxylessOutlierDetection(cluster, plan.policy?.outlierDetection);
  const tls = plan.policy?.tls;
  if (tls && isIstioMutual(tls)) applyProxylessIstioMutual(cluster, ctx, mutualTlsTarget(plan, sans), tls);
  return cluster;
}

function mutualTlsTarget(plan: OutboundClusterPlan, sans: readonly string[]): MutualTlsTarget {
  return { service: plan.service, port: plan.port.number, subset: plan.subset?.name, serviceEntrySans: sans };
}

export function outboundClusters(ctx: TranslationContext): Cluster[] {
  const plans = outboundClusterPlans(ctx);
  const sansOf = serviceSubjectAltNames(ctx);
  if (ctx.proxy.class === "proxyless-grpc") return plans.map((p) => proxylessCluster(ctx, p, sansOf(p.service)));
  const placement = proxyPlacement(ctx);
  return plans.map((p) => sidecarCluster(ctx, p, placement, sansOf(p.service)));
}
