// Deprecated API versions and fields, as Istio's API marks them
// (istio/api `[deprecated = true]` and "Deprecated: use …" comments). Only
// fields the config/ schemas accept can appear here: anything else is already
// a validation error. Deprecated fields are still honoured by the translation;
// the diagnostic names the replacement. Sidecar `port.targetPort` is reported
// by the listeners analyzer (TRL3305), since Trellis also ignores it.
import type {
  DestinationRule,
  LoadBalancerSettings,
  OutlierDetection,
  PortTrafficPolicy,
  TrafficPolicy,
} from "../config/networking/destination-rule.js";
import type { Gateway } from "../config/networking/gateway.js";
import type { VirtualService } from "../config/networking/virtual-service.js";
import type { Diagnostic, ObjectRef, Severity } from "../model/diagnostic.js";
import { refOf } from "../model/services.js";
import { objectsOfKind } from "../model/snapshot.js";
import { ANALYZE_CODES } from "./analyze-codes.js";
import { usesDeprecatedConsecutiveErrors } from "./clusters/outlier.js";
import type { TranslationInputs } from "./context.js";

/** Istio API groups that are served as v1 next to older versions of the same schema. */
const CURRENT_VERSION: Record<string, string> = {
  "networking.istio.io": "networking.istio.io/v1",
  "security.istio.io": "security.istio.io/v1",
  "telemetry.istio.io": "telemetry.istio.io/v1",
};

type Report = (field: string, message: string) => void;

function reporter(out: Diagnostic[], object: ObjectRef, code: string, severity: Severity): Report {
  return (field, message) => out.push({ code, severity, object, field, message });
}

function deprecatedLoadBalancer(lb: LoadBalancerSettings | undefined, path: string, report: Report): void {
  if (!lb) return;
  if (lb.simple === "LEAST_CONN") {
    report(`${path}.simple`, "LEAST_CONN is deprecated: use LEAST_REQUEST (the same algorithm in Envoy)");
  }
  if (lb.consistentHash?.minimumRingSize !== undefined) {
    report(`${path}.consistentHash.minimumRingSize`, "deprecated: use consistentHash.ringHash.minimumRingSize");
  }
  if (lb.warmupDurationSecs !== undefined) {
    report(`${path}.warmupDurationSecs`, "deprecated: use warmup.duration");
  }
}

function deprecatedOutlier(o: OutlierDetection | undefined, path: string, report: Report): void {
  if (o?.consecutiveErrors === undefined) return;
  // Where it is ignored (next to its replacements), TRL3211 says so instead.
  if (o.consecutiveErrors !== 0 && !usesDeprecatedConsecutiveErrors(o)) return;
  report(
    `${path}.consecutiveErrors`,
    "deprecated: use consecutiveGatewayErrors (502, 503 and 504: what consecutiveErrors counts, and how Trellis still applies it) or consecutive5xxErrors (every 5xx)",
  );
}

function deprecatedPolicy(p: TrafficPolicy | PortTrafficPolicy | undefined, path: string, report: Report): void {
  if (!p) return;
  deprecatedLoadBalancer(p.loadBalancer, `${path}.loadBalancer`, report);
  deprecatedOutlier(p.outlierDetection, `${path}.outlierDetection`, report);
  if ("portLevelSettings" in p) {
    for (const [i, pl] of (p.portLevelSettings ?? []).entries()) {
      deprecatedPolicy(pl, `${path}.portLevelSettings[${i}]`, report);
    }
  }
}

function deprecatedDestinationRuleFields(dr: DestinationRule, report: Report): void {
  deprecatedPolicy(dr.spec.trafficPolicy, "spec.trafficPolicy", report);
  for (const [i, s] of (dr.spec.subsets ?? []).entries()) {
    deprecatedPolicy(s.trafficPolicy, `spec.subsets[${i}].trafficPolicy`, report);
  }
}

function deprecatedVirtualServiceFields(vs: VirtualService, report: Report): void {
  for (const [i, http] of (vs.spec.http ?? []).entries()) {
    const f = `spec.http[${i}]`;
    if (http.mirrorPercent !== undefined) {
      report(`${f}.mirrorPercent`, "deprecated: use mirrorPercentage.value (a double, e.g. 12.5)");
    }
    if (http.fault?.delay?.percent !== undefined) {
      report(`${f}.fault.delay.percent`, "deprecated: use fault.delay.percentage.value (a double)");
    }
    if (http.corsPolicy?.allowOrigin !== undefined) {
      report(
        `${f}.corsPolicy.allowOrigin`,
        "deprecated: use corsPolicy.allowOrigins (string matches: exact, prefix or regex)",
      );
    }
  }
}

function deprecatedGatewayFields(gw: Gateway, report: Report): void {
  for (const [i, server] of (gw.spec.servers ?? []).entries()) {
    if (server.port.targetPort !== undefined) {
      report(`spec.servers[${i}].port.targetPort`, "deprecated, and without effect in Istio: remove it");
    }
  }
}

/**
 * Deprecated fields of every object, and older API versions of objects read
 * from files. Objects from the Kubernetes API are skipped for the version: the
 * API server returns them in whatever version Trellis asked for, not in the
 * one the user applied.
 */
export function analyzeDeprecations(inputs: TranslationInputs): Diagnostic[] {
  const out: Diagnostic[] = [];
  const { snapshot } = inputs;
  for (const s of snapshot.objects) {
    if (s.source?.file === undefined) continue;
    const { apiVersion, kind } = s.object;
    const current = CURRENT_VERSION[apiVersion.split("/")[0] ?? ""];
    if (current && apiVersion !== current) {
      out.push({
        code: ANALYZE_CODES.deprecatedApiVersion,
        severity: "info",
        object: refOf(s),
        field: "apiVersion",
        message: `${apiVersion} is an older version of ${current}, which has the same ${kind} schema: prefer ${current}`,
      });
    }
  }
  const field = (s: Parameters<typeof refOf>[0]) => reporter(out, refOf(s), ANALYZE_CODES.deprecatedField, "warning");
  for (const s of objectsOfKind<VirtualService>(snapshot, "VirtualService")) {
    deprecatedVirtualServiceFields(s.object, field(s));
  }
  for (const s of objectsOfKind<DestinationRule>(snapshot, "DestinationRule")) {
    deprecatedDestinationRuleFields(s.object, field(s));
  }
  for (const s of objectsOfKind<Gateway>(snapshot, "Gateway")) deprecatedGatewayFields(s.object, field(s));
  return out;
}
