// Kubernetes Services as mesh services: host `<svc>.<ns>.svc.<clusterDomain>`,
// ports with Istio's protocol selection (appProtocol, then the port name),
// endpoints from the Service's EndpointSlices joined with their Pods (labels,
// service account) and Nodes (locality). Pure; no Kubernetes client here.

import { isIP } from "node:net";
import {
  type EndpointSlice,
  EXPORT_TO_ANNOTATION,
  type KubeService,
  LOCALITY_LABELS,
  type Node,
  type Pod,
  SERVICE_NAME_LABEL,
} from "../config/platform.js";
import type { Diagnostic, ObjectRef } from "./diagnostic.js";
import { selectProtocol } from "./protocol.js";
import type { EndpointModel, ServiceModel, ServicePortModel } from "./services.js";
import { type MeshSnapshot, objectsOfKind, type SourcedObject } from "./snapshot.js";

export const KUBE_MODEL_CODES = {
  /** A Service port uses UDP or SCTP, which the sidecar does not proxy. */
  nonTcpPort: "TRL2101",
  /** An ExternalName Service names something that is not a DNS name. */
  badExternalName: "TRL2102",
} as const;

function ref(s: SourcedObject): ObjectRef {
  return {
    kind: s.object.kind,
    namespace: s.object.metadata.namespace,
    name: s.object.metadata.name,
    source: s.source,
  };
}

/** Istio's `networking.istio.io/exportTo` annotation: comma-separated namespaces, `.` and `*`. */
function exportToOf(svc: KubeService, namespace: string): string[] {
  const raw = svc.metadata.annotations?.[EXPORT_TO_ANNOTATION];
  if (!raw) return ["*"];
  const list = raw
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => (s === "." ? namespace : s));
  return list.length > 0 ? list : ["*"];
}

interface Indexes {
  pods: Map<string, Pod>;
  nodes: Map<string, Node>;
  slicesByService: Map<string, EndpointSlice[]>;
}

function indexes(snapshot: MeshSnapshot): Indexes {
  const pods = new Map<string, Pod>();
  for (const p of objectsOfKind<Pod>(snapshot, "Pod")) {
    pods.set(`${p.object.metadata.namespace ?? "default"}/${p.object.metadata.name}`, p.object);
  }
  const nodes = new Map<string, Node>();
  for (const n of objectsOfKind<Node>(snapshot, "Node")) nodes.set(n.object.metadata.name, n.object);
  const slicesByService = new Map<string, EndpointSlice[]>();
  for (const s of objectsOfKind<EndpointSlice>(snapshot, "EndpointSlice")) {
    const svc = s.object.metadata.labels?.[SERVICE_NAME_LABEL];
    if (!svc) continue;
    const key = `${s.object.metadata.namespace ?? "default"}/${svc}`;
    const list = slicesByService.get(key);
    if (list) list.push(s.object);
    else slicesByService.set(key, [s.object]);
  }
  // Deterministic endpoint order regardless of informer order.
  for (const list of slicesByService.values()) list.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  return { pods, nodes, slicesByService };
}

function localityOf(zone: string | undefined, node: Node | undefined): string {
  const labels = node?.metadata.labels ?? {};
  const region = labels[LOCALITY_LABELS.region] ?? "";
  const z = zone ?? labels[LOCALITY_LABELS.zone] ?? "";
  const subzone = labels[LOCALITY_LABELS.subzone] ?? "";
  return [region, z, subzone].join("/").replace(/\/+$/, "");
}

/**
 * Ready endpoints of one Service. Not-ready endpoints are left out, as Istio
 * does by default; terminating-but-serving ones too (their `ready` is false).
 * An address with the same ports in several slices (during slice migration) is listed once.
 */
