// Workload selectors that select nothing (Istio's IST0127 NoMatchingWorkloadsFound).
// Workloads are Pods and WorkloadEntries (a WorkloadEntry's labels are its
// metadata labels overlaid with spec.labels, as the registry reads them). A
// selector looks in its object's namespace; the security and telemetry kinds
// in the root namespace apply mesh-wide, so there they look everywhere.
//
// A directory of mesh YAML usually has no Pods at all, and then every
// selector would "select nothing". So by default a selector is only checked
// when the input holds at least one workload where it looks; against a live
// cluster the caller asks for every namespace (an empty namespace really has
// no workloads).
import type { Pod } from "../config/platform.js";
import type { Diagnostic } from "../model/diagnostic.js";
import { labelsMatch } from "../model/labels.js";
import { refOf } from "../model/services.js";
import type { MeshObjectLike, SourcedObject } from "../model/snapshot.js";
import { ANALYZE_CODES } from "./analyze-codes.js";
import type { TranslationInputs } from "./context.js";

interface Workload {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

/** Where each kind keeps its selector, what not matching means, and whether the root namespace makes it mesh-wide. */
const SELECTORS = {
  PeerAuthentication: { path: ["selector", "matchLabels"], meshWide: true, effect: "its mTLS mode applies nowhere" },
  AuthorizationPolicy: { path: ["selector", "matchLabels"], meshWide: true, effect: "its rules are enforced nowhere" },
  RequestAuthentication: {
    path: ["selector", "matchLabels"],
    meshWide: true,
    effect: "no workload validates these JWTs",
  },
  Telemetry: { path: ["selector", "matchLabels"], meshWide: true, effect: "its settings apply nowhere" },
  Sidecar: { path: ["workloadSelector", "labels"], meshWide: false, effect: "it scopes no proxy" },
  DestinationRule: {
    path: ["workloadSelector", "matchLabels"],
    meshWide: false,
    effect: "no client uses this rule",
  },
  ServiceEntry: {
    path: ["workloadSelector", "labels"],
    meshWide: false,
    effect: "the service gets no endpoints from workloads",
  },
} as const;

type SelectorKind = keyof typeof SELECTORS;

export interface SelectorCheckOptions {
  /**
   * Check selectors in every namespace (a live cluster). By default a
   * selector is checked only where the input holds a workload: a file set
   * without Pods says nothing about them.
   */
  everyNamespace?: boolean;
}

function workloadsOf(inputs: TranslationInputs): Workload[] {
  const out: Workload[] = [];
  for (const s of inputs.snapshot.objects) {
    const o = s.object;
    if (o.kind === "Pod") {
      out.push({ namespace: o.metadata.namespace ?? "default", labels: (o as Pod).metadata.labels ?? {} });
    } else if (o.kind === "WorkloadEntry") {
      const spec = o.spec as { labels?: Record<string, string> } | undefined;
      out.push({ namespace: o.metadata.namespace ?? "default", labels: { ...o.metadata.labels, ...spec?.labels } });
    }
  }
  return out;
}

function selectorOf(o: MeshObjectLike, path: readonly [string, string]): Record<string, string> | undefined {
  const outer = (o.spec as Record<string, unknown> | undefined)?.[path[0]] as Record<string, unknown> | undefined;
  return outer?.[path[1]] as Record<string, string> | undefined;
}

const showLabels = (labels: Record<string, string>) =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(",");

export function analyzeWorkloadSelectors(inputs: TranslationInputs, options: SelectorCheckOptions = {}): Diagnostic[] {
  const workloads = workloadsOf(inputs);
  const namespacesWithWorkloads = new Set(workloads.map((w) => w.namespace));
  const out: Diagnostic[] = [];
  const candidates = inputs.snapshot.objects.filter((s): s is SourcedObject => Object.hasOwn(SELECTORS, s.object.kind));
  for (const s of candidates) {
    const info = SELECTORS[s.object.kind as SelectorKind];
    const selector = selectorOf(s.object, info.path);
    // No selector, or an empty one, selects every workload in scope: nothing to check.
    if (!selector || Object.keys(selector).length === 0) continue;
    const namespace = s.object.metadata.namespace ?? "default";
    const meshWide = info.meshWide && namespace === inputs.mesh.rootNamespace;
    const hasWorkloads = meshWide ? workloads.length > 0 : namespacesWithWorkloads.has(namespace);
    if (!options.everyNamespace && !hasWorkloads) continue;
    const pool = meshWide ? workloads : workloads.filter((w) => w.namespace === namespace);
    if (pool.some((w) => labelsMatch(selector, w.labels))) continue;
    const where = meshWide ? `in any namespace (${namespace} is the root namespace)` : `in namespace ${namespace}`;
    out.push({
      code: ANALYZE_CODES.selectsNoWorkload,
      severity: "warning",
      object: refOf(s),
      field: `spec.${info.path.join(".")}`,
      message: `no Pod or WorkloadEntry ${where} has the labels ${showLabels(selector)}: ${info.effect}`,
    });
  }
  return out;
}
