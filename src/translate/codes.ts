// Diagnostic codes emitted by translate/. Stable: never reuse a code.
// Each is documented in docs/diagnostics.md.
export const TRANSLATE_CODES = {
  /** A kind that is validated but not yet translated into Envoy config. */
  kindNotTranslated: "TRL3001",
  /** A field that is validated but not yet honoured by the translation. */
  fieldNotHonoured: "TRL3002",
  /** A ServiceEntry resolution that proxyless gRPC cannot use yet. */
  resolutionUnsupported: "TRL3003",
} as const;
