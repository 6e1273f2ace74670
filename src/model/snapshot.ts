// model/ holds the immutable MeshSnapshot and the ChangeSet between two
// snapshots. It knows nothing of Envoy and imports only types from config/.
import { createHash } from "node:crypto";
import type { Diagnostic } from "./diagnostic.js";

/** The minimal shape of every validated mesh object (config/ has the full types). */
export interface MeshObjectLike {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: unknown;
}

export interface ObjectSource {
  file?: string;
  documentIndex?: number;
}

export interface SourcedObject<T extends MeshObjectLike = MeshObjectLike> {
  object: T;
  source?: ObjectSource;
}

export interface MeshSnapshot {
  /** Increases by one with every snapshot built in this process. */
  readonly version: number;
  readonly objects: readonly SourcedObject[];
  /** Diagnostics from the sources (invalid documents, …) at the time of this snapshot. */
  readonly sourceDiagnostics: readonly Diagnostic[];
  readonly hashes: ReadonlyMap<string, string>;
}

/** What changed between two snapshots, by object key `Kind/namespace/name`. */
export interface ChangeSet {
  readonly added: readonly string[];
  readonly updated: readonly string[];
  readonly removed: readonly string[];
  readonly kinds: ReadonlySet<string>;
}

export function objectKey(o: MeshObjectLike): string {
  return `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}

/**
 * Content hashes by object identity. Sources hand over the very same object
 * while it does not change (the file source per unchanged file, the kube
 * source per resourceVersion), so a snapshot of 10,000 objects with one change
 * hashes one object, not 10,000.
 */
const hashes = new WeakMap<object, string>();

function hashObject(o: MeshObjectLike): string {
  let h = hashes.get(o);
  if (h === undefined) {
    h = createHash("sha256").update(JSON.stringify(o)).digest("base64url");
    hashes.set(o, h);
  }
  return h;
}

let versionCounter = 0;

export function buildSnapshot(
  prev: MeshSnapshot | undefined,
  objects: readonly SourcedObject[],
  sourceDiagnostics: readonly Diagnostic[] = [],
): { snapshot: MeshSnapshot; changes: ChangeSet } {
  const hashes = new Map<string, string>();
  for (const s of objects) hashes.set(objectKey(s.object), hashObject(s.object));
  const snapshot: MeshSnapshot = { version: ++versionCounter, objects, sourceDiagnostics, hashes };
  return { snapshot, changes: diffHashes(prev?.hashes, hashes) };
}

/** What changed from `before` to `after` (object key → content hash), by key and kind. */
export function diffHashes(
  before: ReadonlyMap<string, string> | undefined,
  after: ReadonlyMap<string, string>,
): ChangeSet {
  const added: string[] = [];
  const updated: string[] = [];
  const removed: string[] = [];
  const kinds = new Set<string>();
  for (const [k, h] of after) {
    const was = before?.get(k);
    if (was === undefined) added.push(k);
    else if (was !== h) updated.push(k);
    else continue;
    kinds.add(k.slice(0, k.indexOf("/")));
  }
  for (const k of before?.keys() ?? []) {
    if (!after.has(k)) {
      removed.push(k);
      kinds.add(k.slice(0, k.indexOf("/")));
    }
  }
  return { added, updated, removed, kinds };
}

export function isEmptyChange(c: ChangeSet): boolean {
  return c.added.length === 0 && c.updated.length === 0 && c.removed.length === 0;
}

/** Objects by kind, grouped once per snapshot: translation asks for each kind many times. */
const byKind = new WeakMap<MeshSnapshot, Map<string, SourcedObject[]>>();

export function objectsOfKind<T extends MeshObjectLike>(s: MeshSnapshot, kind: T["kind"]): SourcedObject<T>[] {
  let groups = byKind.get(s);
  if (!groups) {
    groups = new Map();
    for (const o of s.objects) {
      const list = groups.get(o.object.kind);
      if (list) list.push(o);
      else groups.set(o.object.kind, [o]);
    }
    byKind.set(s, groups);
  }
  // A copy: callers may sort or filter what they get.
  return [...(groups.get(kind) ?? [])] as SourcedObject<T>[];
}
