// Diagnostics are data: every stage (sources, translate) returns them instead of
// throwing on user input. They feed logs, metrics, /debug output, CR status and
// `trellis analyze` from one place. Codes are stable and never reused; each is
// listed with its meaning in docs/diagnostics.md.

export type Severity = "error" | "warning" | "info";

/** Identifies the user object a diagnostic is about. */
export interface ObjectRef {
  kind: string;
  namespace?: string;
  name?: string;
  /** Where the object came from: a file path and document index, or a Kubernetes object. */
  source?: { file?: string; documentIndex?: number };
}

export interface Diagnostic {
  code: string;
  severity: Severity;
  object?: ObjectRef;
  /** Dotted field path inside the object, e.g. `spec.endpoints[0].address`. */
  field?: string;
  message: string;
}

export function formatObjectRef(ref: ObjectRef): string {
  const name = ref.name ? `${ref.namespace ? `${ref.namespace}/` : ""}${ref.name}` : "<unnamed>";
  const where = ref.source?.file
    ? ` (${ref.source.file}${ref.source.documentIndex !== undefined ? ` document ${ref.source.documentIndex}` : ""})`
    : "";
  return `${ref.kind} ${name}${where}`;
}

/** One line for logs and CLI output: `error TRL1001 ServiceEntry default/x (mesh.yaml document 2) spec.ports[0].number: …`. */
export function formatDiagnostic(d: Diagnostic): string {
  const parts = [d.severity, d.code];
  if (d.object) parts.push(formatObjectRef(d.object));
  if (d.field) parts.push(`${d.field}:`);
  parts.push(d.message);
  return parts.join(" ");
}