function endpointsOf(
  svc: KubeService,
  namespace: string,
  ports: readonly ServicePortModel[],
  ix: Indexes,
  origin: ObjectRef,
): EndpointModel[] {
  const out: EndpointModel[] = [];
  const seen = new Set<string>();
  for (const slice of ix.slicesByService.get(`${namespace}/${svc.metadata.name}`) ?? []) {
    if (slice.addressType !== "IPv4" && slice.addressType !== "IPv6") continue;
    const mapped = new Map<number, number>();
    for (const p of ports) {
      // EndpointSlice ports carry the Service port's name and the resolved target port.
      const match = (slice.ports ?? []).find((sp) => (sp.name ?? "") === p.name);
      const port = match?.port ?? p.targetPort;
      if (port !== undefined) mapped.set(p.number, port);
    }
    for (const ep of slice.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      const address = ep.addresses[0];
      // The same address can serve different target ports from different slices (one per pod template).
      const key = `${address}|${[...mapped.values()].join(",")}`;
      if (!address || seen.has(key) || !isIP(address)) continue;
      seen.add(key);
      const pod =
        ep.targetRef?.kind === "Pod" && ep.targetRef.name
          ? ix.pods.get(`${ep.targetRef.namespace ?? namespace}/${ep.targetRef.name}`)
          : undefined;
      const nodeName = ep.nodeName ?? pod?.spec.nodeName;
      out.push({
        address,
        ports: mapped,
        labels: pod?.metadata.labels ?? {},
        locality: localityOf(ep.zone, nodeName ? ix.nodes.get(nodeName) : undefined),
        weight: 1,
        serviceAccount: pod ? (pod.spec.serviceAccountName ?? "default") : undefined,
        origin: pod ? { kind: "Pod", namespace, name: pod.metadata.name } : origin,
      });
    }
  }
  return out;
}

/** The mesh services of every Kubernetes Service in the snapshot, sorted by namespace/name. */
export function kubernetesServices(
  snapshot: MeshSnapshot,
  clusterDomain: string,
): { services: ServiceModel[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const services: ServiceModel[] = [];
  const all = objectsOfKind<KubeService>(snapshot, "Service").sort((a, b) =>
    `${a.object.metadata.namespace}/${a.object.metadata.name}`.localeCompare(
      `${b.object.metadata.namespace}/${b.object.metadata.name}`,
    ),
  );
  if (all.length === 0) return { services, diagnostics };
  const ix = indexes(snapshot);
  for (const s of all) {
    const svc = s.object;
    const namespace = svc.metadata.namespace ?? "default";
    const origin = ref(s);
    const ports: ServicePortModel[] = [];
    (svc.spec.ports ?? []).forEach((p, i) => {
      const transport = (p.protocol ?? "TCP").toUpperCase();
      if (transport !== "TCP") {
        diagnostics.push({
          code: KUBE_MODEL_CODES.nonTcpPort,
          severity: "info",
          object: origin,
          field: `spec.ports[${i}].protocol`,
          message: `port ${p.port} uses ${transport}; sidecars only proxy TCP, so this port is not part of the mesh`,
        });
        return;
      }
      ports.push({
        number: p.port,
        name: p.name ?? "",
        protocol: selectProtocol({ appProtocol: p.appProtocol, name: p.name }),
        targetPort: typeof p.targetPort === "number" ? p.targetPort : p.targetPort === undefined ? p.port : undefined,
      });
    });
    const host = `${svc.metadata.name}.${namespace}.svc.${clusterDomain}`;
    const base = {
      host,
      namespace,
      exportTo: exportToOf(svc, namespace),
      ports,
      location: "MESH_INTERNAL" as const,
      selector: svc.spec.selector,
      origin,
    };
    if (svc.spec.type === "ExternalName") {
      const name = svc.spec.externalName ?? "";
      if (!/^[a-zA-Z0-9]([-a-zA-Z0-9.]*[a-zA-Z0-9])?$/.test(name)) {
        diagnostics.push({
          code: KUBE_MODEL_CODES.badExternalName,
          severity: "warning",
          object: origin,
          field: "spec.externalName",
          message: `"${name}" is not a DNS name; the service has no endpoints`,
        });
      }
      services.push({
        ...base,
        addresses: [],
        resolution: "DNS",
        endpoints: name
          ? [
              {
                address: name,
                ports: new Map(ports.map((p) => [p.number, p.number])),
                labels: {},
                locality: "",
                weight: 1,
                origin,
              },
            ]
          : [],
      });
      continue;
    }
    const ips = svc.spec.clusterIPs ?? (svc.spec.clusterIP ? [svc.spec.clusterIP] : []);
    services.push({
      ...base,
      // Headless (clusterIP None) services have no VIP; they are still load-balanced over EDS by name.
      addresses: ips.filter((ip) => ip !== "None" && isIP(ip)),
      resolution: "STATIC",
      endpoints: endpointsOf(svc, namespace, ports, ix, origin),
    });
  }
  return { services, diagnostics };
}
