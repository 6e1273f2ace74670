// Diagnostic codes of the file source. Codes are stable and never reused;
// each is documented in docs/diagnostics.md.

export const FILE_SOURCE_CODES = {
  /** A document is not valid YAML; it is skipped. */
  YAML_SYNTAX: "TRL1001",
  /** A document is not a valid mesh object (unknown kind or apiVersion, unknown field, wrong type or value, missing field); it is skipped. */
  SCHEMA: "TRL1002",
  /** Two documents define the same kind/namespace/name; the first by file path and document index is used, the later ones are skipped. */
  DUPLICATE: "TRL1003",
  /** A file could not be read. */
  UNREADABLE: "TRL1004",
  /** A file has errors, and an object from its last valid version is still being served (see mergeWithLastGood). */
  KEPT_LAST_GOOD: "TRL1005",
  /** A YAML construct was read in a way that may not be what was meant (e.g. an unknown tag read as a plain string). */
  YAML_WARNING: "TRL1006",
} as const;

export type FileSourceCode = (typeof FILE_SOURCE_CODES)[keyof typeof FILE_SOURCE_CODES];
