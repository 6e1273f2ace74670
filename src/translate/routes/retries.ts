// HTTPRetry → Envoy RetryPolicy, with Istio's semantics (retry.ConvertPolicy):
// no `retries` → Istio's default policy; attempts 0 → no retries; otherwise
// the default overridden field by field. retryOn takes Envoy conditions,
// gRPC status names (cancelled, deadline-exceeded, internal,
// resource-exhausted, unavailable — what grpc-js retries on) and HTTP status
// codes, which go to retriable_status_codes.
import type { HTTPRetry } from "../../config/networking/virtual-service.js";
import { packAny } from "../../envoy/any.js";
import type { RetryPolicy } from "../../envoy/generated/envoy/config/route/v3/RetryPolicy.js";
import type { PreviousHostsPredicate } from "../../envoy/generated/envoy/extensions/retry/host/previous_hosts/v3/PreviousHostsPredicate.js";
import type { PreviousPrioritiesConfig } from "../../envoy/generated/envoy/extensions/retry/priority/previous_priorities/v3/PreviousPrioritiesConfig.js";
import { durationMs, protoDuration, sharedDuration } from "../duration.js";
import { deepFreeze } from "../security/tls-context.js";

/** Istio's default retryOn (pilot/pkg/networking/core/route/retry). */
export const DEFAULT_RETRY_ON = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";

// Envoy requires typed_config on retry extensions.
const previousHosts = () => ({
  name: "envoy.retry_host_predicates.previous_hosts",
  typed_config: packAny<PreviousHostsPredicate>(
    "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate",
    {},
  ),
});

const previousPriorities = () => ({
  name: "envoy.retry_priorities.previous_priorities",
  typed_config: packAny<PreviousPrioritiesConfig>(
    "type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig",
    { update_frequency: 2 },
  ),
});

/**
 * Istio's default: 2 retries on connection failures, refused streams, gRPC
 * UNAVAILABLE/CANCELLED and HTTP 503, on another host (not when the route is
 * consistent-hashed: a retry must stay on the hashed host).
 */
export function defaultRetryPolicy(consistentHash: boolean): RetryPolicy {
  const out: RetryPolicy = {
    retry_on: DEFAULT_RETRY_ON,
    num_retries: DEFAULT_NUM_RETRIES,
    host_selection_retry_max_attempts: "5",
    retriable_status_codes: DEFAULT_RETRIABLE_STATUS_CODES,
  };
  if (!consistentHash) out.retry_host_predicate = PREVIOUS_HOSTS;
  return out;
}

// The values of the default policy, shared (and frozen) by every route that
// has it (every default route of every view); policies that differ replace
// them, never change them.
const DEFAULT_NUM_RETRIES = deepFreeze({ value: 2 });
const DEFAULT_RETRIABLE_STATUS_CODES = deepFreeze([503]);
const PREVIOUS_HOSTS = deepFreeze([previousHosts()]);

/** Splits retryOn into Envoy conditions and HTTP status codes. */
export function parseRetryOn(retryOn: string): { conditions: string[]; codes: number[] } {
  const conditions: string[] = [];
  const codes: number[] = [];
  for (const raw of retryOn.split(",")) {
    const part = raw.trim();
    if (!part) continue;
    const n = /^\d+$/.test(part) ? Number(part) : Number.NaN;
    if (n >= 100 && n <= 599) codes.push(n);
    else conditions.push(part);
  }
  return { conditions, codes };
}

export function retryPolicy(r: HTTPRetry | undefined, consistentHash: boolean): RetryPolicy | undefined {
  const out = defaultRetryPolicy(consistentHash);
  if (!r) return out;
  if (!r.attempts || r.attempts <= 0) return undefined;
  out.num_retries = { value: r.attempts };
  if (r.retryOn) {
    const { conditions, codes } = parseRetryOn(r.retryOn);
    if (codes.length > 0 && !conditions.includes("retriable-status-codes")) conditions.push("retriable-status-codes");
    out.retry_on = conditions.join(",");
    out.retriable_status_codes = codes;
    if (codes.length === 0) delete out.retriable_status_codes;
  }
  if (r.perTryTimeout) out.per_try_timeout = sharedDuration(r.perTryTimeout);
  if (r.retryIgnorePreviousHosts !== undefined) {
    if (r.retryIgnorePreviousHosts) out.retry_host_predicate = [previousHosts()];
    else delete out.retry_host_predicate;
  }
  if (r.retryRemoteLocalities) out.retry_priority = previousPriorities();
  // grpc-js rejects a back-off without base_interval; Istio only sets base_interval.
  if (r.backoff && durationMs(r.backoff) > 0) out.retry_back_off = { base_interval: protoDuration(r.backoff) };
  return out;
}
