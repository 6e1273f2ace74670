// Pure: the text of one YAML file → the mesh objects in it and a diagnostic for
// every document that is not one. No I/O.

import { parseAllDocuments } from "yaml";
import { isPlatformKind, PLATFORM_KINDS, parseSourceObject } from "../../config/index.js";
import type { Diagnostic, ObjectRef } from "../../model/diagnostic.js";
import { FILE_SOURCE_CODES } from "./codes.js";
import type { FileLoadResult } from "./types.js";

/** Namespace of objects whose metadata does not name one, as `kubectl apply` does without `-n`. */
export const DEFAULT_NAMESPACE = "default";

const UNKNOWN_KIND = "<unknown kind>";

/** yaml's messages end with " at line L, column C:" followed by a code excerpt; keep the first line. */
function yamlMessage(message: string): string {
  return (message.split("\n")[0] ?? message).replace(/:$/, "");
}

/** What a diagnostic can say about a document that failed validation: kind, namespace and name when they are readable. */
function refOf(doc: unknown, file: string, documentIndex: number): ObjectRef {
  const ref: ObjectRef = { kind: UNKNOWN_KIND, source: { file, documentIndex } };
  if (typeof doc !== "object" || doc === null) return ref;
  const { kind, metadata } = doc as { kind?: unknown; metadata?: unknown };
  if (typeof kind === "string") ref.kind = kind;
  if (typeof metadata === "object" && metadata !== null) {
    const { name, namespace } = metadata as { name?: unknown; namespace?: unknown };
    if (typeof name === "string") ref.name = name;
    ref.namespace = typeof namespace === "string" ? namespace : DEFAULT_NAMESPACE;
  }
  return ref;
}

/** Parses one file's text. `file` is the path relative to the source directory, used in every result. */
export function parseYamlFile(file: string, text: string): FileLoadResult {
  const result: FileLoadResult = { objects: [], diagnostics: [] };
  for (const [documentIndex, doc] of parseAllDocuments(text).entries()) {
    const object: ObjectRef = { kind: UNKNOWN_KIND, source: { file, documentIndex } };
    for (const warning of doc.warnings) {
      result.diagnostics.push({
        code: FILE_SOURCE_CODES.YAML_WARNING,
        severity: "warning",
        object,
        message: yamlMessage(warning.message),
      });
    }
    if (doc.errors.length > 0) {
      for (const error of doc.errors) {
        result.diagnostics.push({
          code: FILE_SOURCE_CODES.YAML_SYNTAX,
          severity: "error",
          object,
          message: yamlMessage(error.message),
        });
      }
      continue;
    }
    let value: unknown;
    try {
      value = doc.toJS();
    } catch (error) {
      // e.g. an alias bomb exceeding yaml's alias limit.
      result.diagnostics.push({
        code: FILE_SOURCE_CODES.YAML_SYNTAX,
        severity: "error",
        object,
        message: error instanceof Error ? error.message : String(error),
      });
      continue;
    }
    // Empty documents (only comments, or a trailing `---`) are not objects.
    if (value === null || value === undefined) continue;
    const parsed = parseSourceObject(value);
    if (!parsed.ok) {
      const ref = refOf(value, file, documentIndex);
      for (const error of parsed.errors) {
        const diagnostic: Diagnostic = {
          code: FILE_SOURCE_CODES.SCHEMA,
          severity: "error",
          object: ref,
          message: error.message,
        };
        if (error.field !== "") diagnostic.field = error.field;
        result.diagnostics.push(diagnostic);
      }
      continue;
    }
    // The parsed object is a fresh copy, so filling in the namespace touches nothing else.
    const kind = parsed.value.kind;
    const clusterScoped = isPlatformKind(kind) && !PLATFORM_KINDS[kind].namespaced;
    if (!clusterScoped) parsed.value.metadata.namespace ??= DEFAULT_NAMESPACE;
    result.objects.push({ object: parsed.value, source: { file, documentIndex } });
  }
  return result;
}
