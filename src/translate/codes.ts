// Diagnostic codes emitted by translate/. Stable: never reuse a code.
// Each is documented in docs/diagnostics.md.
export const TRANSLATE_CODES = {
  /** A kind that is validated but not yet translated into Envoy config. */
  kindNotTranslated: "TRL3001",
  // TRL3002 and TRL3003 are retired (ServiceEntry fields and resolutions are
  // translated or reported under TRL32xx); never reuse them.
} as const;
