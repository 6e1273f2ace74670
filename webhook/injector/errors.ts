// Every error trellis-injector returns has a stable code, documented in
// docs/injection-webhook.md. Never reuse a code. HTTP errors (the request
// itself is wrong) come back as `{"error": {"code", "message"}}`; admission
// errors (the request is fine, the pod is refused) come back inside a 200
// AdmissionReview as `response.status` with `allowed: false`, which is how the
// API server shows the message to the user who created the pod.
export const INJECTOR_ERRORS = {
  /** The body is not a JSON `admission.k8s.io/v1` AdmissionReview with a request, or a CREATE of a Pod carries no valid Pod. */
  malformedReview: { code: "TRL9501", status: 400, message: "not a valid admission.k8s.io/v1 AdmissionReview" },
  /** The body is larger than the limit (`--max-body-bytes`). */
  bodyTooLarge: { code: "TRL9502", status: 413, message: "request body too large" },
  /** The body is not `application/json`. */
  unsupportedMediaType: { code: "TRL9503", status: 415, message: "content type must be application/json" },
  /** `/readyz`: no serving certificate yet, or the Namespace cache has not synced. */
  notReady: { code: "TRL9504", status: 503, message: "not ready" },
  /** Pod denied: an injection annotation has a value that cannot be used. */
  invalidAnnotation: { code: "TRL9505", status: 400, message: "invalid injection annotation" },
  /** Pod denied: the pod's Namespace could not be read, so the injection policy cannot be decided. */
  namespaceUnavailable: { code: "TRL9506", status: 500, message: "cannot read the pod's namespace" },
  /** Pod denied: building the injection failed (a bug: please report it with the pod spec). */
  injectionFailed: { code: "TRL9507", status: 500, message: "injection failed" },
  /** Any other error inside the server (a bug). */
  internal: { code: "TRL9508", status: 500, message: "internal error" },
} as const;

export type InjectorError = (typeof INJECTOR_ERRORS)[keyof typeof INJECTOR_ERRORS];

export function errorBody(e: InjectorError, detail?: string) {
  return { error: { code: e.code, message: detail ? `${e.message}: ${detail}` : e.message } };
}
