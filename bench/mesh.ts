// Generates a synthetic mesh for the benchmark: M Kubernetes Services spread
// over namespaces, K endpoints each (EndpointSlice + Pods), VirtualServices and
// DestinationRules on a share of them, optional Sidecar scoping; and the node
// metadata of N simulated sidecars, shaped like what an injected Envoy sends.
//
// One file per service (`svc-<i>.yaml`), so a change to one service rewrites one
// file, as a `kubectl apply` of one object would change one object.
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";

export interface MeshShape {
  /** Number of services. */
  services: number;
  /** Endpoints per service. */
  endpoints: number;
  /** Namespaces the services are spread over. */
  namespaces: number;
  /** Share of services with a VirtualService (weighted split v1/v2, retries, timeout) and a DestinationRule (subsets). */
  routedShare: number;
  /** A Sidecar per namespace importing only its own namespace (`./*`). */
  sidecarScoping: boolean;
}

export const DEFAULT_SHAPE: MeshShape = {
  services: 100,
  endpoints: 3,
  namespaces: 10,
  routedShare: 0.2,
  sidecarScoping: false,
};

export const CLUSTER_DOMAIN = "cluster.local";
const ZONES = ["us-east1-b", "us-east1-c", "us-east1-d"];

export function serviceName(i: number): string {
  return `svc-${i}`;
}
export function namespaceOf(shape: MeshShape, i: number): string {
  return `ns-${i % shape.namespaces}`;
}
export function hostOf(shape: MeshShape, i: number): string {
  return `${serviceName(i)}.${namespaceOf(shape, i)}.svc.${CLUSTER_DOMAIN}`;
}
export function isRouted(shape: MeshShape, i: number): boolean {
  // Spread evenly: every (1/share)-th service.
  const every = shape.routedShare > 0 ? Math.max(1, Math.round(1 / shape.routedShare)) : 0;
  return every > 0 && i % every === 0;
}
/** Services with a second (gRPC) port: every fifth. */
function hasGrpcPort(i: number): boolean {
  return i % 5 === 1;
}

/** The address of replica `replica` of service `i` at endpoint generation `generation`. */
export function podIp(i: number, replica: number, generation: number): string {
  // 10.g.x.y: unique per (service, replica), and `generation` moves it for churn.
  const n = i * 64 + replica;
  return `10.${(generation % 200) + 1}.${(n >> 8) & 255}.${n & 255}`;
}

export function podLabels(_shape: MeshShape, i: number, replica: number): Record<string, string> {
  const name = serviceName(i);
  return {
    app: name,
    version: replica % 2 === 0 ? "v1" : "v2",
    "pod-template-hash": `${(i * 7919).toString(36)}${replica % 2}`,
    "security.istio.io/tlsMode": "istio",
    "service.istio.io/canonical-name": name,
    "service.istio.io/canonical-revision": replica % 2 === 0 ? "v1" : "v2",
  };
}

/** The default v1 share of a routed service's weighted split. */
export const DEFAULT_V1_WEIGHT = 90;

/** A routing change: a routed service's VirtualService with another v1 weight and, to tell its push apart, a marker header. */
export interface RoutingChange {
  /** v1's share of the weighted split (default DEFAULT_V1_WEIGHT). */
  v1Weight?: number;
  /** Set as request header `x-bench-marker` on the weighted route: a string to find in the pushed route configuration. */
  marker?: string;
}

/**
 * The objects of service `i`. `generation` changes its endpoints' addresses
 * (endpoint churn); `change` its VirtualService (a routing change), if it has one.
 */
export function serviceObjects(shape: MeshShape, i: number, generation = 0, change: RoutingChange = {}): object[] {
  const name = serviceName(i);
  const namespace = namespaceOf(shape, i);
  const host = hostOf(shape, i);
  const ports = [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }];
  if (hasGrpcPort(i)) ports.push({ name: "grpc", port: 9090, targetPort: 9090, protocol: "TCP" });
  const out: object[] = [
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name, namespace, labels: { app: name } },
      spec: { type: "ClusterIP", clusterIP: `172.20.${(i >> 8) & 255}.${i & 255}`, selector: { app: name }, ports },
    },
  ];
  const endpoints: object[] = [];
  for (let r = 0; r < shape.endpoints; r++) {
    const pod = `${name}-${r}`;
    const ip = podIp(i, r, generation);
    out.push({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: pod, namespace, labels: podLabels(shape, i, r) },
      spec: { serviceAccountName: name, nodeName: `node-${r % ZONES.length}` },
      status: { phase: "Running", podIP: ip },
    });
    endpoints.push({
      addresses: [ip],
      conditions: { ready: true },
      targetRef: { kind: "Pod", name: pod, namespace },
      zone: ZONES[r % ZONES.length],
    });
  }
  out.push({
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: `${name}-abcde`, namespace, labels: { "kubernetes.io/service-name": name } },
    addressType: "IPv4",
    endpoints,
    ports: ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: "TCP" })),
  });
  if (isRouted(shape, i)) out.push(...routing(shape, i, host, change.v1Weight ?? DEFAULT_V1_WEIGHT, change.marker));
  return out;
}

