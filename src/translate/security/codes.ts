// Diagnostic codes of mutual TLS translation: PeerAuthentication, auto mTLS
// and DestinationRule ISTIO_MUTUAL (TRL3601–TRL3699). Stable: never reuse a
// code. Each is listed in docs/compat/peer-authentication.md (and the range in
// docs/diagnostics.md) with what the translation does instead.
export const SECURITY_CODES = {
  /** Several PeerAuthentications at one level (mesh, namespace, or one workload): the oldest wins. */
  conflictingPeerAuthentications: "TRL3601",
  /** portLevelMtls without a selector: Istio rejects it; the port-level modes are ignored. */
  portLevelWithoutSelector: "TRL3602",
  /** A PeerAuthentication with a selector in the root namespace: Istio ignores it. */
  selectorInRootNamespace: "TRL3603",
  /** portLevelMtls for one of the sidecar's own ports (15000, 15001, 15006, 15021, 15090): ignored. */
  portLevelSidecarPort: "TRL3604",
  /** DestinationRule ISTIO_MUTUAL with certificate fields that must be empty: ignored, the workload identity is used. */
  istioMutualFieldIgnored: "TRL3605",
  /** DestinationRule tls DISABLE/SIMPLE/MUTUAL toward a service whose PeerAuthentication is STRICT: connections are refused. */
  tlsConflictsWithStrict: "TRL3606",
} as const;
