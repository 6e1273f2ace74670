// The Kubernetes source: one informer per watched resource (platform kinds and
// every mesh CRD), validated with config/'s zod schemas into the same
// `{ objects, diagnostics }` the file source produces. An invalid custom
// resource is reported and its last valid version (same uid) stays served.
// Parsed results are cached per object by uid and resourceVersion, so a change
// re-validates only what changed.
import type { KubernetesObject } from "@kubernetes/client-node";
import {
  isPlatformKind,
  LOCALITY_LABELS,
  type MeshKind,
  parseSourceObject,
  type SourceObject,
} from "../../config/index.js";
import type { Diagnostic, ObjectRef } from "../../model/diagnostic.js";
import type { SourcedObject } from "../../model/snapshot.js";
import { KUBE_SOURCE_CODES } from "./codes.js";
import type { KubeHttp } from "./http.js";
import { Informer } from "./informer.js";
import { collectionPath, discoverMeshResources, platformResources, type WatchedResource } from "./resources.js";

export interface KubeLoadResult {
  objects: SourcedObject<SourceObject>[];
  diagnostics: Diagnostic[];
}

/** What the status writer needs to know about a mesh custom resource as the API server has it. */
export interface MeshResourceInfo {
  kind: MeshKind;
  namespace: string;
  name: string;
  uid: string;
  generation?: number;
  resource: WatchedResource;
  status?: unknown;
}

export interface SourceLogger {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
  error(o: object, m: string): void;
}

export interface KubeSourceOptions {
  http: KubeHttp;
  onUpdate: (result: KubeLoadResult) => void;
  logger?: SourceLogger;
  /** How often to look again for mesh CRDs that were not installed (default 30 s). */
  rediscoverMs?: number;
  /** Informer backoff bounds (tests shorten them). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

interface Parsed {
  resourceVersion: string | undefined;
  object?: SourceObject;
  diagnostics: Diagnostic[];
}

interface Watched {
  resource: WatchedResource;
  informer: Informer;
}

const noLog: SourceLogger = { info() {}, warn() {}, error() {} };

/** The API object as a mesh/platform document: the list's kind and version, and only the metadata the model reads. */
function toDocument(o: KubernetesObject, r: WatchedResource): Record<string, unknown> {
  const md = o.metadata ?? {};
  const metadata: Record<string, unknown> = { name: md.name, namespace: md.namespace };
  if (r.kind === "Node") {
    // Only the locality labels: node heartbeats and other labels must not reach the model.
    const labels: Record<string, string> = {};
    for (const key of Object.values(LOCALITY_LABELS)) {
      const v = md.labels?.[key];
      if (v !== undefined) labels[key] = v;
    }
    metadata.labels = labels;
  } else {
    if (md.labels) metadata.labels = md.labels;
    if (r.mesh || r.kind === "Service") metadata.annotations = md.annotations;
  }
  if (r.mesh) {
    const spec = (o as { spec?: unknown }).spec;
    return { apiVersion: r.apiVersion, kind: r.kind, metadata, ...(spec !== undefined ? { spec } : {}) };
  }
  return { ...(o as object), apiVersion: r.apiVersion, kind: r.kind, metadata };
}

function refOf(o: KubernetesObject, kind: string): ObjectRef {
  return { kind, namespace: o.metadata?.namespace, name: o.metadata?.name };
}

export class KubeSource {
  private readonly log: SourceLogger;
  private watched: Watched[] = [];
  private missing: { kind: MeshKind; reason: string }[] = [];
  private readonly parsed = new Map<string, Parsed>();
  /** uid → last valid object, for invalid updates of a custom resource. */
  private readonly lastGood = new Map<string, SourceObject>();
  private rebuildQueued = false;
  private started = false;
  private stopped = false;
  private rediscoverTimer: NodeJS.Timeout | undefined;
  private latest: KubeLoadResult = { objects: [], diagnostics: [] };

