// Which DestinationRule policy applies to one cluster, merged the way Istio
// merges it (pilot's MergeSubsetTrafficPolicy):
//
// 1. the rule's top-level policy, unless `portLevelSettings` has an entry for
//    the port: then that entry replaces loadBalancer, connectionPool,
//    outlierDetection and tls *wholesale* (a field it omits falls back to the
//    default, it is not inherited) and drops tunnel/proxyProtocol/retryBudget;
// 2. then, for a subset cluster, the subset's policy (itself resolved per port
//    the same way) overrides field by field; where the subset has a port-level
//    entry for the port, its four fields replace the merged ones even if unset.
import type {
  DestinationRule,
  PortTrafficPolicy,
  Subset,
  TrafficPolicy,
} from "../../config/networking/destination-rule.js";
import type { ServiceModel } from "../../model/services.js";
import { destinationRuleFor, type IndexedDestinationRule } from "../../model/traffic.js";
import type { TranslationContext } from "../context.js";

/** The DestinationRule a proxy uses for a service (client namespace, then service namespace, then root). */
export function ruleFor(ctx: TranslationContext, svc: ServiceModel): IndexedDestinationRule | undefined {
  return destinationRuleFor(ctx.traffic, svc.host, ctx.proxy.namespace, svc.namespace, ctx.proxy.labels);
}

// By rule: asked for every cluster and every route destination of every view.
const subsetsByRule = new WeakMap<DestinationRule, readonly Subset[]>();
const NO_SUBSETS: readonly Subset[] = [];

/** Subsets of a rule, first of each name (Istio rejects duplicates; analyze reports them). */
export function subsetsOf(rule: DestinationRule | undefined): readonly Subset[] {
  if (!rule?.spec.subsets?.length) return NO_SUBSETS;
  let out = subsetsByRule.get(rule);
  if (!out) {
    const seen = new Set<string>();
    const list: Subset[] = [];
    for (const s of rule.spec.subsets) {
      if (seen.has(s.name)) continue;
      seen.add(s.name);
      list.push(s);
    }
    out = list;
    subsetsByRule.set(rule, out);
  }
  return out;
}

function portLevel(policy: TrafficPolicy, port: number): PortTrafficPolicy | undefined {
  return policy.portLevelSettings?.find((p) => p.port?.number === port);
}

/** Step 1: the policy for one port of the destination, and whether a port-level entry decided it. */
export function policyForPort(
  policy: TrafficPolicy | undefined,
  port: number,
): { policy: TrafficPolicy | undefined; portLevel: boolean } {
  if (!policy) return { policy: undefined, portLevel: false };
  const p = portLevel(policy, port);
  if (!p) return { policy, portLevel: false };
  return {
    policy: {
      loadBalancer: p.loadBalancer,
      connectionPool: p.connectionPool,
      outlierDetection: p.outlierDetection,
      tls: p.tls,
    },
    portLevel: true,
  };
}

/** Steps 1 and 2: the effective policy of `outbound|port|subset|host`. */
export function effectivePolicy(
  rule: DestinationRule | undefined,
  port: number,
  subset?: Subset,
): TrafficPolicy | undefined {
  const top = policyForPort(rule?.spec.trafficPolicy, port).policy;
  if (!subset?.trafficPolicy) return top;
  const { policy: sub, portLevel: subPortLevel } = policyForPort(subset.trafficPolicy, port);
  if (!sub) return top;
  if (!top) return sub;
  const merged: TrafficPolicy = {
    loadBalancer: top.loadBalancer,
    connectionPool: top.connectionPool,
    outlierDetection: top.outlierDetection,
    tls: top.tls,
    tunnel: top.tunnel,
    proxyProtocol: top.proxyProtocol,
    retryBudget: top.retryBudget,
  };
  if (sub.connectionPool || subPortLevel) merged.connectionPool = sub.connectionPool;
  if (sub.outlierDetection || subPortLevel) merged.outlierDetection = sub.outlierDetection;
  if (sub.loadBalancer || subPortLevel) merged.loadBalancer = sub.loadBalancer;
  if (sub.tls || subPortLevel) merged.tls = sub.tls;
  if (sub.tunnel) merged.tunnel = sub.tunnel;
  if (sub.proxyProtocol) merged.proxyProtocol = sub.proxyProtocol;
  if (sub.retryBudget) merged.retryBudget = sub.retryBudget;
  return merged;
}
