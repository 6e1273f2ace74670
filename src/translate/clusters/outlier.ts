// DestinationRule `outlierDetection` → the cluster's outlier_detection.
//
// Sidecars get Istio's mapping (pilot's applyOutlierDetection): success-rate
// ejection off; consecutive5xxErrors and consecutiveGatewayErrors each with
// 100% enforcement (0 turns that detector off); interval, baseEjectionTime,
// maxEjectionPercent as given; local-origin errors split out when asked; and
// the panic threshold set to minHealthPercent (default 0: never send to
// ejected hosts).
//
// The deprecated `consecutiveErrors` (its API text: "a 502, 503, or 504
// return code qualifies as an error") is honoured as Istio 1.1–1.6 did when it
// is the only threshold given: consecutive gateway failures at 100%
// enforcement, consecutive-5xx ejection off. Istio 1.7+ ignores it with a
// validation warning, which would silently drop the user's threshold; where
// a replacement field is also set, Trellis ignores it too (and reports it).
//
// Proxyless gRPC (gRFC A50) implements only success-rate and
// failure-percentage ejection, counting any non-OK RPC as a failure. The
// consecutive-error threshold N becomes failure-percentage ejection: within
// one interval, an endpoint that served at least N RPCs of which more than
// 99% failed is ejected (an endpoint that failed N times in a row and never
// succeeded qualifies; one that fails intermittently does not), with no
// minimum host count, as consecutive-error detection has none.
import type { OutlierDetection } from "../../config/networking/destination-rule.js";
import type { Cluster } from "../../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import { sharedDuration } from "../duration.js";

type Outlier = NonNullable<Cluster["outlier_detection"]>;

/** Istio's deprecated field applies only when neither replacement is given. */
export function usesDeprecatedConsecutiveErrors(o: OutlierDetection): boolean {
  return (
    o.consecutiveErrors !== undefined &&
    o.consecutiveErrors > 0 &&
    o.consecutive5xxErrors === undefined &&
    o.consecutiveGatewayErrors === undefined
  );
}

function common(o: OutlierDetection, out: Outlier): void {
  if (o.interval) out.interval = sharedDuration(o.interval);
  if (o.baseEjectionTime) out.base_ejection_time = sharedDuration(o.baseEjectionTime);
  if (o.maxEjectionPercent && o.maxEjectionPercent > 0) out.max_ejection_percent = { value: o.maxEjectionPercent };
}

// By setting: every cluster of a rule (per port and subset, in every view)
// has the same one. Shared: nothing writes to it once built.
const sidecarOutliers = new WeakMap<OutlierDetection, { out: Outlier; panic: { value: number } | undefined }>();

export function applyOutlierDetection(c: Cluster, o: OutlierDetection | undefined): void {
  if (!o) return;
  let found = sidecarOutliers.get(o);
  if (!found) {
    const minHealth = o.minHealthPercent ?? 0;
    found = { out: sidecarOutlier(o), panic: minHealth >= 0 ? { value: minHealth } : undefined };
    sidecarOutliers.set(o, found);
  }
  c.outlier_detection = found.out;
  if (found.panic) c.common_lb_config = { ...c.common_lb_config, healthy_panic_threshold: found.panic };
}

function sidecarOutlier(o: OutlierDetection): Outlier {
  const out: Outlier = { enforcing_success_rate: { value: 0 } };
  if (usesDeprecatedConsecutiveErrors(o)) {
    out.consecutive_gateway_failure = { value: o.consecutiveErrors ?? 0 };
    out.enforcing_consecutive_gateway_failure = { value: 100 };
    out.enforcing_consecutive_5xx = { value: 0 };
  }
  if (o.consecutive5xxErrors !== undefined) {
    out.consecutive_5xx = { value: o.consecutive5xxErrors };
    out.enforcing_consecutive_5xx = { value: o.consecutive5xxErrors > 0 ? 100 : 0 };
  }
  if (o.consecutiveGatewayErrors !== undefined) {
    out.consecutive_gateway_failure = { value: o.consecutiveGatewayErrors };
    out.enforcing_consecutive_gateway_failure = { value: o.consecutiveGatewayErrors > 0 ? 100 : 0 };
  }
  common(o, out);
  if (o.splitExternalLocalOriginErrors) {
    out.split_external_local_origin_errors = true;
    if (o.consecutiveLocalOriginFailures && o.consecutiveLocalOriginFailures > 0) {
      out.consecutive_local_origin_failure = { value: o.consecutiveLocalOriginFailures };
      out.enforcing_consecutive_local_origin_failure = { value: 100 };
    }
    out.enforcing_local_origin_success_rate = { value: 0 };
  }
  return out;
}

/** Envoy's consecutive_5xx default, enforced at 100% when the rule does not set it. */
const ENVOY_CONSECUTIVE_5XX = 5;

/** The consecutive-error threshold a sidecar would eject at, or undefined when every detector is off. */
export function consecutiveThreshold(o: OutlierDetection): number | undefined {
  const candidates: number[] = [];
  if (usesDeprecatedConsecutiveErrors(o)) candidates.push(o.consecutiveErrors ?? 0);
  else if (o.consecutive5xxErrors === undefined) candidates.push(ENVOY_CONSECUTIVE_5XX);
  else if (o.consecutive5xxErrors > 0) candidates.push(o.consecutive5xxErrors);
  if (o.consecutiveGatewayErrors && o.consecutiveGatewayErrors > 0) candidates.push(o.consecutiveGatewayErrors);
  return candidates.length > 0 ? Math.min(...candidates) : undefined;
}

export function applyProxylessOutlierDetection(c: Cluster, o: OutlierDetection | undefined): void {
  if (!o) return;
  // gRPC enables success-rate ejection by default whenever outlier_detection is present.
  const out: Outlier = { enforcing_success_rate: { value: 0 } };
  common(o, out);
  const n = consecutiveThreshold(o);
  if (n !== undefined) {
    out.enforcing_failure_percentage = { value: 100 };
    out.failure_percentage_threshold = { value: 99 };
    out.failure_percentage_request_volume = { value: n };
    out.failure_percentage_minimum_hosts = { value: 1 };
  }
  c.outlier_detection = out;
}
