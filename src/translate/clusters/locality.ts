// Locality load balancing (DestinationRule `localityLbSetting`), as Istio does
// it: the endpoints a proxy sees are reweighed (`distribute`) or put into
// priorities relative to the proxy's own locality (`failover`,
// `failoverPriority`, or the default region → zone → subzone failover).
//
// - Istio's mesh default is `localityLbSetting.enabled: true`, so failover
//   priorities apply to every destination with outlier detection, even
//   without a localityLbSetting in the rule.
// - Failover needs outlier detection: without it Envoy never marks a host
//   unhealthy and never drops to a lower priority, so Istio (and Trellis)
//   apply priorities only when the merged policy has outlierDetection.
// - Priorities are contiguous from 0 (Envoy and gRPC both require it).
//
// The result depends on the proxy's locality and labels, so it is applied to
// the ClusterLoadAssignment of each view (endpoints/) and to the inline load
// assignment of DNS clusters.
import type { LoadBalancerSettings, LocalityLoadBalancerSetting } from "../../config/networking/destination-rule.js";
import type { Cluster } from "../../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import type { TranslationContext } from "../context.js";
import { type LocalityGroup, memberLabels, parseLocality, topologyLabels } from "../endpoints/load-assignment.js";
import { MESH_LOCALITY_LB_ENABLED } from "./defaults.js";

/** Where the proxy runs, as locality load balancing needs it. */
export interface ProxyPlacement {
  /** `region/zone/subzone`; empty when the proxy did not say. */
  locality: string;
  /** The proxy's labels plus its topology labels, matched by failoverPriority. */
  labels: Readonly<Record<string, string>>;
}

/** The proxy's locality and its labels, with the topology labels its locality implies. */
export function proxyPlacement(ctx: TranslationContext): ProxyPlacement {
  const locality = ctx.proxy.locality ?? "";
  return { locality, labels: { ...ctx.proxy.labels, ...topologyLabels(locality) } };
}

/** The locality setting in effect: the rule's, else the mesh default; undefined when disabled. */
export function effectiveLocalitySetting(
  lb: LoadBalancerSettings | undefined,
): LocalityLoadBalancerSetting | undefined {
  const own = lb?.localityLbSetting;
  if (own) return own.enabled === false ? undefined : own;
  return MESH_LOCALITY_LB_ENABLED ? { enabled: true } : undefined;
}

/**
 * Envoy weighs localities only with `locality_weighted_lb_config`; Istio turns
 * it on for `distribute`, and for explicit failover settings when failover is
 * active (it would otherwise skew LEAST_REQUEST and friends).
 */
export function applyLocalityToCluster(
  cluster: Cluster,
  setting: LocalityLoadBalancerSetting | undefined,
  enableFailover: boolean,
): void {
  if (!setting) return;
  const explicitFailover = setting.failover !== undefined || setting.failoverPriority !== undefined;
  if (setting.distribute !== undefined || (enableFailover && explicitFailover)) {
    cluster.common_lb_config = { ...cluster.common_lb_config, locality_weighted_lb_config: {} };
  }
}

/** Istio's LocalityMatch: `region/zone/subzone` pattern, `*` or a missing part matches anything. */
export function localityMatches(locality: string, pattern: string): boolean {
  const l = parseLocality(locality);
  const [region = "", zone = "", subZone = ""] = pattern.split("/");
  const part = (want: string, have: string, optional: boolean) =>
    want === "*" || (optional && want === "") || want === have;
  return part(region, l.region, false) && part(zone, l.zone, true) && part(subZone, l.subZone, true);
}

/** 0: same subzone, 1: same zone, 2: same region, 3: elsewhere. */
function localityPriority(proxy: string, endpoint: string): number {
  const p = parseLocality(proxy);
  const e = parseLocality(endpoint);
  if (p.region !== e.region) return 3;
  if (p.zone !== e.zone) return 2;
  return p.subZone === e.subZone ? 0 : 1;
}

/** Renumbers priorities to 0..N-1 keeping their order (neither Envoy nor gRPC allow gaps). */
function compact(groups: readonly LocalityGroup[]): LocalityGroup[] {
  return withPriorities(
    groups,
    groups.map((g) => g.priority),
  );
}

/**
 * The groups with `priorities[i]` for group i, renumbered to 0..N-1 keeping
 * their order: what compact gives for the groups with those priorities, with
 * one copy of each group instead of two (every view's EDS runs it per cluster).
 */
function withPriorities(groups: readonly LocalityGroup[], priorities: readonly number[]): LocalityGroup[] {
  // The distinct priorities in ascending order (insertion: there are a handful).
  const order: number[] = [];
  for (const p of priorities) {
    if (order.includes(p)) continue;
    let at = order.length;
    order.push(p);
    for (; at > 0 && (order[at - 1] as number) > p; at--) order[at] = order[at - 1] as number;
    order[at] = p;
  }
  return groups.map((g, i) => ({ ...g, priority: order.indexOf(priorities[i] as number) }));
}

