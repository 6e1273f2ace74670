// DestinationRule `loadBalancer.simple` (and warmup) → the cluster's lb_policy.
// `consistentHash` is consistent-hash.ts; `localityLbSetting` is locality.ts.
//
// Sidecars: Istio's default when `simple` is unset is LEAST_REQUEST (since
// 1.14); LEAST_CONN is Istio's deprecated name for it; PASSTHROUGH turns the
// cluster into ORIGINAL_DST (decided when the cluster's type is chosen, see
// outbound.ts). Warmup (slow start) applies to ROUND_ROBIN and LEAST_REQUEST.
//
// Proxyless gRPC: only ROUND_ROBIN and RING_HASH exist; everything else is
// served as ROUND_ROBIN (reported by analyze.ts).
import type { LoadBalancerSettings } from "../../config/networking/destination-rule.js";
import type { Cluster } from "../../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import { protoDuration } from "../duration.js";

type SlowStartConfig = NonNullable<NonNullable<Cluster["round_robin_lb_config"]>["slow_start_config"]>;

/**
 * Envoy requires a runtime key for the aggression value; like Istio, use one
 * that is not a valid runtime path, so the configured default always applies.
 */
const UNSET_RUNTIME_KEY = "(";

function slowStart(lb: LoadBalancerSettings): SlowStartConfig | undefined {
  if (lb.warmup) {
    return {
      slow_start_window: protoDuration(lb.warmup.duration),
      aggression: { default_value: lb.warmup.aggression ?? 1, runtime_key: UNSET_RUNTIME_KEY },
      min_weight_percent: { value: lb.warmup.minimumPercent ?? 10 },
    };
  }
  if (lb.warmupDurationSecs) return { slow_start_window: protoDuration(lb.warmupDurationSecs) };
  return undefined;
}

function leastRequest(c: Cluster, lb: LoadBalancerSettings | undefined): void {
  c.lb_policy = "LEAST_REQUEST";
  const ss = lb && slowStart(lb);
  if (ss) c.least_request_lb_config = { slow_start_config: ss };
}

function roundRobin(c: Cluster, lb: LoadBalancerSettings): void {
  c.lb_policy = "ROUND_ROBIN";
  const ss = slowStart(lb);
  if (ss) c.round_robin_lb_config = { slow_start_config: ss };
}

/** Sidecar clusters (not ORIGINAL_DST ones, which are always CLUSTER_PROVIDED). */
export function applySimpleLoadBalancer(c: Cluster, lb: LoadBalancerSettings | undefined): void {
  switch (lb?.simple) {
    case "ROUND_ROBIN":
      roundRobin(c, lb);
      return;
    case "RANDOM":
      c.lb_policy = "RANDOM";
      return;
    default:
      // LEAST_REQUEST, LEAST_CONN, unset and UNSPECIFIED (PASSTHROUGH never gets here).
      leastRequest(c, lb);
  }
}
