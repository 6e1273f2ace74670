// admission.k8s.io/v1 AdmissionReview in, AdmissionReview out. Parsing is
// done once here with zod; the injection decision itself is handed in
// (webhook/inject/ builds it), so this file knows the protocol and nothing
// about sidecars. Rules from the API reference
// (kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers):
// the response echoes `request.uid`; `patchType: JSONPatch` and a base64
// RFC 6902 `patch` are only sent with a patch; a refusal is `allowed: false`
// with a metav1.Status whose message the user sees.
import { z } from "zod";
import { type FieldError, parseWith } from "../../src/config/errors.js";
import { INJECTOR_ERRORS, type InjectorError } from "./errors.js";
import type { NamespaceInfo, NamespaceLookup } from "./namespaces.js";

const StringMap = z.record(z.string(), z.string());

/** Just what the webhook relies on; the rest of the Pod passes through untouched. */
export const PodObject = z.looseObject({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: z
    .looseObject({
      name: z.string().optional(),
      generateName: z.string().optional(),
      namespace: z.string().optional(),
      labels: StringMap.optional(),
      annotations: StringMap.optional(),
    })
    .optional(),
  spec: z.looseObject({
    containers: z.array(z.looseObject({ name: z.string() })).min(1),
  }),
});
export type PodObject = z.infer<typeof PodObject>;

const GroupVersionKind = z.looseObject({ group: z.string(), version: z.string(), kind: z.string() });

export const AdmissionRequest = z.looseObject({
  uid: z.string().min(1),
  kind: GroupVersionKind,
  namespace: z.string().optional(),
  name: z.string().optional(),
  operation: z.enum(["CREATE", "UPDATE", "DELETE", "CONNECT"]),
  dryRun: z.boolean().optional(),
  object: z.unknown().optional(),
});
export type AdmissionRequest = z.infer<typeof AdmissionRequest>;

export const AdmissionReview = z.looseObject({
  apiVersion: z.literal("admission.k8s.io/v1"),
  kind: z.literal("AdmissionReview"),
  request: AdmissionRequest,
});
export type AdmissionReview = z.infer<typeof AdmissionReview>;

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  patchType?: "JSONPatch";
  /** base64 of the JSON patch. */
  patch?: string;
  status?: { status: "Failure"; code: number; reason: string; message: string };
  warnings?: string[];
}

/** An injection annotation that cannot be used: where it is (`metadata.annotations["…"]`) and what is wrong with its value. */
export interface AnnotationProblem {
  field: string;
  message: string;
}

/** What webhook/inject decided for one pod; `warnings` (ignored Istio annotations) reach the user through kubectl. */
export type PodDecision = { reason: string; warnings?: readonly string[] } & (
  | { action: "inject"; patch: readonly unknown[] }
  | { action: "skip" }
  | { action: "deny"; problems: readonly AnnotationProblem[] }
);

export type DecidePod = (pod: PodObject, namespace: NamespaceInfo | undefined) => PodDecision;

export type ReviewResult = "injected" | "skipped" | "denied" | "error";

export interface ReviewOutcome {
  response: AdmissionResponse;
  result: ReviewResult;
  reason: string;
  /** `name`, or `generateName*` for a pod whose name the API server has not chosen yet. */
  pod: string;
  namespace: string;
}

export type ParsedReview = { ok: true; review: AdmissionReview; pod?: PodObject } | { ok: false; errors: FieldError[] };

function isPodRequest(req: AdmissionRequest): boolean {
  return req.kind.group === "" && req.kind.version === "v1" && req.kind.kind === "Pod";
}

/** Validates the body: an AdmissionReview, and for a Pod CREATE a Pod with at least one container. */
export function parseAdmissionReview(body: unknown): ParsedReview {
  const parsed = parseWith(AdmissionReview, body);
  if (!parsed.ok) return parsed;
  const review = parsed.value;
  if (!isPodRequest(review.request) || review.request.operation !== "CREATE") return { ok: true, review };
  const pod = parseWith(PodObject, review.request.object);
  if (!pod.ok) {
    return {
      ok: false,
      errors: pod.errors.map((e) => ({ ...e, field: `request.object${e.field ? `.${e.field}` : ""}` })),
    };
  }
  return { ok: true, review, pod: pod.value };
}