/**
 * `distribute`: the first rule whose `from` matches the proxy sets the weight
 * of each matching locality group (shared in proportion to their weights when a
 * pattern matches several) and drops the groups no `to` entry names.
 */
function distribute(
  groups: readonly LocalityGroup[],
  proxyLocality: string,
  rules: NonNullable<LocalityLoadBalancerSetting["distribute"]>,
): readonly LocalityGroup[] {
  const rule = rules.find((r) => localityMatches(proxyLocality, r.from ?? ""));
  if (!rule) return groups;
  const weights = new Map<LocalityGroup, number>();
  for (const [pattern, weight] of Object.entries(rule.to ?? {})) {
    const matched = groups.filter((g) => !weights.has(g) && localityMatches(g.locality, pattern));
    const total = matched.reduce((s, g) => s + g.weight, 0);
    for (const g of matched) weights.set(g, total > 0 ? Math.ceil((g.weight * weight) / total) : 0);
  }
  return groups.filter((g) => (weights.get(g) ?? 0) > 0).map((g) => ({ ...g, weight: weights.get(g) ?? g.weight }));
}

/** Region/zone/subzone failover relative to the proxy; `failover` entries pick the next region. */
function failover(
  groups: readonly LocalityGroup[],
  proxyLocality: string,
  rules: NonNullable<LocalityLoadBalancerSetting["failover"]>,
): LocalityGroup[] {
  const proxyRegion = parseLocality(proxyLocality).region;
  const rule = rules.find((f) => f.from === proxyRegion);
  return withPriorities(
    groups,
    groups.map((g) => {
      let p = localityPriority(proxyLocality, g.locality);
      // Another region: the one `failover` names comes first, every other one after it.
      if (p === 3 && rule && parseLocality(g.locality).region !== rule.to) p = 4;
      // Five slots per priority keep an earlier failoverPriority split in order.
      return g.priority * 5 + p;
    }),
  );
}

/**
 * `failoverPriority`: endpoints whose labels match the proxy's on all the
 * listed labels come first, then those matching all but the last, and so on.
 * A `label=value` entry compares endpoints against that value instead of the
 * proxy's. A leading `topology.istio.io/network` mismatch only demotes the
 * endpoint below all same-network ones (Istio's rule).
 */
function failoverPriority(
  groups: readonly LocalityGroup[],
  proxyLabels: Readonly<Record<string, string>>,
  entries: string[],
) {
  const lowest = entries.length;
  const parsed = entries.map((e) => {
    const eq = e.indexOf("=");
    return eq < 0 ? { label: e, value: proxyLabels[e] } : { label: e.slice(0, eq), value: e.slice(eq + 1) };
  });
  const includesNetwork = parsed[0]?.label === "topology.istio.io/network";
  const out: LocalityGroup[] = [];
  for (const g of groups) {
    const byPriority = new Map<number, LocalityGroup["members"]>();
    for (const m of g.members) {
      const labels = memberLabels(m);
      let priority = 0;
      let adjust = 0;
      for (const [j, { label, value }] of parsed.entries()) {
        if (value === labels[label]) continue;
        if (j === 0 && includesNetwork) {
          adjust = lowest;
          continue;
        }
        priority = lowest - j;
        break;
      }
      priority += adjust;
      const list = byPriority.get(priority);
      if (list) list.push(m);
      else byPriority.set(priority, [m]);
    }
    for (const p of [...byPriority.keys()].sort((a, b) => a - b)) {
      const members = byPriority.get(p) ?? [];
      out.push({ ...g, priority: p, members, weight: members.reduce((s, m) => s + m.weight, 0) });
    }
  }
  return compact(out);
}

/** The locality groups a proxy at `placement` gets under `setting`. */
export function applyLocality(
  groups: readonly LocalityGroup[],
  placement: ProxyPlacement,
  setting: LocalityLoadBalancerSetting | undefined,
  enableFailover: boolean,
): readonly LocalityGroup[] {
  if (!setting || groups.length === 0) return groups;
  if (setting.distribute !== undefined) return distribute(groups, placement.locality, setting.distribute);
  if (!enableFailover) return groups;
  if (setting.failoverPriority && setting.failoverPriority.length > 0) {
    let out = groups;
    // Istio skips label priorities for a proxy without labels.
    if (Object.keys(placement.labels).length > 0)
      out = failoverPriority(out, placement.labels, setting.failoverPriority);
    if (setting.failover && setting.failover.length > 0) out = failover(out, placement.locality, setting.failover);
    return out;
  }
  return failover(groups, placement.locality, setting.failover ?? []);
}
