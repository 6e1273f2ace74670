// What a translator sees: the snapshot-level inputs (shared by every proxy)
// and the proxy being translated for. Translators are pure functions of a
// TranslationContext.
import type { MeshConfig } from "../config/mesh-config.js";
import type { Sidecar } from "../config/networking/sidecar.js";
import { resolveHost } from "../model/hosts.js";
import type { ServiceModel, ServiceRegistry } from "../model/services.js";
import type { MeshSnapshot, SourcedObject } from "../model/snapshot.js";
import { sidecarFor, type TrafficIndex } from "../model/traffic.js";
import { type EgressHost, egressImports, egressImportsVirtualService, parseEgressHosts } from "./egress.js";
import type { PeerAuthenticationIndex } from "./security/peer-authentication.js";

/**
 * Which generator a proxy gets. Proxyless gRPC clients get API listeners;
 * Envoy sidecars get the capture listeners (15001 outbound, 15006 inbound).
 */
export type ProxyClass = "proxyless-grpc" | "sidecar";

/** The proxy as translation needs it (from its node metadata; no xDS types). */
export interface ProxyTarget {
  class: ProxyClass;
  /** The workload's namespace (node metadata NAMESPACE, or parsed from an Istio-style node id). */
  namespace: string;
  /** The workload's labels (node metadata LABELS). */
  labels: Readonly<Record<string, string>>;
  /** Where the proxy runs, `region/zone/subzone` (node.locality); empty when unknown. */
  locality?: string;
}

/** Built once per snapshot, shared by every proxy. */
export interface TranslationInputs {
  snapshot: MeshSnapshot;
  mesh: MeshConfig;
  registry: ServiceRegistry;
  traffic: TrafficIndex;
  /** PeerAuthentications by level (security/peer-authentication.ts). */
  peerAuthentication: PeerAuthenticationIndex;
}

export interface TranslationContext extends TranslationInputs {
  proxy: ProxyTarget;
  /** The Sidecar resource scoping this proxy, if any. */
  sidecar: SourcedObject<Sidecar> | undefined;
  /**
   * Services this proxy can see: exported to its namespace and allowed by its
   * Sidecar's egress hosts, one per host (a host declared in several namespaces
   * is taken from the proxy's own namespace if declared there, else from the
   * first visible declaration), so no two resources share a name.
   */
  services: readonly ServiceModel[];
}

export function buildContext(inputs: TranslationInputs, proxy: ProxyTarget): TranslationContext {
  const sidecar =
    proxy.class === "sidecar" ? sidecarFor(inputs.traffic, proxy.namespace, { ...proxy.labels }) : undefined;
  return { ...inputs, proxy, sidecar, services: visibleServices(inputs, proxy.namespace, sidecar) };
}

/**
 * The services a proxy in `namespace` scoped by `sidecar` sees. It depends on
 * nothing else, and every layer of every proxy asks: computed once per
 * (snapshot, namespace, Sidecar).
 */
const visibleCache = new WeakMap<TranslationInputs, Map<string, readonly ServiceModel[]>>();

function visibleServices(
  inputs: TranslationInputs,
  namespace: string,
  sidecar: SourcedObject<Sidecar> | undefined,
): readonly ServiceModel[] {
  let byScope = visibleCache.get(inputs);
  if (!byScope) {
    byScope = new Map();
    visibleCache.set(inputs, byScope);
  }
  const scope = `${namespace}|${sidecar ? `${sidecar.object.metadata.namespace ?? "default"}/${sidecar.object.metadata.name}` : ""}`;
  const cached = byScope.get(scope);
  if (cached) return cached;
  const egress = sidecar?.object.spec.egress;
  const imports = egress
    ? parseEgressHosts(
        egress.flatMap((e) => e.hosts),
        namespace,
      )
    : undefined;
  const exported = (svc: ServiceModel) =>
    svc.namespace === namespace || svc.exportTo.includes("*") || svc.exportTo.includes(namespace);
  // Istio also imports the destinations of every VirtualService the Sidecar
  // imports, so a route never points at a cluster the proxy does not have.
  const destinations = imports ? importedDestinations(inputs, imports, namespace) : undefined;
  const visible = inputs.registry.services.filter(
    (svc) =>
      exported(svc) &&
      (!imports || egressImports(imports, svc.namespace, svc.host) || destinations?.has(svc.host) === true),
  );
  const chosen = new Map<string, ServiceModel>();
  for (const svc of visible) {
    const prev = chosen.get(svc.host);
    if (!prev || (prev.namespace !== namespace && svc.namespace === namespace)) chosen.set(svc.host, svc);
  }
  const services = visible.filter((s) => chosen.get(s.host) === s);
  byScope.set(scope, services);
  return services;
}

/** Hosts named as destinations by the mesh-bound VirtualServices that `imports` brings into a proxy's scope. */
function importedDestinations(inputs: TranslationInputs, imports: EgressHost[], proxyNamespace: string): Set<string> {
  const out = new Set<string>();
  for (const vs of inputs.traffic.virtualServices) {
    if (!vs.gateways.includes("mesh") || !egressImportsVirtualService(imports, vs)) continue;
    if (!(vs.exportTo.includes("*") || vs.exportTo.includes(proxyNamespace))) continue;
    const spec = vs.object.object.spec;
    const routes = [...(spec.http ?? []), ...(spec.tcp ?? []), ...(spec.tls ?? [])];
    for (const r of routes) {
      for (const d of r.route ?? []) out.add(resolveHost(d.destination.host, vs.namespace, inputs.mesh.clusterDomain));
    }
    for (const r of spec.http ?? []) {
      for (const m of [r.mirror, ...(r.mirrors ?? []).map((x) => x.destination)]) {
        if (m) out.add(resolveHost(m.host, vs.namespace, inputs.mesh.clusterDomain));
      }
    }
  }
  return out;
}

/**
 * What a proxy's generated configuration depends on beyond the snapshot: proxies
 * with the same key get the very same resources (generated and encoded once).
 */
export function viewKey(proxy: ProxyTarget): string {
  const labels = Object.keys(proxy.labels)
    .sort()
    .map((k) => `${k}=${proxy.labels[k]}`)
    .join(",");
  return `${proxy.class}|${proxy.namespace}|${proxy.locality ?? ""}|${labels}`;
}
