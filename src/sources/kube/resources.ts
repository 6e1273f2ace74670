// What the kube source watches: the platform kinds at fixed versions, and each
// mesh kind at the version its API group prefers (all served versions of a
// CRD share one schema, so one watch sees objects written in any of them).
import { MESH_KINDS, type MeshKind, PLATFORM_KINDS, type PlatformKind } from "../../config/index.js";
import type { KubeHttp } from "./http.js";

export interface WatchedResource {
  kind: PlatformKind | MeshKind;
  /** `v1`, `discovery.k8s.io/v1`, `networking.istio.io/v1`, … */
  apiVersion: string;
  plural: string;
  namespaced: boolean;
  mesh: boolean;
}

export function collectionPath(r: Pick<WatchedResource, "apiVersion" | "plural">, namespace?: string): string {
  const base = r.apiVersion.includes("/") ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
  return namespace ? `${base}/namespaces/${namespace}/${r.plural}` : `${base}/${r.plural}`;
}

export function objectPath(r: Pick<WatchedResource, "apiVersion" | "plural">, namespace: string, name: string): string {
  return `${collectionPath(r, namespace)}/${name}`;
}

export function platformResources(): WatchedResource[] {
  return (Object.keys(PLATFORM_KINDS) as PlatformKind[]).map((kind) => ({
    kind,
    apiVersion: PLATFORM_KINDS[kind].apiVersion,
    plural: PLATFORM_KINDS[kind].plural,
    namespaced: PLATFORM_KINDS[kind].namespaced,
    mesh: false,
  }));
}

interface ApiGroup {
  preferredVersion?: { version: string };
  versions?: { version: string }[];
}

interface ResourceList {
  resources?: { name: string }[];
}

/**
 * The version to watch for each mesh kind, from API discovery: the group's
 * preferred version when Trellis serves it, else the newest one both serve.
 * Kinds whose CRD is missing are returned in `missing`.
 */
export async function discoverMeshResources(
  http: KubeHttp,
  kinds: readonly MeshKind[] = Object.keys(MESH_KINDS) as MeshKind[],
): Promise<{ resources: WatchedResource[]; missing: { kind: MeshKind; reason: string }[] }> {
  const resources: WatchedResource[] = [];
  const missing: { kind: MeshKind; reason: string }[] = [];
  const groups = new Map<string, ApiGroup | undefined>();
  const served = new Map<string, Set<string>>();
  for (const kind of kinds) {
    const info = MESH_KINDS[kind];
    if (!groups.has(info.group)) {
      const res = await http.request<ApiGroup>("GET", `/apis/${info.group}`);
      if (res.status === 404) groups.set(info.group, undefined);
      else if (res.status === 200) groups.set(info.group, res.body);
      else throw new Error(`discovery of ${info.group}: HTTP ${res.status}`);
    }
    const group = groups.get(info.group);
    if (!group) {
      missing.push({ kind, reason: `API group ${info.group} is not served (CRDs not installed)` });
      continue;
    }
    const offered = new Set((group.versions ?? []).map((v) => v.version));
    const preferred = group.preferredVersion?.version;
    const ours = [...info.versions].reverse(); // newest first
    const version =
      preferred && ours.includes(preferred as never) ? preferred : ours.find((v) => offered.has(v as string));
    if (!version) {
      missing.push({
        kind,
        reason: `${info.group} serves ${[...offered].join(", ") || "no versions"}; Trellis reads ${info.versions.join(", ")}`,
      });
      continue;
    }
    const gv = `${info.group}/${version}`;
    if (!served.has(gv)) {
      const res = await http.request<ResourceList>("GET", `/apis/${gv}`);
      served.set(gv, new Set(res.status === 200 ? (res.body.resources ?? []).map((r) => r.name) : []));
    }
    if (!served.get(gv)?.has(info.plural)) {
      missing.push({ kind, reason: `${gv} has no resource ${info.plural} (its CRD is not installed)` });
      continue;
    }
    resources.push({ kind, apiVersion: gv, plural: info.plural, namespaced: true, mesh: true });
  }
  return { resources, missing };
}
