// Diagnostic codes of the Kubernetes source. Stable, never reused; documented
// in docs/diagnostics.md.

export const KUBE_SOURCE_CODES = {
  /** A mesh custom resource is not valid (the API server's CRD schema is looser than Trellis's, or the CRDs are Istio's); it is not served. */
  INVALID: "TRL1101",
  /** A mesh custom resource became invalid; its last valid version (same uid) is still served. */
  KEPT_LAST_GOOD: "TRL1102",
  /** A mesh kind's CRD is not installed (or serves no version Trellis knows); objects of that kind are not watched until it appears. */
  KIND_NOT_SERVED: "TRL1103",
  /** Watching a resource keeps failing; the last known objects are served until the watch recovers. */
  WATCH_FAILING: "TRL1104",
} as const;
