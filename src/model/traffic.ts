// Indexes of the traffic-management kinds, with Istio's lookup rules: which
// VirtualServices apply to a host, which DestinationRule a client uses for a
// host, which Sidecar scopes a workload. Pure; no Envoy types.
import type { MeshConfig } from "../config/mesh-config.js";
import type { DestinationRule } from "../config/networking/destination-rule.js";
import type { Sidecar } from "../config/networking/sidecar.js";
import type { VirtualService } from "../config/networking/virtual-service.js";
import { hostMatches, resolveHost } from "./hosts.js";
import { labelsMatch } from "./labels.js";
import { type MeshSnapshot, objectsOfKind, type SourcedObject } from "./snapshot.js";

export interface IndexedVirtualService {
  object: SourcedObject<VirtualService>;
  namespace: string;
  /** `spec.hosts`, short names resolved against the VirtualService's namespace. */
  hosts: string[];
  /** Resolved `spec.gateways`; `["mesh"]` when unset. */
  gateways: string[];
  exportTo: string[];
}

export interface IndexedDestinationRule {
  object: SourcedObject<DestinationRule>;
  namespace: string;
  host: string;
  exportTo: string[];
}

export interface TrafficIndex {
  mesh: MeshConfig;
  /** VirtualServices with hosts, in creation order (here: namespace/name order). */
  virtualServices: IndexedVirtualService[];
  /** VirtualServices without hosts: delegates, referenced by name. */
  delegates: Map<string, IndexedVirtualService>;
  destinationRules: IndexedDestinationRule[];
  sidecars: SourcedObject<Sidecar>[];
}

const byNamespaceName = <T extends SourcedObject>(a: T, b: T) =>
  `${a.object.metadata.namespace}/${a.object.metadata.name}`.localeCompare(
    `${b.object.metadata.namespace}/${b.object.metadata.name}`,
  );

function exportList(exportTo: string[] | undefined, namespace: string): string[] {
  return (exportTo ?? ["*"]).map((e) => (e === "." ? namespace : e));
}

export function buildTrafficIndex(snapshot: MeshSnapshot, mesh: MeshConfig): TrafficIndex {
  const virtualServices: IndexedVirtualService[] = [];
  const delegates = new Map<string, IndexedVirtualService>();
  for (const vs of objectsOfKind<VirtualService>(snapshot, "VirtualService").sort(byNamespaceName)) {
    const namespace = vs.object.metadata.namespace ?? "default";
    const spec = vs.object.spec;
    const entry: IndexedVirtualService = {
      object: vs,
      namespace,
      hosts: (spec.hosts ?? []).map((h) => resolveHost(h, namespace, mesh.clusterDomain)),
      gateways: spec.gateways && spec.gateways.length > 0 ? spec.gateways : ["mesh"],
      exportTo: exportList(spec.exportTo, namespace),
    };
    if (entry.hosts.length === 0) delegates.set(`${namespace}/${vs.object.metadata.name}`, entry);
    else virtualServices.push(entry);
  }
  const destinationRules = objectsOfKind<DestinationRule>(snapshot, "DestinationRule")
    .sort(byNamespaceName)
    .map((dr) => {
      const namespace = dr.object.metadata.namespace ?? "default";
      return {
        object: dr,
        namespace,
        host: resolveHost(dr.object.spec.host, namespace, mesh.clusterDomain),
        exportTo: exportList(dr.object.spec.exportTo, namespace),
      };
    });
  const sidecars = objectsOfKind<Sidecar>(snapshot, "Sidecar").sort(byNamespaceName);
  return { mesh, virtualServices, delegates, destinationRules, sidecars };
}

function visibleTo(exportTo: string[], namespace: string): boolean {
  return exportTo.includes("*") || exportTo.includes(namespace);
}

/** VirtualServices bound to the mesh (sidecars and proxyless clients) that apply to `host`, as seen from `namespace`. */
export function virtualServicesFor(index: TrafficIndex, host: string, namespace: string): IndexedVirtualService[] {
  return index.virtualServices.filter(
    (vs) =>
      vs.gateways.includes("mesh") && visibleTo(vs.exportTo, namespace) && vs.hosts.some((h) => hostMatches(h, host)),
  );
}

