// Diagnostics for RateLimit objects: references to services that do not exist,
// ports that are not HTTP, buckets Envoy would reject.
import type { RateLimit } from "../../config/policy/rate-limit.js";
import type { Diagnostic } from "../../model/diagnostic.js";
import { resolveHost } from "../../model/hosts.js";
import { isHttp } from "../../model/protocol.js";
import { lookupService, refOf } from "../../model/services.js";
import { objectsOfKind } from "../../model/snapshot.js";
import type { TranslationInputs } from "../context.js";
import { durationMs } from "../duration.js";
import { MIN_FILL_INTERVAL_MS } from "./rate-limit.js";

export const POLICY_CODES = {
  /** A RateLimit names a host no service declares. */
  unknownHost: "TRL3401",
  /** A RateLimit names a port the service does not have, or one that is not HTTP. */
  badPort: "TRL3402",
  /** A token bucket refills faster than Envoy allows (fillInterval < 50ms). */
  fillIntervalTooShort: "TRL3403",
  /** The service has no workload selector, so no sidecar enforces the limit. */
  noWorkloads: "TRL3404",
} as const;

export function analyzeRateLimits(inputs: TranslationInputs): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const s of objectsOfKind<RateLimit>(inputs.snapshot, "RateLimit")) {
    const rl = s.object;
    const ns = rl.metadata.namespace ?? "default";
    const host = resolveHost(rl.spec.host, ns, inputs.mesh.clusterDomain);
    const object = refOf(s);
    const svc = lookupService(inputs.registry, host, ns);
    if (!svc || svc.namespace !== ns) {
      out.push({
        code: POLICY_CODES.unknownHost,
        severity: "error",
        object,
        field: "spec.host",
        message: `no service ${host} in namespace ${ns}; the limit is not enforced anywhere`,
      });
    } else {
      if (!svc.selector) {
        out.push({
          code: POLICY_CODES.noWorkloads,
          severity: "warning",
          object,
          field: "spec.host",
          message: `${host} has no workload selector, so no sidecar implements it and the limit is not enforced`,
        });
      }
      for (const [i, port] of (rl.spec.ports ?? []).entries()) {
        const p = svc.ports.find((x) => x.number === port);
        if (!p || !isHttp(p.protocol)) {
          out.push({
            code: POLICY_CODES.badPort,
            severity: "error",
            object,
            field: `spec.ports[${i}]`,
            message: p
              ? `port ${port} of ${host} is ${p.protocol}; local rate limits apply to HTTP ports only`
              : `${host} has no port ${port}`,
          });
        }
      }
    }
    for (const [i, rule] of rl.spec.limits.entries()) {
      if (durationMs(rule.tokenBucket.fillInterval) < MIN_FILL_INTERVAL_MS) {
        out.push({
          code: POLICY_CODES.fillIntervalTooShort,
          severity: "error",
          object,
          field: `spec.limits[${i}].tokenBucket.fillInterval`,
          message: `Envoy requires a fill interval of at least 50ms, got ${rule.tokenBucket.fillInterval}`,
        });
      }
    }
  }
  return out;
}
