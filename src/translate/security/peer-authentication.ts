// PeerAuthentication with Istio's semantics (pilot's ComposePeerAuthentication
// and BestEffortInferServiceMTLSMode): which mTLS mode a workload's server
// side enforces, per port, and which mode a client may assume for a service.
//
// - Levels: mesh (root namespace, no selector), namespace (no selector, or an
//   empty matchLabels), workload (a selector matching the workload's labels,
//   not in the root namespace: Istio ignores selector policies there).
// - Several policies at one level: the oldest wins (creationTimestamp; objects
//   without one, as read from files, come after and are ordered by name).
// - `mtls.mode` UNSET (or no `mtls`) inherits from the level above: workload →
//   namespace → mesh → PERMISSIVE.
// - `portLevelMtls` (workload level only; Istio rejects it without a selector)
//   is keyed by the workload's port (the container port, a service's
//   targetPort); an UNSET port inherits the workload's mode.
import type { MeshConfig } from "../../config/mesh-config.js";
import type { MutualTLSMode, PeerAuthentication } from "../../config/security/peer-authentication.js";
import { labelsMatch } from "../../model/labels.js";
import { type MeshSnapshot, objectsOfKind, type SourcedObject } from "../../model/snapshot.js";

/** The effective mode of a port (UNSET resolved). */
export type MtlsMode = "STRICT" | "PERMISSIVE" | "DISABLE";

export interface WorkloadMtls {
  /** The workload-wide mode: every port without a port-level setting, and ports no chain serves. */
  mode: MtlsMode;
  /** Port-level modes (workload port → mode), from the workload-level policy's portLevelMtls. */
  ports: ReadonlyMap<number, MtlsMode>;
}

export interface PeerAuthenticationIndex {
  rootNamespace: string;
  /** The mesh-level policy in effect (the oldest), if any. */
  mesh?: SourcedObject<PeerAuthentication>;
  /** The namespace-level policy in effect per namespace (the oldest). */
  namespaces: ReadonlyMap<string, SourcedObject<PeerAuthentication>>;
  /** Workload-level policies per namespace, oldest first. */
  workloads: ReadonlyMap<string, readonly SourcedObject<PeerAuthentication>[]>;
  /** Every policy of each level, oldest first (for analysis). */
  levels: {
    mesh: readonly SourcedObject<PeerAuthentication>[];
    namespaces: ReadonlyMap<string, readonly SourcedObject<PeerAuthentication>[]>;
    /** Policies with a selector in the root namespace: ignored. */
    ignored: readonly SourcedObject<PeerAuthentication>[];
  };
}

const namespaceOf = (s: SourcedObject<PeerAuthentication>) => s.object.metadata.namespace ?? "default";

/** Whether a policy selects particular workloads (an empty matchLabels selects the whole namespace, as in Istio). */
export function hasSelector(pa: PeerAuthentication): boolean {
  return Object.keys(pa.spec.selector?.matchLabels ?? {}).length > 0;
}

function timestamp(s: SourcedObject<PeerAuthentication>): number {
  const t = s.object.metadata.creationTimestamp;
  const ms = t === undefined ? Number.NaN : Date.parse(t);
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}

/** Oldest first; without timestamps (files), by namespace/name. */
export function olderFirst(a: SourcedObject<PeerAuthentication>, b: SourcedObject<PeerAuthentication>): number {
  const ta = timestamp(a);
  const tb = timestamp(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return `${namespaceOf(a)}/${a.object.metadata.name}`.localeCompare(`${namespaceOf(b)}/${b.object.metadata.name}`);
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

export function buildPeerAuthenticationIndex(snapshot: MeshSnapshot, mesh: MeshConfig): PeerAuthenticationIndex {
  const all = objectsOfKind<PeerAuthentication>(snapshot, "PeerAuthentication").sort(olderFirst);
  const meshLevel: SourcedObject<PeerAuthentication>[] = [];
  const namespaceLevel = new Map<string, SourcedObject<PeerAuthentication>[]>();
  const workloads = new Map<string, SourcedObject<PeerAuthentication>[]>();
  const ignored: SourcedObject<PeerAuthentication>[] = [];
  for (const s of all) {
    const ns = namespaceOf(s);
    const root = ns === mesh.rootNamespace;
    if (!hasSelector(s.object)) {
      if (root) meshLevel.push(s);
      else push(namespaceLevel, ns, s);
    } else if (root) {
      ignored.push(s);
    } else {
      push(workloads, ns, s);
    }
  }
  const namespaces = new Map<string, SourcedObject<PeerAuthentication>>();
  for (const [ns, list] of namespaceLevel) if (list[0]) namespaces.set(ns, list[0]);
  return {
    rootNamespace: mesh.rootNamespace,
    mesh: meshLevel[0],
    namespaces,
    workloads,
    levels: { mesh: meshLevel, namespaces: namespaceLevel, ignored },
  };
}

/** A policy's mode, or undefined when it inherits (UNSET or no `mtls`). */
function modeOf(mtls: { mode?: MutualTLSMode } | undefined): MtlsMode | undefined {
  const m = mtls?.mode;
  return m === undefined || m === "UNSET" ? undefined : m;
}

/** The mode a namespace's workloads get without workload-level policies: namespace, else mesh, else PERMISSIVE. */
export function namespaceMtlsMode(index: PeerAuthenticationIndex, namespace: string): MtlsMode {
  return (
    modeOf(index.namespaces.get(namespace)?.object.spec.mtls) ?? modeOf(index.mesh?.object.spec.mtls) ?? "PERMISSIVE"
  );
}

/** The workload-level policy that applies to a workload (the oldest whose selector matches), if any. */
export function workloadPolicy(
  index: PeerAuthenticationIndex,
  namespace: string,
  labels: Readonly<Record<string, string>>,
): SourcedObject<PeerAuthentication> | undefined {
  return index.workloads.get(namespace)?.find((s) => labelsMatch(s.object.spec.selector?.matchLabels ?? {}, labels));
}

/** What a workload's server side enforces. */
export function workloadMtls(
  index: PeerAuthenticationIndex,
  namespace: string,
  labels: Readonly<Record<string, string>>,
): WorkloadMtls {
  const policy = workloadPolicy(index, namespace, labels)?.object.spec;
  const mode = modeOf(policy?.mtls) ?? namespaceMtlsMode(index, namespace);
  const ports = new Map<number, MtlsMode>();
  for (const [port, mtls] of Object.entries(policy?.portLevelMtls ?? {})) {
    ports.set(Number(port), modeOf(mtls) ?? mode);
  }
  return { mode, ports };
}

export function portMode(m: WorkloadMtls, port: number): MtlsMode {
  return m.ports.get(port) ?? m.mode;
}
