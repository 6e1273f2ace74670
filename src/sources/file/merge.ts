// The "keep serving the last good config" policy, for callers of the file
// source: an object is never dropped because the file it lives in broke.

import type { Diagnostic } from "../../model/diagnostic.js";
import { FILE_SOURCE_CODES } from "./codes.js";
import { objectKey } from "./load-directory.js";
import type { FileLoadResult, LoadedObject } from "./types.js";

function filesWithErrors(result: FileLoadResult): Set<string> {
  const files = new Set<string>();
  for (const d of result.diagnostics) {
    if (d.severity === "error" && d.object?.source?.file !== undefined) files.add(d.object.source.file);
  }
  return files;
}

/**
 * Combines a new load with the last result served. For every file that has an
 * error in `next`, the objects `prev` had from that file stay, unless `next`
 * itself provides an object with the same kind/namespace/name. So, like
 * `kubectl apply` of a multi-document file, the valid documents of a broken
 * file take effect, the invalid ones keep their last valid version, and a
 * document whose removal coincides with an error in its file stays until the
 * file is valid again. Files without errors are taken from `next` as they are
 * (a deleted file deletes its objects).
 *
 * Pass the returned value as `prev` next time, so a file that stays broken
 * across several reloads keeps its last good objects. `next`'s diagnostics are
 * all kept, plus a warning (TRL1005) for each object served from `prev`.
 */
export function mergeWithLastGood(prev: FileLoadResult | undefined, next: FileLoadResult): FileLoadResult {
  if (prev === undefined) return next;
  const broken = filesWithErrors(next);
  if (broken.size === 0) return next;

  const served = new Set(next.objects.map((loaded) => objectKey(loaded.object)));
  const kept: LoadedObject[] = [];
  const keptDiagnostics: Diagnostic[] = [];
  for (const loaded of prev.objects) {
    if (!broken.has(loaded.source.file)) continue;
    const key = objectKey(loaded.object);
    if (served.has(key)) continue;
    served.add(key);
    kept.push(loaded);
    const { kind, metadata } = loaded.object;
    keptDiagnostics.push({
      code: FILE_SOURCE_CODES.KEPT_LAST_GOOD,
      severity: "warning",
      object: { kind, namespace: metadata.namespace, name: metadata.name, source: loaded.source },
      message: `${loaded.source.file} has errors; still serving the last valid version of this object`,
    });
  }
  if (kept.length === 0) return next;

  const objects = [...next.objects, ...kept].sort(
    (a, b) =>
      (a.source.file < b.source.file ? -1 : a.source.file > b.source.file ? 1 : 0) ||
      a.source.documentIndex - b.source.documentIndex,
  );
  return { objects, diagnostics: [...next.diagnostics, ...keptDiagnostics] };
}
