// The service registry view of a snapshot: services with their ports and
// endpoints, built from ServiceEntry (with inline endpoints or a
// workloadSelector over WorkloadEntries). No Envoy types here.
import { isIP } from "node:net";
import type { ServiceEntry } from "../config/networking/service-entry.js";
import type { WorkloadEntry, WorkloadEntrySpec } from "../config/networking/workload-entry.js";
import type { Diagnostic, ObjectRef } from "./diagnostic.js";
import { hostMatches } from "./hosts.js";
import { kubernetesServices } from "./kube-services.js";
import { labelsMatch } from "./labels.js";
import { type Protocol, selectProtocol } from "./protocol.js";
import { type MeshSnapshot, objectsOfKind, type SourcedObject } from "./snapshot.js";

export interface ServicePortModel {
  number: number;
  name: string;
  protocol: Protocol;
  targetPort?: number;
}

export interface EndpointModel {
  address: string;
  /** Service port number → endpoint port. */
  ports: ReadonlyMap<number, number>;
  labels: Readonly<Record<string, string>>;
  /** `region/zone/subzone`, any part may be empty. */
  locality: string;
  weight: number;
  serviceAccount?: string;
  network?: string;
  origin: ObjectRef;
}

export interface ServiceModel {
  host: string;
  namespace: string;
  /** VIPs (ServiceEntry `addresses`); empty when the service has none. */
  addresses: readonly string[];
  /** Namespaces the service is visible to (`*` for all; `.` already resolved). */
  exportTo: readonly string[];
  ports: readonly ServicePortModel[];
  resolution: NonNullable<ServiceEntry["spec"]["resolution"]>;
  location: NonNullable<ServiceEntry["spec"]["location"]>;
  endpoints: readonly EndpointModel[];
  /** Labels selecting the workloads that implement the service (ServiceEntry workloadSelector, Kubernetes selector). */
  selector?: Readonly<Record<string, string>>;
  origin: ObjectRef;
}

export interface ServiceRegistry {
  services: readonly ServiceModel[];
  /** Services by host. One host may be declared in several namespaces. */
  byHost: ReadonlyMap<string, readonly ServiceModel[]>;
  diagnostics: Diagnostic[];
}

/** Endpoints whose labels include every label of `selector` (a DestinationRule subset). */
export function endpointsMatching(
  endpoints: readonly EndpointModel[],
  selector: Record<string, string> | undefined,
): EndpointModel[] {
  if (!selector) return [...endpoints];
  return endpoints.filter((e) => labelsMatch(selector, e.labels));
}

/** The service for `host` as seen from `namespace`: one declared in that namespace wins, else the first visible one. */
export function lookupService(registry: ServiceRegistry, host: string, namespace: string): ServiceModel | undefined {
  const candidates = registry.byHost.get(host);
  if (!candidates) return undefined;
  return (
    candidates.find((s) => s.namespace === namespace) ??
    candidates.find((s) => s.exportTo.includes("*") || s.exportTo.includes(namespace))
  );
}

// Registry positions: for putting services found through `byHost` back in
// registry order, and for per-service data kept in arrays.
const positions = new WeakMap<ServiceRegistry, ReadonlyMap<ServiceModel, number>>();

function positionsOf(registry: ServiceRegistry): ReadonlyMap<ServiceModel, number> {
  let found = positions.get(registry);
  if (!found) {
    found = new Map(registry.services.map((s, i) => [s, i]));
    positions.set(registry, found);
  }
  return found;
}

/** The position of `svc` in `registry.services`; -1 when it is not one of them. */
export function registryPosition(registry: ServiceRegistry, svc: ServiceModel): number {
  return positionsOf(registry).get(svc) ?? -1;
}

/**
 * The services whose host one of `patterns` (hosts, `*.suffix` or `*`) matches,
 * in registry order: `registry.services.filter((s) => patterns.some((p) =>
 * hostMatches(p, s.host)))`, without scanning the registry for exact hosts
 * (analysis asks once per VirtualService and DestinationRule).
 */
export function servicesMatching(registry: ServiceRegistry, patterns: readonly string[]): ServiceModel[] {
  if (patterns.some((p) => p === "*" || p.startsWith("*."))) {
    return registry.services.filter((s) => patterns.some((p) => hostMatches(p, s.host)));
  }
  const found = new Set<ServiceModel>();
  for (const p of patterns) for (const s of registry.byHost.get(p) ?? []) found.add(s);
  const out = [...found];
  if (patterns.length > 1) {
    const at = positionsOf(registry);
    out.sort((a, b) => (at.get(a) ?? 0) - (at.get(b) ?? 0));
  }
  return out;
}

export const MODEL_CODES = {
  /** Two ServiceEntries in one namespace declare the same host; the first (by namespace/name) wins. */
  duplicateHost: "TRL2001",
  /** A STATIC ServiceEntry endpoint address is not an IP address. */
  staticEndpointNotIp: "TRL2002",
} as const;