/** How specific a host pattern is: exact beats `*.long.suffix` beats `*.suffix` beats `*`. */
function specificity(pattern: string, host: string): number {
  if (pattern === host) return Number.MAX_SAFE_INTEGER;
  return pattern.length;
}

/**
 * The DestinationRule a client in `clientNamespace` uses for `host` (declared in
 * `serviceNamespace`). Istio's order: a rule in the client's namespace, then in
 * the service's namespace, then in the root namespace; within one namespace the
 * most specific host wins. Only rules exported to the client are considered.
 * Several rules for the same host in that namespace are merged as Istio merges
 * them: the first (here: by name) keeps its traffic policy (a later one's is
 * used only if the first has none), and subsets are added in order, a name
 * already defined being skipped.
 */
export function destinationRuleFor(
  index: TrafficIndex,
  host: string,
  clientNamespace: string,
  serviceNamespace: string,
  clientLabels?: Record<string, string>,
): IndexedDestinationRule | undefined {
  // A rule with a workloadSelector applies only to the selected workloads of its
  // own namespace, as clients, and takes precedence there over rules without one.
  if (clientLabels) {
    const own = index.destinationRules.filter(
      (dr) =>
        dr.namespace === clientNamespace &&
        selects(dr.object.object.spec.workloadSelector?.matchLabels, clientLabels) &&
        hostMatches(dr.host, host),
    );
    if (own.length > 0) return mostSpecific(own, host);
  }
  for (const ns of [clientNamespace, serviceNamespace, index.mesh.rootNamespace]) {
    const candidates = index.destinationRules.filter(
      (dr) =>
        dr.namespace === ns &&
        !dr.object.object.spec.workloadSelector &&
        hostMatches(dr.host, host) &&
        (ns === clientNamespace || visibleTo(dr.exportTo, clientNamespace)),
    );
    if (candidates.length > 0) return mostSpecific(candidates, host);
  }
  return undefined;
}

function mostSpecific(candidates: IndexedDestinationRule[], host: string): IndexedDestinationRule | undefined {
  {
    const best = Math.max(...candidates.map((dr) => specificity(dr.host, host)));
    const same = candidates.filter((dr) => specificity(dr.host, host) === best);
    return same.length === 1 ? same[0] : mergeRules(same);
  }
}

function mergeRules(rules: IndexedDestinationRule[]): IndexedDestinationRule {
  const [first, ...rest] = rules as [IndexedDestinationRule, ...IndexedDestinationRule[]];
  const spec = { ...first.object.object.spec, subsets: [...(first.object.object.spec.subsets ?? [])] };
  for (const r of rest) {
    const other = r.object.object.spec;
    if (!spec.trafficPolicy && other.trafficPolicy) spec.trafficPolicy = other.trafficPolicy;
    for (const subset of other.subsets ?? []) {
      if (!spec.subsets.some((s) => s.name === subset.name)) spec.subsets.push(subset);
    }
  }
  return { ...first, object: { ...first.object, object: { ...first.object.object, spec } } };
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  return !!selector && labelsMatch(selector, labels);
}

/**
 * The Sidecar scoping a workload: one in its namespace whose workloadSelector
 * matches its labels, else its namespace's Sidecar without a selector, else the
 * root namespace's Sidecar without a selector.
 */
export function sidecarFor(
  index: TrafficIndex,
  namespace: string,
  labels: Record<string, string>,
): SourcedObject<Sidecar> | undefined {
  const inNs = index.sidecars.filter((s) => (s.object.metadata.namespace ?? "default") === namespace);
  return (
    inNs.find((s) => selects(s.object.spec.workloadSelector?.labels, labels)) ??
    inNs.find((s) => !s.object.spec.workloadSelector) ??
    index.sidecars.find(
      (s) => (s.object.metadata.namespace ?? "default") === index.mesh.rootNamespace && !s.object.spec.workloadSelector,
    )
  );
}