  constructor(private readonly opts: KubeSourceOptions) {
    this.log = opts.logger ?? noLog;
  }

  /** Starts every informer and resolves with the first complete view once all have listed. */
  async start(): Promise<KubeLoadResult> {
    const mesh = await this.discover();
    if (this.stopped) return this.latest;
    for (const r of [...platformResources(), ...mesh]) this.watch(r);
    await Promise.all(this.watched.map((w) => w.informer.synced));
    this.started = true;
    this.latest = this.build();
    this.scheduleRediscovery();
    return this.latest;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.rediscoverTimer);
    await Promise.all(this.watched.map((w) => w.informer.stop()));
  }

  current(): KubeLoadResult {
    return this.latest;
  }

  /** Every mesh custom resource as last seen from the API server (for status). */
  meshResources(): MeshResourceInfo[] {
    const out: MeshResourceInfo[] = [];
    for (const w of this.watched) {
      if (!w.resource.mesh) continue;
      for (const o of w.informer.objects()) {
        const md = o.metadata ?? {};
        if (!md.name || !md.namespace || !md.uid) continue;
        out.push({
          kind: w.resource.kind as MeshKind,
          namespace: md.namespace,
          name: md.name,
          uid: md.uid,
          generation: md.generation,
          resource: w.resource,
          status: (o as { status?: unknown }).status,
        });
      }
    }
    return out;
  }

  /** Informer states, for /debug and readiness. */
  informerStates(): { kind: string; apiVersion: string; state: string; failures: number; lastError?: string }[] {
    return this.watched.map((w) => ({
      kind: w.resource.kind,
      apiVersion: w.resource.apiVersion,
      state: w.informer.status,
      failures: w.informer.consecutiveFailures,
      lastError: w.informer.lastError?.message,
    }));
  }

