// Diagnostic codes of the cross-object checks in analyze-*.ts (TRL3501–TRL3599):
// references that resolve to nothing (Sidecar egress hosts, workload
// selectors) and deprecated API versions and fields. Stable: never reuse a
// code. Each is documented in docs/diagnostics.md and docs/analyze.md.
export const ANALYZE_CODES = {
  /** A Sidecar egress host (`namespace/dnsName`) that names no service in that namespace: nothing is imported. */
  sidecarHostNotFound: "TRL3501",
  /** A workload selector that matches no Pod or WorkloadEntry: the object applies to nothing. */
  selectsNoWorkload: "TRL3502",
  /** A field Istio deprecates (still honoured); the message names its replacement. */
  deprecatedField: "TRL3503",
  /** An older API version of a kind that is served as `…/v1` too (same schema). */
  deprecatedApiVersion: "TRL3504",
} as const;
