// Snapshot-level diagnostics for mutual TLS: PeerAuthentications that do not
// take effect the way they read (conflicts at one level, portLevelMtls without
// a selector, selectors in the root namespace, sidecar-owned ports), and
// DestinationRule tls settings that ISTIO_MUTUAL ignores or that a STRICT
// destination will refuse. Computed once per snapshot; codes: codes.ts,
// docs/compat/peer-authentication.md.
import type { ClientTLSSettings, DestinationRule } from "../../config/networking/destination-rule.js";
import type { PeerAuthentication } from "../../config/security/peer-authentication.js";
import type { Diagnostic, Severity } from "../../model/diagnostic.js";
import { labelsMatch } from "../../model/labels.js";
import { refOf, servicesMatching } from "../../model/services.js";
import type { SourcedObject } from "../../model/snapshot.js";
import type { TranslationInputs } from "../context.js";
import { SIDECAR_PORTS } from "../listeners/virtual-inbound.js";
import { SECURITY_CODES as C } from "./codes.js";
import { hasSelector, namespaceMtlsMode } from "./peer-authentication.js";

type Policy = SourcedObject<PeerAuthentication>;

function diag(s: SourcedObject, code: string, severity: Severity, field: string | undefined, message: string) {
  const d: Diagnostic = { code, severity, object: refOf(s), message };
  if (field !== undefined) d.field = field;
  return d;
}

const nameOf = (s: Policy) => `${s.object.metadata.namespace ?? "default"}/${s.object.metadata.name}`;

const WHY_OLDEST =
  "the oldest one (creationTimestamp; without timestamps, as from files, the first by name) wins, as in Istio";

/** Mesh- and namespace-level: at most one takes effect. */
function levelConflicts(list: readonly Policy[], level: string, out: Diagnostic[]): void {
  const [winner, ...rest] = list;
  if (!winner) return;
  for (const s of rest) {
    out.push(
      diag(
        s,
        C.conflictingPeerAuthentications,
        "warning",
        undefined,
        `${level} already has PeerAuthentication ${nameOf(winner)}; ${WHY_OLDEST}, so this one is ignored`,
      ),
    );
  }
}

