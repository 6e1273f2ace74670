// The mesh the Envoy suite serves: Istio's request-routing example (reviews
// v1/v2 behind a DestinationRule and a VirtualService), as YAML files for
// `trellis serve --config`. Kept apart from the test so a reader can see the
// whole configuration in one place.
//
// Why a Sidecar resource: Trellis generates Istio's sidecar listeners, where
// the per-port outbound listener `0.0.0.0_9080` is not bound to a port
// (`bind_to_port: false`) and is only reached through the 15001 capture
// listener's original-destination hand-off, which needs iptables in the pod.
// A container has no such capture, so the Sidecar asks for the port the way an
// Istio user would without iptables (egress listener, `captureMode: NONE`,
// `bind: 0.0.0.0`): the same HTTP listener and RDS route config, bound to a
// real port that the test publishes.

export const NAMESPACE = "e2e";
export const HOST = `reviews.${NAMESPACE}.svc.cluster.local`;
export const SERVICE_PORT = 9080;
/** The header Istio's request-routing task matches on. */
export const USER_HEADER = "end-user";

export interface VersionEndpoint {
  version: "v1" | "v2";
  /** An IP address the Envoy container can reach (STATIC resolution, so Envoy gets the endpoints over EDS). */
  address: string;
  port: number;
}

/** How the VirtualService routes: the request-routing task, a weighted split, or everything to v2. */
export type Routing = { kind: "by-user"; user: string } | { kind: "weighted"; v2Percent: number } | { kind: "all-v2" };

export function serviceEntry(endpoints: readonly VersionEndpoint[]): string {
  const eps = endpoints
    .map(
      (e) =>
        `  - address: ${e.address}\n    ports: { http: ${e.port} }\n    labels: { app: reviews, version: ${e.version} }`,
    )
    .join("\n");
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: ${NAMESPACE} }
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - { number: ${SERVICE_PORT}, name: http, protocol: HTTP }
  endpoints:
${eps}
`;
}

export function destinationRule(): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: ${NAMESPACE} }
spec:
  host: reviews
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
`;
}

export function virtualService(routing: Routing): string {
  const head = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: ${NAMESPACE} }
spec:
  hosts: [reviews]
  http:
`;
  switch (routing.kind) {
    case "by-user":
      return `${head}  - match:
    - headers:
        ${USER_HEADER}: { exact: ${routing.user} }
    route:
    - destination: { host: reviews, subset: v2 }
  - route:
    - destination: { host: reviews, subset: v1 }
`;
    case "weighted":
      return `${head}  - route:
    - destination: { host: reviews, subset: v1 }
      weight: ${100 - routing.v2Percent}
    - destination: { host: reviews, subset: v2 }
      weight: ${routing.v2Percent}
`;
    case "all-v2":
      return `${head}  - route:
    - destination: { host: reviews, subset: v2 }
`;
  }
}

export function sidecar(): string {
  return `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: ${NAMESPACE} }
spec:
  egress:
  - port: { number: ${SERVICE_PORT}, protocol: HTTP, name: http }
    bind: 0.0.0.0
    captureMode: NONE
    hosts: ["./*"]
`;
}

/** The reviews service, its subsets and its routing, as one multi-document YAML file. */
export function reviewsMesh(endpoints: readonly VersionEndpoint[], routing: Routing): string {
  return [serviceEntry(endpoints), destinationRule(), virtualService(routing)].join("---\n");
}

/** Istio-style node id of a proxy: `sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local` (the IP is not used here). */
export const nodeId = (pod: string) => `sidecar~10.0.0.10~${pod}.${NAMESPACE}~${NAMESPACE}.svc.cluster.local`;
