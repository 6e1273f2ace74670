// The Istio API groups and the versions of them Trellis serves. All served
// versions of a group share one schema, as they do in Istio.

export const NETWORKING_API_VERSIONS = [
  "networking.istio.io/v1alpha3",
  "networking.istio.io/v1beta1",
  "networking.istio.io/v1",
] as const;

export const SECURITY_API_VERSIONS = ["security.istio.io/v1beta1", "security.istio.io/v1"] as const;

export const TELEMETRY_API_VERSIONS = ["telemetry.istio.io/v1alpha1", "telemetry.istio.io/v1"] as const;

/** Trellis's own policy API: what Istio users otherwise write EnvoyFilter patches for. */
export const POLICY_API_VERSIONS = ["policy.trellis.dev/v1alpha1"] as const;
