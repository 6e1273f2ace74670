// Sidecar egress hosts that name a service nobody declares. An egress host is
// `namespace/dnsName`; Istio imports the services of that namespace whose host
// matches dnsName, so a concrete dnsName that no Kubernetes Service or
// ServiceEntry declares there imports nothing, and the workload cannot reach
// it through the mesh. Wildcard dnsNames (`*`, `*.example.com`) and `~/…` are
// not checked: they select "whatever is there". Malformed hosts are TRL3301.
import type { Sidecar } from "../config/networking/sidecar.js";
import type { Diagnostic } from "../model/diagnostic.js";
import { resolveHost } from "../model/hosts.js";
import { refOf } from "../model/services.js";
import { objectsOfKind } from "../model/snapshot.js";
import { ANALYZE_CODES } from "./analyze-codes.js";
import type { TranslationInputs } from "./context.js";
import { isEgressHostValid } from "./egress.js";

export function analyzeSidecarEgressHosts(inputs: TranslationInputs): Diagnostic[] {
  const out: Diagnostic[] = [];
  const { registry, mesh } = inputs;
  for (const s of objectsOfKind<Sidecar>(inputs.snapshot, "Sidecar")) {
    const namespace = s.object.metadata.namespace ?? "default";
    // A root-namespace Sidecar without selector is every namespace's default: `.` is the proxy's namespace.
    const anyNamespaceForDot = namespace === mesh.rootNamespace && !s.object.spec.workloadSelector;
    for (const [i, egress] of (s.object.spec.egress ?? []).entries()) {
      for (const [j, h] of egress.hosts.entries()) {
        if (!isEgressHostValid(h)) continue;
        const [nsPart = "", host = ""] = h.split("/");
        if (nsPart === "~" || host.includes("*")) continue;
        const ns = nsPart === "." ? (anyNamespaceForDot ? "*" : namespace) : nsPart;
        const declared = registry.byHost.get(host) ?? [];
        if (declared.some((svc) => ns === "*" || svc.namespace === ns)) continue;
        const where = ns === "*" ? "in any namespace" : `in namespace ${ns}`;
        let hint = "";
        if (declared.length > 0) {
          hint = `; it is declared in namespace ${[...new Set(declared.map((d) => d.namespace))].sort().join(", ")}`;
        } else if (!host.includes(".")) {
          const fqdn = resolveHost(host, ns === "*" ? namespace : ns, mesh.clusterDomain);
          if (registry.byHost.has(fqdn))
            hint = `; egress hosts are not resolved like short names: write ${nsPart}/${fqdn}`;
        }
        out.push({
          code: ANALYZE_CODES.sidecarHostNotFound,
          severity: "warning",
          object: refOf(s),
          field: `spec.egress[${i}].hosts[${j}]`,
          message: `no service has host ${host} ${where}${hint}: this egress host imports nothing, so the workloads this Sidecar scopes cannot reach it through the mesh`,
        });
      }
    }
  }
  return out;
}