/** A VirtualService splitting `v1Weight`/100-`v1Weight` between subsets, with retries and a timeout, and its DestinationRule. */
export function routing(shape: MeshShape, i: number, host: string, v1Weight: number, marker?: string): object[] {
  const name = serviceName(i);
  const namespace = namespaceOf(shape, i);
  return [
    {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name, namespace },
      spec: {
        hosts: [host],
        http: [
          {
            match: [{ headers: { "x-canary": { exact: "true" } } }],
            route: [{ destination: { host, subset: "v2" } }],
          },
          {
            timeout: "5s",
            retries: { attempts: 3, perTryTimeout: "2s", retryOn: "5xx,reset,connect-failure" },
            ...(marker ? { headers: { request: { set: { "x-bench-marker": marker } } } } : {}),
            route: [
              { destination: { host, subset: "v1", port: { number: 80 } }, weight: v1Weight },
              { destination: { host, subset: "v2", port: { number: 80 } }, weight: 100 - v1Weight },
            ],
          },
        ],
      },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name, namespace },
      spec: {
        host,
        trafficPolicy: {
          connectionPool: { tcp: { maxConnections: 100 }, http: { http2MaxRequests: 1000 } },
          outlierDetection: { consecutive5xxErrors: 5, interval: "10s", baseEjectionTime: "30s" },
        },
        subsets: [
          { name: "v1", labels: { version: "v1" } },
          { name: "v2", labels: { version: "v2" } },
        ],
      },
    },
  ];
}

function sharedObjects(shape: MeshShape): object[] {
  const out: object[] = [];
  for (let n = 0; n < shape.namespaces; n++) {
    out.push({
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: `ns-${n}`, labels: { "istio-injection": "enabled" } },
    });
    if (shape.sidecarScoping) {
      out.push({
        apiVersion: "networking.istio.io/v1",
        kind: "Sidecar",
        metadata: { name: "default", namespace: `ns-${n}` },
        spec: { egress: [{ hosts: ["./*", "istio-system/*"] }] },
      });
    }
  }
  ZONES.forEach((zone, z) => {
    out.push({
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: `node-${z}`,
        labels: { "topology.kubernetes.io/region": "us-east1", "topology.kubernetes.io/zone": zone },
      },
    });
  });
  return out;
}

export function toYaml(objects: readonly object[]): string {
  return objects.map((o) => YAML.stringify(o)).join("---\n");
}

/** Writes the mesh into `dir` (emptied first): `mesh.yaml` for shared objects, `svc-<i>.yaml` per service. */
export function writeMesh(dir: string, shape: MeshShape): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "mesh.yaml"), toYaml(sharedObjects(shape)));
  for (let i = 0; i < shape.services; i++) writeServiceFile(dir, shape, i, 0);
}

export function writeServiceFile(
  dir: string,
  shape: MeshShape,
  i: number,
  generation: number,
  extra?: object[],
  change: RoutingChange = {},
): void {
  const objects = serviceObjects(shape, i, generation, change);
  // Write then rename, as `kubectl apply` changes an object at once: the file
  // source never sees a half-written file (which it would wait to confirm,
  // adding a debounce period to the measured convergence).
  const file = join(dir, `${serviceName(i)}.yaml`);
  writeFileSync(`${file}.tmp`, toYaml(extra ? [...objects, ...extra] : objects));
  renameSync(`${file}.tmp`, file);
}

/** All objects of the mesh, in memory (for in-process measurements). */
export function meshObjects(shape: MeshShape): object[] {
  const out = sharedObjects(shape);
  for (let i = 0; i < shape.services; i++) out.push(...serviceObjects(shape, i, 0));
  return out;
}

/** What a simulated sidecar announces in its node: Istio-style id, metadata, locality, Envoy's user agent. */
export interface SimulatedNode {
  id: string;
  cluster: string;
  metadata: Record<string, unknown>;
  locality: { region: string; zone: string };
}

/** Proxy `j` is a replica of service `j % M`, so proxies of one deployment share labels (and views). */
export function simulatedNode(shape: MeshShape, j: number): SimulatedNode {
  const i = j % shape.services;
  const replica = Math.floor(j / shape.services);
  const name = serviceName(i);
  const namespace = namespaceOf(shape, i);
  const pod = `${name}-${replica}-sim${j}`;
  const ip = `10.250.${(j >> 8) & 255}.${j & 255}`;
  const zone = ZONES[replica % ZONES.length] as string;
  return {
    id: `sidecar~${ip}~${pod}.${namespace}~${namespace}.svc.${CLUSTER_DOMAIN}`,
    cluster: `${name}.${namespace}`,
    metadata: {
      NAME: pod,
      NAMESPACE: namespace,
      SERVICE_ACCOUNT: name,
      CLUSTER_ID: "Kubernetes",
      INSTANCE_IPS: ip,
      ISTIO_VERSION: "1.24.0",
      INTERCEPTION_MODE: "REDIRECT",
      WORKLOAD_NAME: name,
      OWNER: `kubernetes://apis/apps/v1/namespaces/${namespace}/deployments/${name}`,
      MESH_ID: CLUSTER_DOMAIN,
      LABELS: { ...podLabels(shape, i, replica), "pod-template-hash": `${(i * 7919).toString(36)}${replica % 2}` },
      POD_PORTS: JSON.stringify([{ name: "http", containerPort: 8080, protocol: "TCP" }]),
      PROXY_CONFIG: { concurrency: 2, discoveryAddress: "trellis.trellis-system.svc:15012" },
    },
    locality: { region: "us-east1", zone },
  };
}
