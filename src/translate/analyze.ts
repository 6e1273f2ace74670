// Snapshot-level diagnostics: what the user wrote that this version does not
// act on, or that references something missing. Computed once per snapshot,
// independent of which proxies are connected, so logs, /debug and
// `trellis analyze` agree. Each feature area analyses its own kinds.
import { isPlatformKind } from "../config/platform.js";
import type { Diagnostic } from "../model/diagnostic.js";
import { refOf } from "../model/services.js";
import { analyzeSidecarEgressHosts } from "./analyze-hosts.js";
import { analyzeWorkloadSelectors } from "./analyze-selectors.js";
import { analyzeDestinationRules } from "./clusters/analyze.js";
import { TRANSLATE_CODES } from "./codes.js";
import type { TranslationInputs } from "./context.js";
import { analyzeRequestAuthentications } from "./filters/jwt-analyze.js";
import { analyzeSidecarsAndL4Routes } from "./listeners/analyze.js";
import { analyzeRateLimits } from "./policy/analyze.js";
import { analyzeAuthorizationPolicies } from "./policy/authorization-analyze.js";
import { analyzeVirtualServices } from "./routes/analyze.js";
import { analyzeMutualTls } from "./security/analyze.js";

/** Kinds that shape proxy configuration in this version; every other kind is reported as not yet translated. */
const TRANSLATED_KINDS = new Set([
  "ServiceEntry",
  "WorkloadEntry",
  "VirtualService",
  "DestinationRule",
  "Sidecar",
  "RateLimit",
  "AuthorizationPolicy",
  "RequestAuthentication",
  "PeerAuthentication",
]);

export function analyzeSnapshot(inputs: TranslationInputs): Diagnostic[] {
  const out: Diagnostic[] = [...inputs.registry.diagnostics];
  for (const s of inputs.snapshot.objects) {
    if (TRANSLATED_KINDS.has(s.object.kind) || isPlatformKind(s.object.kind)) continue;
    out.push({
      code: TRANSLATE_CODES.kindNotTranslated,
      severity: "warning",
      object: refOf(s),
      message: `${s.object.kind} is validated but not yet translated into proxy configuration by this version of Trellis`,
    });
  }
  out.push(
    ...analyzeDestinationRules(inputs),
    ...analyzeVirtualServices(inputs),
    ...analyzeSidecarsAndL4Routes(inputs),
    ...analyzeRateLimits(inputs),
    ...analyzeAuthorizationPolicies(inputs),
    ...analyzeRequestAuthentications(inputs),
    ...analyzeMutualTls(inputs),
    ...analyzeSidecarEgressHosts(inputs),
    // Only where the snapshot holds workloads: `trellis analyze --kube` checks every namespace.
    ...analyzeWorkloadSelectors(inputs, { everyNamespace: false }),
  );
  return out;
}