  private async discover(): Promise<WatchedResource[]> {
    // Discovery itself is retried: the API server may not be up yet.
    for (let attempt = 0; ; attempt++) {
      try {
        const { resources, missing } = await discoverMeshResources(
          this.opts.http,
          this.missing.length > 0 && this.started ? this.missing.map((m) => m.kind) : undefined,
        );
        this.missing = missing;
        for (const m of missing) this.log.warn({ kind: m.kind }, `not watching ${m.kind}: ${m.reason}`);
        return resources;
      } catch (err) {
        if (this.stopped) return [];
        const delay = Math.min(30_000, 500 * 2 ** attempt);
        this.log.warn({ err, attempt }, `API discovery failed; retrying in ${delay} ms`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private scheduleRediscovery(): void {
    if (this.stopped || this.missing.length === 0) return;
    this.rediscoverTimer = setTimeout(async () => {
      const found = await this.discover();
      for (const r of found) {
        this.log.info({ kind: r.kind, apiVersion: r.apiVersion }, `now watching ${r.kind}`);
        this.watch(r);
      }
      if (found.length > 0) this.queueRebuild();
      this.scheduleRediscovery();
    }, this.opts.rediscoverMs ?? 30_000);
  }

  private watch(resource: WatchedResource): void {
    if (this.stopped) return;
    const informer = new Informer({
      path: collectionPath(resource),
      http: this.opts.http,
      onChange: () => this.queueRebuild(),
      onError: (err, attempt) => {
        this.log.warn(
          { err: err.message, kind: resource.kind, attempt },
          `watching ${resource.kind} failed; retrying (the last known objects are still served)`,
        );
        if (attempt === 2) this.queueRebuild();
      },
      minBackoffMs: this.opts.minBackoffMs,
      maxBackoffMs: this.opts.maxBackoffMs,
    });
    this.watched.push({ resource, informer });
    informer.start();
  }

  private queueRebuild(): void {
    if (!this.started || this.rebuildQueued || this.stopped) return;
    this.rebuildQueued = true;
    setImmediate(() => {
      this.rebuildQueued = false;
      if (this.stopped) return;
      this.latest = this.build();
      this.opts.onUpdate(this.latest);
    });
  }

  private parse(o: KubernetesObject, r: WatchedResource): Parsed {
    const uid = o.metadata?.uid ?? `${r.kind}/${o.metadata?.namespace}/${o.metadata?.name}`;
    const key = `${r.kind}\u0000${uid}`;
    const rv = o.metadata?.resourceVersion;
    const cached = this.parsed.get(key);
    if (cached && rv !== undefined && cached.resourceVersion === rv) return cached;
    const result = parseSourceObject(toDocument(o, r));
    let parsed: Parsed;
    if (result.ok) {
      if (r.mesh) this.lastGood.set(uid, result.value);
      parsed = { resourceVersion: rv, object: result.value, diagnostics: [] };
    } else {
      const object = refOf(o, r.kind);
      const kept = r.mesh ? this.lastGood.get(uid) : undefined;
      const diagnostics: Diagnostic[] = result.errors.map((e) => ({
        code: KUBE_SOURCE_CODES.INVALID,
        severity: "error",
        object,
        ...(e.field ? { field: e.field } : {}),
        message: e.message,
      }));
      if (kept) {
        diagnostics.push({
          code: KUBE_SOURCE_CODES.KEPT_LAST_GOOD,
          severity: "warning",
          object,
          message: `generation ${o.metadata?.generation ?? "?"} is invalid; the last valid version is still served`,
        });
      }
      parsed = { resourceVersion: rv, object: kept, diagnostics };
    }
    this.parsed.set(key, parsed);
    return parsed;
  }

  private build(): KubeLoadResult {
    const objects: SourcedObject<SourceObject>[] = [];
    const diagnostics: Diagnostic[] = [];
    const live = new Set<string>();
    const liveUids = new Set<string>();
    for (const w of this.watched) {
      for (const o of w.informer.objects()) {
        const p = this.parse(o, w.resource);
        const uid = o.metadata?.uid ?? `${w.resource.kind}/${o.metadata?.namespace}/${o.metadata?.name}`;
        live.add(`${w.resource.kind}\u0000${uid}`);
        liveUids.add(uid);
        if (p.object) objects.push({ object: p.object });
        diagnostics.push(...p.diagnostics);
      }
      if (w.informer.consecutiveFailures >= 3) {
        diagnostics.push({
          code: KUBE_SOURCE_CODES.WATCH_FAILING,
          severity: "warning",
          object: { kind: w.resource.kind },
          message: `watching ${collectionPath(w.resource)} keeps failing (${w.informer.lastError?.message ?? "unknown error"}); serving the last known objects`,
        });
      }
    }
    // Forget parse results and last-good versions of deleted objects.
    for (const key of this.parsed.keys()) if (!live.has(key)) this.parsed.delete(key);
    for (const uid of this.lastGood.keys()) if (!liveUids.has(uid)) this.lastGood.delete(uid);
    for (const m of this.missing) {
      diagnostics.push({
        code: KUBE_SOURCE_CODES.KIND_NOT_SERVED,
        severity: "warning",
        object: { kind: m.kind },
        message: `${m.kind} objects are not watched: ${m.reason}`,
      });
    }
    // Platform kinds first, then mesh kinds; stable order for snapshots and hashes.
    objects.sort((a, b) => {
      const pa = isPlatformKind(a.object.kind) ? 0 : 1;
      const pb = isPlatformKind(b.object.kind) ? 0 : 1;
      if (pa !== pb) return pa - pb;
      const ka = `${a.object.kind}/${a.object.metadata.namespace ?? ""}/${a.object.metadata.name}`;
      const kb = `${b.object.kind}/${b.object.metadata.namespace ?? ""}/${b.object.metadata.name}`;
      return ka < kb ? -1 : ka > kb ? 1 : 0;
    });
    return { objects, diagnostics };
  }
}
