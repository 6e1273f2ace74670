// Snapshot-level diagnostics: what the user wrote that this version does not
// act on, or that references something missing. Computed once per snapshot,
// independent of which proxies are connected, so logs, /debug and
// `trellis analyze` agree.
import type { Diagnostic } from "../model/diagnostic.js";
import { refOf } from "../model/services.js";
import { TRANSLATE_CODES } from "./codes.js";
import type { TranslationInputs } from "./context.js";

const TRANSLATED_KINDS = new Set(["ServiceEntry", "WorkloadEntry"]);
const SERVICE_ENTRY_FIELDS_NOT_HONOURED = ["addresses", "exportTo", "subjectAltNames"] as const;

export function analyzeSnapshot(inputs: TranslationInputs): Diagnostic[] {
  const out: Diagnostic[] = [...inputs.registry.diagnostics];
  for (const s of inputs.snapshot.objects) {
    const o = s.object;
    if (!TRANSLATED_KINDS.has(o.kind)) {
      out.push({
        code: TRANSLATE_CODES.kindNotTranslated,
        severity: "warning",
        object: refOf(s),
        message: `${o.kind} is validated but not yet translated into proxy configuration by this version of Trellis`,
      });
      continue;
    }
    if (o.kind === "ServiceEntry") {
      const spec = o.spec as Record<string, unknown>;
      for (const f of SERVICE_ENTRY_FIELDS_NOT_HONOURED) {
        if (spec[f] !== undefined) {
          out.push({
            code: TRANSLATE_CODES.fieldNotHonoured,
            severity: "warning",
            object: refOf(s),
            field: `spec.${f}`,
            message: `spec.${f} is not honoured yet; the service is served without it`,
          });
        }
      }
      const resolution = spec.resolution ?? "NONE";
      if (resolution === "DNS" || resolution === "DNS_ROUND_ROBIN" || resolution === "DYNAMIC_DNS") {
        out.push({
          code: TRANSLATE_CODES.resolutionUnsupported,
          severity: "warning",
          object: refOf(s),
          field: "spec.resolution",
          message: `resolution ${resolution} is not translated yet; only endpoints with IP addresses are served`,
        });
      }
    }
  }
  return out;
}
