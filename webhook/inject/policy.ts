// Whether a pod gets the sidecar: Istio's injection policy, decided the way
// Istio's two default webhooks plus its server-side `injectRequired` decide it
// together (research/istio.md §4.1), so the answer does not depend on how the
// MutatingWebhookConfiguration's selectors are written:
//
//   1. never: host-network pods (the iptables rules would rewrite the node's
//      own networking), the control plane's namespace, kube-system,
//      kube-public, kube-node-lease and local-path-storage;
//   2. never twice: a pod that already has trellis-proxy or our status annotation;
//   3. a namespace labelled `istio-injection` with any value but `enabled`
//      (normally `disabled`) is never injected, whatever the pod says — "if
//      either label is disabled, the pod is not injected";
//   4. the pod's label `sidecar.istio.io/inject`, else its (deprecated)
//      annotation of the same name: y/yes/true/on injects, any other non-empty
//      value opts out;
//   5. otherwise the namespace label `istio-injection=enabled` injects;
//   6. otherwise no.
//
// `manual` mode is `trellis inject` (istioctl kube-inject): the user asked for
// injection by running it, so steps 3, 5 and 6 become "yes"; opting out,
// host-network and the system namespaces still apply.
//
// When the policy says yes, the pod's injection annotations are validated and
// the pod is checked for clashes with what injection adds (names, ports): a
// decision with `errors` means "this pod asked for a sidecar that cannot be
// built"; the webhook must refuse the pod (allowed: false) with those messages
// rather than admit it without a sidecar or with a broken one.
import { ANNOTATION, type InjectionProblem, podSettings } from "./annotations.js";
import { conflicts } from "./conflicts.js";
import { PROXY_CONTAINER } from "./names.js";
import { annotationsOf, containersOf, labelsOf, type Pod } from "./pod.js";
import type { InjectionConfig } from "./template.js";

export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
}

export interface InjectionDecision {
  inject: boolean;
  /** Human-readable, e.g. "namespace label istio-injection=enabled". */
  reason: string;
  /**
   * Set (non-empty) only with `inject: false`, when the policy selected the pod
   * but an injection annotation has an unusable value: refuse the pod with
   * these messages rather than admit it without a sidecar.
   */
  errors?: InjectionProblem[];
  /** Istio annotations on the pod that Trellis ignores (AdmissionResponse `warnings`). */
  warnings?: string[];
}

/** Namespaces Istio never injects into (pkg/kube/inject: IgnoredNamespaces), plus the control plane's own. */
export const SYSTEM_NAMESPACES: readonly string[] = [
  "kube-system",
  "kube-public",
  "kube-node-lease",
  "local-path-storage",
];

export const NAMESPACE_INJECTION_LABEL = "istio-injection";

export function injectionDecision(
  pod: Pod,
  namespace: NamespaceInfo | undefined,
  cfg: InjectionConfig,
  mode: "webhook" | "manual",
): InjectionDecision {
  const decision = policy(pod, namespace, cfg, mode);
  if (!decision.inject) return decision;
  const settings = podSettings(pod, cfg.mesh);
  const warnings = settings.warnings.length > 0 ? { warnings: settings.warnings } : {};
  const errors = [...(settings.ok ? [] : settings.problems), ...conflicts(pod)];
  if (errors.length > 0) {
    return {
      inject: false,
      reason: `${decision.reason}, but the sidecar cannot be added: ${errors.map((e) => `${e.field}: ${e.message}`).join("; ")}`,
      errors,
      ...warnings,
    };
  }
  return { ...decision, ...warnings };
}

function policy(
  pod: Pod,
  namespace: NamespaceInfo | undefined,
  cfg: InjectionConfig,
  mode: "webhook" | "manual",
): InjectionDecision {
  if (pod.spec?.hostNetwork === true) return no("host-network pod (spec.hostNetwork: true)");

  const nsName = namespace?.name ?? pod.metadata?.namespace;
  if (nsName !== undefined && nsName === cfg.controlPlaneNamespace) {
    return no(`namespace ${nsName} is the control plane's`);
  }
  if (nsName !== undefined && SYSTEM_NAMESPACES.includes(nsName)) return no(`namespace ${nsName} is never injected`);

  const injected = alreadyInjected(pod);
  if (injected) return no(`already injected (${injected})`);

  const nsLabel = namespace?.labels[NAMESPACE_INJECTION_LABEL];
  if (mode === "webhook" && nsLabel !== undefined && nsLabel !== "enabled") {
    return no(`namespace label ${NAMESPACE_INJECTION_LABEL}=${nsLabel}`);
  }

  const explicit = podChoice(pod);
  if (explicit) return { inject: explicit.inject, reason: explicit.reason };

  if (mode === "manual") return yes("manual injection (trellis inject)");
  if (nsLabel === "enabled") return yes(`namespace label ${NAMESPACE_INJECTION_LABEL}=enabled`);
  return no(
    `neither namespace label ${NAMESPACE_INJECTION_LABEL}=enabled nor pod label or annotation ${ANNOTATION.inject}=true`,
  );
}

/** Why the pod counts as injected already, or undefined. */
export function alreadyInjected(pod: Pod): string | undefined {
  if (annotationsOf(pod)[ANNOTATION.status] !== undefined) return `annotation ${ANNOTATION.status} present`;
  for (const list of ["containers", "initContainers"] as const) {
    if (containersOf(pod.spec?.[list]).some((c) => c.name === PROXY_CONTAINER)) {
      return `${list} has ${PROXY_CONTAINER}`;
    }
  }
  return undefined;
}

/** The pod's own choice: the label wins over the annotation (Istio's `injectRequired`). */
function podChoice(pod: Pod): InjectionDecision | undefined {
  // A label that is present wins even when empty (then the namespace decides), as in Istio.
  const label = labelsOf(pod)[ANNOTATION.inject];
  const [where, value] =
    label !== undefined ? ["label", label] : ["annotation", annotationsOf(pod)[ANNOTATION.inject] ?? ""];
  if (value === "") return undefined;
  // http://yaml.org/type/bool.html, as Istio reads it: anything else that is not empty opts out.
  const inject = ["y", "yes", "true", "on"].includes(value.toLowerCase());
  return { inject, reason: `pod ${where} ${ANNOTATION.inject}=${value}` };
}

const yes = (reason: string): InjectionDecision => ({ inject: true, reason });
const no = (reason: string): InjectionDecision => ({ inject: false, reason });