export function refOf(s: SourcedObject): ObjectRef {
  return {
    kind: s.object.kind,
    namespace: s.object.metadata.namespace,
    name: s.object.metadata.name,
    source: s.source,
  };
}

function endpointOf(
  spec: WorkloadEntrySpec,
  ports: readonly ServicePortModel[],
  origin: ObjectRef,
): Omit<EndpointModel, "address"> & { address?: string } {
  const mapped = new Map<number, number>();
  for (const p of ports) mapped.set(p.number, spec.ports?.[p.name] ?? p.targetPort ?? p.number);
  return {
    address: spec.address,
    ports: mapped,
    labels: spec.labels ?? {},
    locality: spec.locality ?? "",
    weight: spec.weight && spec.weight > 0 ? spec.weight : 1,
    serviceAccount: spec.serviceAccount,
    network: spec.network,
    origin,
  };
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  return !!selector && labelsMatch(selector, labels);
}

/**
 * Every service of the snapshot: Kubernetes Services first, then
 * ServiceEntries. A ServiceEntry declaring the host of a Kubernetes Service in
 * the same namespace is reported and ignored, as a duplicate ServiceEntry is.
 */
export function buildRegistry(snapshot: MeshSnapshot, clusterDomain = "cluster.local"): ServiceRegistry {
  const kube = kubernetesServices(snapshot, clusterDomain);
  const diagnostics: Diagnostic[] = [...kube.diagnostics];
  const entries = objectsOfKind<ServiceEntry>(snapshot, "ServiceEntry").sort((a, b) =>
    `${a.object.metadata.namespace}/${a.object.metadata.name}`.localeCompare(
      `${b.object.metadata.namespace}/${b.object.metadata.name}`,
    ),
  );
  const workloads = objectsOfKind<WorkloadEntry>(snapshot, "WorkloadEntry");
  const seen = new Map<string, ObjectRef>();
  const services: ServiceModel[] = [...kube.services];
  for (const svc of kube.services) seen.set(`${svc.namespace}/${svc.host}`, svc.origin);
  for (const se of entries) {
    const spec = se.object.spec;
    const namespace = se.object.metadata.namespace ?? "default";
    const origin = refOf(se);
    const ports: ServicePortModel[] = (spec.ports ?? []).map((p) => ({
      number: p.number,
      name: p.name,
      protocol: selectProtocol(p),
      targetPort: p.targetPort,
    }));
    const exportTo = (spec.exportTo ?? ["*"]).map((e) => (e === "." ? namespace : e));
    const resolution = spec.resolution ?? "NONE";
    const endpoints: EndpointModel[] = [];
    const inline = spec.endpoints ?? [];
    inline.forEach((ep, i) => {
      const e = endpointOf(ep, ports, origin);
      if (!e.address) return;
      if (resolution === "STATIC" && !isIP(e.address)) {
        diagnostics.push({
          code: MODEL_CODES.staticEndpointNotIp,
          severity: "error",
          object: origin,
          field: `spec.endpoints[${i}].address`,
          message: `resolution STATIC needs an IP address, got "${e.address}"; use resolution DNS for host names (endpoint skipped)`,
        });
        return;
      }
      endpoints.push(e as EndpointModel);
    });
    if (spec.workloadSelector) {
      for (const we of workloads) {
        if ((we.object.metadata.namespace ?? "default") !== namespace) continue;
        if (!selects(spec.workloadSelector.labels, { ...we.object.metadata.labels, ...we.object.spec.labels }))
          continue;
        const e = endpointOf(we.object.spec, ports, refOf(we));
        e.labels = { ...we.object.metadata.labels, ...we.object.spec.labels };
        if (e.address && (resolution !== "STATIC" || isIP(e.address))) endpoints.push(e as EndpointModel);
      }
    }
    for (const host of spec.hosts) {
      // Same host in one namespace: first wins. Other namespaces may declare it too.
      const key = `${namespace}/${host}`;
      const first = seen.get(key);
      if (first) {
        diagnostics.push({
          code: MODEL_CODES.duplicateHost,
          severity: "warning",
          object: origin,
          field: "spec.hosts",
          message: `host ${host} is already declared in namespace ${namespace} by ${first.kind} ${first.name}; this declaration is ignored`,
        });
        continue;
      }
      seen.set(key, origin);
      services.push({
        host,
        namespace,
        addresses: spec.addresses ?? [],
        exportTo,
        ports,
        resolution,
        location: spec.location ?? "MESH_EXTERNAL",
        endpoints,
        selector: spec.workloadSelector?.labels,
        origin,
      });
    }
  }
  const byHost = new Map<string, ServiceModel[]>();
  for (const svc of services) {
    const list = byHost.get(svc.host);
    if (list) list.push(svc);
    else byHost.set(svc.host, [svc]);
  }
  return { services, byHost, diagnostics };
}