function podName(req: AdmissionRequest, pod: PodObject | undefined): string {
  const name = req.name || pod?.metadata?.name;
  if (name) return name;
  const generate = pod?.metadata?.generateName;
  return generate ? `${generate}*` : "";
}

function refused(uid: string, e: InjectorError, message: string): AdmissionResponse {
  return {
    uid,
    allowed: false,
    status: {
      status: "Failure",
      code: e.status,
      reason: e.status === 400 ? "BadRequest" : "InternalError",
      message: `trellis-injector ${e.code}: ${message}`,
    },
  };
}

/** Decides one parsed review. Never throws: failures become refusals with a code. */
export async function reviewPod(
  parsed: { review: AdmissionReview; pod?: PodObject },
  deps: { namespaces: NamespaceLookup; decide: DecidePod },
): Promise<ReviewOutcome> {
  const req = parsed.review.request;
  const uid = req.uid;
  const namespace = req.namespace ?? parsed.pod?.metadata?.namespace ?? "";
  const pod = podName(req, parsed.pod);
  const allow = (result: ReviewResult, reason: string, warnings?: readonly string[]): ReviewOutcome => ({
    response: { uid, allowed: true, ...(warnings?.length ? { warnings: [...warnings] } : {}) },
    result,
    reason,
    pod,
    namespace,
  });

  if (!isPodRequest(req)) {
    const { group, version, kind } = req.kind;
    return allow("skipped", `not a v1 Pod (${group ? `${group}/` : ""}${version} ${kind}): check the webhook's rules`);
  }
  // Injection happens once, at creation; containers cannot be added to an existing pod anyway.
  if (req.operation !== "CREATE" || !parsed.pod) return allow("skipped", `${req.operation} is not injected`);

  let ns: NamespaceInfo | undefined;
  try {
    ns = namespace ? await deps.namespaces.lookup(namespace) : undefined;
  } catch (err) {
    const e = INJECTOR_ERRORS.namespaceUnavailable;
    const message = `${e.message} ${namespace} (${(err as Error).message}); the pod is refused rather than created without its sidecar, retry`;
    return { response: refused(uid, e, message), result: "error", reason: message, pod, namespace };
  }

  let decision: PodDecision;
  try {
    decision = deps.decide(parsed.pod, ns ?? (namespace ? { name: namespace, labels: {} } : undefined));
  } catch (err) {
    const e = INJECTOR_ERRORS.injectionFailed;
    const message = `${e.message}: ${(err as Error).message}`;
    return { response: refused(uid, e, message), result: "error", reason: message, pod, namespace };
  }

  const warnings = decision.warnings?.length ? { warnings: [...decision.warnings] } : {};
  switch (decision.action) {
    case "skip":
      return allow("skipped", decision.reason, decision.warnings);
    case "deny": {
      // Refused, not admitted without the sidecar: the user asked for a mesh pod and gets told why it cannot be built.
      const e = INJECTOR_ERRORS.invalidAnnotation;
      const what = decision.problems.map((p) => `${p.field}: ${p.message}`).join("; ");
      const message = `${decision.problems.length === 1 ? e.message : "invalid injection annotations"}: ${what}`;
      return {
        response: { ...refused(uid, e, message), ...warnings },
        result: "denied",
        reason: message,
        pod,
        namespace,
      };
    }
    case "inject": {
      if (decision.patch.length === 0) return allow("skipped", decision.reason, decision.warnings);
      const patch = Buffer.from(JSON.stringify(decision.patch)).toString("base64");
      return {
        response: { uid, allowed: true, patchType: "JSONPatch", patch, ...warnings },
        result: "injected",
        reason: decision.reason,
        pod,
        namespace,
      };
    }
  }
}

export function reviewResponse(response: AdmissionResponse) {
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response };
}
