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

/**
 * Mesh-bound VirtualServices by the hosts they name, built once per index:
 * translators ask for every visible service of every proxy view, so a scan over
 * all VirtualServices per lookup would make a view O(services²).
 */
interface VirtualServiceLookup {
  /** Position in `virtualServices`, to keep index order when candidates come from both maps. */
  position: Map<IndexedVirtualService, number>;
  /** By host, for hosts that match only themselves (no `*` or `*.suffix` pattern). */
  exact: Map<string, IndexedVirtualService[]>;
  /** Those with at least one wildcard host, in index order. */
  wildcard: IndexedVirtualService[];
  /** Results by namespace, then host. */
  memo: Map<string, Map<string, readonly IndexedVirtualService[]>>;
}

// Keyed by the list, not the index: an index copied with other VirtualServices gets its own lookup.
const virtualServiceLookups = new WeakMap<readonly IndexedVirtualService[], VirtualServiceLookup>();

/** The map under `key`, created empty when missing. */
function submap<K, V>(outer: Map<K, Map<string, V>>, key: K): Map<string, V> {
  let inner = outer.get(key);
  if (!inner) {
    inner = new Map();
    outer.set(key, inner);
  }
  return inner;
}

/** Whether `pattern` can match a host other than itself (hostMatches' wildcard forms). */
const isWildcardPattern = (pattern: string) => pattern === "*" || pattern.startsWith("*.");

function virtualServiceLookup(index: TrafficIndex): VirtualServiceLookup {
  let lookup = virtualServiceLookups.get(index.virtualServices);
  if (lookup) return lookup;
  lookup = { position: new Map(), exact: new Map(), wildcard: [], memo: new Map() };
  for (const [i, vs] of index.virtualServices.entries()) {
    if (!vs.gateways.includes("mesh")) continue;
    lookup.position.set(vs, i);
    let wildcard = false;
    for (const h of vs.hosts) {
      if (isWildcardPattern(h)) {
        wildcard = true;
        continue;
      }
      const list = lookup.exact.get(h);
      if (!list) lookup.exact.set(h, [vs]);
      else if (list[list.length - 1] !== vs) list.push(vs); // a host listed twice by one VirtualService
    }
    if (wildcard) lookup.wildcard.push(vs);
  }
  virtualServiceLookups.set(index.virtualServices, lookup);
  return lookup;
}

/** VirtualServices bound to the mesh (sidecars and proxyless clients) that apply to `host`, as seen from `namespace`. */
export function virtualServicesFor(index: TrafficIndex, host: string, namespace: string): IndexedVirtualService[] {
  const lookup = virtualServiceLookup(index);
  const memo = submap(lookup.memo, namespace);
  let found = memo.get(host);
  if (!found) {
    const exact = lookup.exact.get(host) ?? [];
    const wildcard = lookup.wildcard.filter((vs) => !exact.includes(vs));
    const candidates = wildcard.length === 0 ? exact : [...exact, ...wildcard];
    // Index order, as the scan over `virtualServices` gave.
    if (exact.length > 0 && wildcard.length > 0)
      candidates.sort((a, b) => (lookup.position.get(a) ?? 0) - (lookup.position.get(b) ?? 0));
    found = candidates.filter((vs) => visibleTo(vs.exportTo, namespace) && vs.hosts.some((h) => hostMatches(h, host)));
    memo.set(host, found);
  }
  // A copy: callers may sort or filter what they get.
  return [...found];
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
  clientLabels?: Readonly<Record<string, string>>,
): IndexedDestinationRule | undefined {
  const lookup = destinationRuleLookup(index);
  // A rule with a workloadSelector applies only to the selected workloads of its
  // own namespace, as clients, and takes precedence there over rules without one.
  if (clientLabels) {
    const selecting = lookup.selecting.get(clientNamespace);
    const own = selecting
      ? matchingRules(selecting, host).filter((dr) =>
          selects(dr.object.object.spec.workloadSelector?.matchLabels, clientLabels),
        )
      : [];
    if (own.length > 0) return mostSpecific(own, host);
  }
  // Without a selecting rule the answer depends on these three alone: remembered, as every
  // proxy view asks for every service it sees.
  const memo = submap(submap(lookup.memo, clientNamespace), serviceNamespace);
  if (memo.has(host)) return memo.get(host);
  let found: IndexedDestinationRule | undefined;
  for (const ns of [clientNamespace, serviceNamespace, index.mesh.rootNamespace]) {
    const bucket = lookup.plain.get(ns);
    const candidates = bucket
      ? matchingRules(bucket, host).filter((dr) => ns === clientNamespace || visibleTo(dr.exportTo, clientNamespace))
      : [];
    if (candidates.length > 0) {
      found = mostSpecific(candidates, host);
      break;
    }
  }
  memo.set(host, found);
  return found;
}

/** One namespace's DestinationRules, by host. */
interface RuleBucket {
  /** By host, for hosts that match only themselves. */
  exact: Map<string, IndexedDestinationRule[]>;
  /** Rules for `*` or `*.suffix`, in index order. */
  wildcard: IndexedDestinationRule[];
  position: Map<IndexedDestinationRule, number>;
}

/**
 * DestinationRules by namespace and host, built once per index: every proxy
 * view looks one up per visible service (clusters, endpoints, routes,
 * listeners), so a scan over all rules per lookup would make a view
 * O(services²).
 */
interface DestinationRuleLookup {
  /** Rules with a workloadSelector, by namespace. */
  selecting: Map<string, RuleBucket>;
  /** Rules without one, by namespace. */
  plain: Map<string, RuleBucket>;
  /** Results without a selecting rule, by client namespace, service namespace and host. */
  memo: Map<string, Map<string, Map<string, IndexedDestinationRule | undefined>>>;
}

// Keyed by the list, not the index: an index copied with other rules gets its own lookup.
const destinationRuleLookups = new WeakMap<readonly IndexedDestinationRule[], DestinationRuleLookup>();

function destinationRuleLookup(index: TrafficIndex): DestinationRuleLookup {
  let lookup = destinationRuleLookups.get(index.destinationRules);
  if (lookup) return lookup;
  lookup = { selecting: new Map(), plain: new Map(), memo: new Map() };
  for (const [i, dr] of index.destinationRules.entries()) {
    const byNamespace = dr.object.object.spec.workloadSelector ? lookup.selecting : lookup.plain;
    let bucket = byNamespace.get(dr.namespace);
    if (!bucket) {
      bucket = { exact: new Map(), wildcard: [], position: new Map() };
      byNamespace.set(dr.namespace, bucket);
    }
    bucket.position.set(dr, i);
    if (isWildcardPattern(dr.host)) bucket.wildcard.push(dr);
    else {
      const list = bucket.exact.get(dr.host);
      if (list) list.push(dr);
      else bucket.exact.set(dr.host, [dr]);
    }
  }
  destinationRuleLookups.set(index.destinationRules, lookup);
  return lookup;
}

/** The rules of a bucket whose host matches `host`, in index order. */
function matchingRules(bucket: RuleBucket, host: string): IndexedDestinationRule[] {
  const exact = bucket.exact.get(host) ?? [];
  const wildcard = bucket.wildcard.filter((dr) => hostMatches(dr.host, host));
  if (wildcard.length === 0) return exact;
  if (exact.length === 0) return wildcard;
  return [...exact, ...wildcard].sort((a, b) => (bucket.position.get(a) ?? 0) - (bucket.position.get(b) ?? 0));
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

function selects(selector: Record<string, string> | undefined, labels: Readonly<Record<string, string>>): boolean {
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
