// Reads a directory of YAML files into mesh objects. The only I/O is reading;
// parsing and duplicate detection are pure functions shared with the watcher.

import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Diagnostic } from "../../model/diagnostic.js";
import { FILE_SOURCE_CODES } from "./codes.js";
import { parseYamlFile } from "./parse-file.js";
import type { FileLoadResult, LoadedObject } from "./types.js";

const YAML_FILE = /\.ya?ml$/;

/** The content of one file as read, with its hash; `error` when it could not be read. */
export interface FileContent {
  file: string;
  text: string;
  hash: string;
  error?: string;
}

/**
 * Every `*.yaml` / `*.yml` file under `dir`, recursively, as `/`-separated
 * paths relative to `dir`, sorted by code point so the order (and so which of
 * two duplicates wins) never depends on the platform. Symlinks to files are
 * followed; symlinks to directories are not (no cycles).
 */
export async function listYamlFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (relative: string): Promise<void> => {
    const entries = await readdir(join(dir, relative), { withFileTypes: true }).catch((error: unknown) => {
      // A subdirectory removed while we walk is simply gone; the root must exist.
      if (relative !== "" && isNotFound(error)) return [];
      throw error;
    });
    for (const entry of entries) {
      // Hidden entries are skipped: editor lock files (`.#mesh.yaml`) and the
      // `..data` / `..<timestamp>` directories of a mounted ConfigMap, whose
      // files are also reachable through the top-level symlinks.
      if (entry.name.startsWith(".")) continue;
      const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) await walk(path);
      else if (YAML_FILE.test(entry.name)) {
        if (entry.isFile()) files.push(path);
        else if (entry.isSymbolicLink() && (await stat(join(dir, path)).catch(() => undefined))?.isFile()) {
          files.push(path);
        }
      }
    }
  };
  await walk("");
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function isNotFound(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

export function hashText(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Reads the files; one that vanished since it was listed is left out (a watcher will see the change). */
export async function readFiles(dir: string, files: readonly string[]): Promise<FileContent[]> {
  const contents = await Promise.all(
    files.map(async (file): Promise<FileContent | undefined> => {
      try {
        const text = await readFile(join(dir, file), "utf8");
        return { file, text, hash: hashText(text) };
      } catch (error) {
        if (isNotFound(error)) return undefined;
        const message = error instanceof Error ? error.message : String(error);
        return { file, text: "", hash: `unreadable:${message}`, error: message };
      }
    }),
  );
  return contents.filter((c): c is FileContent => c !== undefined);
}

/** Parses one read file (pure). */
export function parseFileContent(content: FileContent): FileLoadResult {
  if (content.error !== undefined) {
    return {
      objects: [],
      diagnostics: [
        {
          code: FILE_SOURCE_CODES.UNREADABLE,
          severity: "error",
          object: { kind: "<unknown kind>", source: { file: content.file } },
          message: `cannot read file: ${content.error}`,
        },
      ],
    };
  }
  return parseYamlFile(content.file, content.text);
}

export function objectKey(object: LoadedObject["object"]): string {
  return `${object.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name}`;
}

/**
 * Joins per-file results (already in file order) into one, keeping the first
 * object of every kind/namespace/name and reporting the later ones.
 */
export function combineFileResults(perFile: readonly FileLoadResult[]): FileLoadResult {
  const objects: LoadedObject[] = [];
  const diagnostics: Diagnostic[] = [];
  const seen = new Map<string, LoadedObject>();
  for (const result of perFile) {
    diagnostics.push(...result.diagnostics);
    for (const loaded of result.objects) {
      const key = objectKey(loaded.object);
      const first = seen.get(key);
      if (first === undefined) {
        seen.set(key, loaded);
        objects.push(loaded);
        continue;
      }
      const { kind, metadata } = loaded.object;
      diagnostics.push({
        code: FILE_SOURCE_CODES.DUPLICATE,
        severity: "error",
        object: { kind, namespace: metadata.namespace, name: metadata.name, source: loaded.source },
        field: "metadata.name",
        message: `${kind} ${metadata.namespace}/${metadata.name} is already defined in ${first.source.file} document ${first.source.documentIndex}; this definition is ignored`,
      });
    }
  }
  return { objects, diagnostics };
}

/** Loads every YAML file under `dir`. Throws only if `dir` itself cannot be read. */
export async function loadDirectory(dir: string): Promise<FileLoadResult> {
  const contents = await readFiles(dir, await listYamlFiles(dir));
  return combineFileResults(contents.map(parseFileContent));
}