interface Workload {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

function workloadsOf(inputs: TranslationInputs): Workload[] {
  const out: Workload[] = [];
  for (const s of inputs.snapshot.objects) {
    const o = s.object;
    const namespace = o.metadata.namespace ?? "default";
    if (o.kind === "Pod") out.push({ namespace, labels: o.metadata.labels ?? {} });
    else if (o.kind === "WorkloadEntry") {
      const spec = o.spec as { labels?: Record<string, string> } | undefined;
      out.push({ namespace, labels: { ...o.metadata.labels, ...spec?.labels } });
    }
  }
  return out;
}

const selectorOf = (s: Policy) => s.object.spec.selector?.matchLabels ?? {};
const sameSelector = (a: Record<string, string>, b: Record<string, string>) =>
  Object.keys(a).length === Object.keys(b).length && labelsMatch(a, b);

/** Workload level: a workload two policies select gets the older one only. */
function workloadConflicts(
  policies: readonly Policy[],
  workloads: readonly Workload[],
  namespace: string,
  out: Diagnostic[],
): void {
  const here = workloads.filter((w) => w.namespace === namespace);
  policies.forEach((later, i) => {
    const sel = selectorOf(later);
    for (const older of policies.slice(0, i)) {
      const other = selectorOf(older);
      const shared = here.filter((w) => labelsMatch(sel, w.labels) && labelsMatch(other, w.labels));
      if (!sameSelector(sel, other) && shared.length === 0) continue;
      out.push(
        diag(
          later,
          C.conflictingPeerAuthentications,
          "warning",
          "spec.selector",
          `workloads selected by both this and PeerAuthentication ${nameOf(older)} get only one of them; ${WHY_OLDEST}: ${nameOf(older)}`,
        ),
      );
      return;
    }
  });
}

function analyzePolicy(inputs: TranslationInputs, s: Policy, out: Diagnostic[]): void {
  const spec = s.object.spec;
  const root = (s.object.metadata.namespace ?? "default") === inputs.mesh.rootNamespace;
  const ports = Object.keys(spec.portLevelMtls ?? {});
  if (hasSelector(s.object) && root) {
    out.push(
      diag(
        s,
        C.selectorInRootNamespace,
        "warning",
        "spec.selector",
        `a PeerAuthentication with a selector in the root namespace (${inputs.mesh.rootNamespace}) is ignored, as in Istio; put it in the workloads' namespace, or drop the selector to make it mesh-wide`,
      ),
    );
  } else if (!hasSelector(s.object) && ports.length > 0) {
    out.push(
      diag(
        s,
        C.portLevelWithoutSelector,
        "error",
        "spec.portLevelMtls",
        "portLevelMtls needs a selector (Istio rejects this policy); the port-level modes are ignored, spec.mtls still applies",
      ),
    );
  }
  for (const p of ports) {
    if (!SIDECAR_PORTS.has(Number(p))) continue;
    out.push(
      diag(
        s,
        C.portLevelSidecarPort,
        "warning",
        `spec.portLevelMtls.${p}`,
        `port ${p} belongs to the sidecar itself and never reaches the workload; this setting has no effect`,
      ),
    );
  }
}

/** Fields ISTIO_MUTUAL ignores: the client uses its own workload certificate and the mesh root. */
const IGNORED_WITH_ISTIO_MUTUAL = [
  "clientCertificate",
  "privateKey",
  "caCertificates",
  "credentialName",
  "caCrl",
  "insecureSkipVerify",
] as const satisfies readonly (keyof ClientTLSSettings)[];

interface TlsAt {
  tls: ClientTLSSettings;
  path: string;
}

function tlsSettings(rule: DestinationRule): TlsAt[] {
  const out: TlsAt[] = [];
  const add = (tls: ClientTLSSettings | undefined, path: string) => {
    if (tls) out.push({ tls, path });
  };
  const policy = (p: DestinationRule["spec"]["trafficPolicy"], path: string) => {
    add(p?.tls, `${path}.tls`);
    for (const [i, pl] of (p?.portLevelSettings ?? []).entries()) add(pl.tls, `${path}.portLevelSettings[${i}].tls`);
  };
  policy(rule.spec.trafficPolicy, "spec.trafficPolicy");
  for (const [i, sub] of (rule.spec.subsets ?? []).entries())
    policy(sub.trafficPolicy, `spec.subsets[${i}].trafficPolicy`);
  return out;
}

function analyzeDestinationRuleTls(inputs: TranslationInputs, out: Diagnostic[]): void {
  for (const dr of inputs.traffic.destinationRules) {
    const strict = servicesMatching(inputs.registry, [dr.host]).filter(
      (svc) =>
        svc.location === "MESH_INTERNAL" && namespaceMtlsMode(inputs.peerAuthentication, svc.namespace) === "STRICT",
    );
    for (const { tls, path } of tlsSettings(dr.object.object)) {
      if (tls.mode === "ISTIO_MUTUAL") {
        for (const f of IGNORED_WITH_ISTIO_MUTUAL) {
          if (tls[f] === undefined || tls[f] === false || tls[f] === "") continue;
          out.push(
            diag(
              dr.object,
              C.istioMutualFieldIgnored,
              "error",
              `${path}.${f}`,
              `must be empty with ISTIO_MUTUAL (Istio's API); ignored: the client presents its Trellis-issued workload certificate and verifies the server against the mesh root`,
            ),
          );
        }
      } else if (strict.length > 0) {
        const namespaces = [...new Set(strict.map((s) => s.namespace))].sort().join(", ");
        out.push(
          diag(
            dr.object,
            C.tlsConflictsWithStrict,
            "warning",
            `${path}.mode`,
            `${tls.mode ?? "DISABLE"} instead of Istio mTLS toward ${dr.host}, whose namespace (${namespaces}) is STRICT by PeerAuthentication: its sidecars refuse these connections; use ISTIO_MUTUAL, or leave tls unset for auto mTLS`,
          ),
        );
      }
    }
  }
}

export function analyzeMutualTls(inputs: TranslationInputs): Diagnostic[] {
  const out: Diagnostic[] = [];
  const index = inputs.peerAuthentication;
  levelConflicts(index.levels.mesh, `the mesh (root namespace ${index.rootNamespace})`, out);
  for (const [ns, list] of [...index.levels.namespaces].sort(([a], [b]) => a.localeCompare(b))) {
    levelConflicts(list, `namespace ${ns}`, out);
  }
  const workloads = workloadsOf(inputs);
  for (const [ns, list] of [...index.workloads].sort(([a], [b]) => a.localeCompare(b))) {
    workloadConflicts(list, workloads, ns, out);
  }
  const all = [
    ...index.levels.mesh,
    ...[...index.levels.namespaces.values()].flat(),
    ...[...index.workloads.values()].flat(),
    ...index.levels.ignored,
  ];
  for (const s of all) analyzePolicy(inputs, s, out);
  analyzeDestinationRuleTls(inputs, out);
  return out;
}
