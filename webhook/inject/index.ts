// webhook/inject: sidecar injection as pure functions — the policy (policy.ts),
// the injected pod (template.ts) and the JSONPatch between them (patch.ts).
// Used by trellis-injector (webhook/injector/) and `trellis inject`
// (src/cli/inject.ts). No I/O, no clock, no Kubernetes client: it must not
// import webhook/injector/, webhook/init/ or src/cli/. See README.md.

import { type JsonPatchOp, jsonPatch } from "./patch.js";
import type { Pod } from "./pod.js";
import { type InjectionDecision, injectionDecision, type NamespaceInfo } from "./policy.js";
import { type InjectionConfig, injectPod } from "./template.js";

export type { CaptureSettings, InjectionProblem, PodSettings, ProxyResources } from "./annotations.js";
export { ANNOTATION, JOB_WARNING, podSettings } from "./annotations.js";
export { INIT_CONTAINER, PROXY_CONTAINER, PROXY_GID, PROXY_UID, VOLUME } from "./names.js";
export type { JsonPatchOp } from "./patch.js";
export { applyPatch, escapePointerToken, JsonPatchError, jsonPatch } from "./patch.js";
export type { Container, ObjectMeta, Pod, PodSpec } from "./pod.js";
export type { InjectionDecision, NamespaceInfo } from "./policy.js";
export { alreadyInjected, injectionDecision, NAMESPACE_INJECTION_LABEL, SYSTEM_NAMESPACES } from "./policy.js";
export type { InjectionConfig, InjectionStatus } from "./template.js";
export {
  DEFAULT_CLUSTER_ID,
  DEFAULT_CONTROL_PLANE_NAMESPACE,
  DEFAULT_TOKEN_AUDIENCE,
  defaultInjectionConfig,
  InvalidInjectionError,
  injectPod,
  injectWorkloadPod,
} from "./template.js";

/**
 * The webhook's answer for a Pod CREATE: the decision and, when it is to
 * inject, the JSONPatch from the pod as received to the injected pod (empty
 * otherwise). `decision.errors` set means the pod must be refused
 * (`allowed: false`, the messages in `status.message`); `decision.warnings`
 * go into the AdmissionResponse's `warnings`.
 */
export function admissionPatch(
  pod: Pod,
  namespace: NamespaceInfo | undefined,
  cfg: InjectionConfig,
): { decision: InjectionDecision; patch: JsonPatchOp[] } {
  const decision = injectionDecision(pod, namespace, cfg, "webhook");
  if (!decision.inject) return { decision, patch: [] };
  const injected = injectPod(pod, namespace?.name ?? pod.metadata?.namespace ?? "", cfg);
  return { decision, patch: jsonPatch(pod, injected) };
}
