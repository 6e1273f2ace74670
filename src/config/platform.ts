// The Kubernetes objects Trellis reads to discover services and workloads:
// Service, EndpointSlice, Pod, Namespace and Node. Unlike the mesh kinds these
// are not ours: the schemas are lenient (unknown fields are dropped, not
// errors) and keep only what the model uses, so churn in anything else (pod
// status timestamps, managedFields, …) never reaches a snapshot.

import { z } from "zod";
import { StringMap } from "./primitives.js";

const PlatformMeta = z.object({
  name: z.string().min(1),
  namespace: z.string().optional(),
  labels: StringMap.optional(),
  annotations: StringMap.optional(),
});

const ServicePort = z.object({
  name: z.string().optional(),
  port: z.int().min(1).max(65535),
  targetPort: z.union([z.int(), z.string()]).optional(),
  /** Kubernetes transport: TCP (default), UDP or SCTP. */
  protocol: z.string().optional(),
  appProtocol: z.string().optional(),
});

export const KubeServiceSchema = z.object({
  apiVersion: z.literal("v1"),
  kind: z.literal("Service"),
  metadata: PlatformMeta,
  spec: z
    .object({
      type: z.string().optional(),
      clusterIP: z.string().optional(),
      clusterIPs: z.array(z.string()).optional(),
      externalName: z.string().optional(),
      selector: StringMap.optional(),
      ports: z.array(ServicePort).optional(),
    })
    .prefault({}),
});
export type KubeService = z.infer<typeof KubeServiceSchema>;

const EndpointPort = z.object({
  name: z.string().optional(),
  port: z.int().min(1).max(65535).optional(),
  protocol: z.string().optional(),
  appProtocol: z.string().optional(),
});

const Endpoint = z.object({
  addresses: z.array(z.string()).min(1),
  conditions: z
    .object({
      ready: z.boolean().optional(),
      serving: z.boolean().optional(),
      terminating: z.boolean().optional(),
    })
    .optional(),
  hostname: z.string().optional(),
  nodeName: z.string().optional(),
  zone: z.string().optional(),
  targetRef: z
    .object({
      kind: z.string().optional(),
      name: z.string().optional(),
      namespace: z.string().optional(),
    })
    .optional(),
});

export const EndpointSliceSchema = z.object({
  apiVersion: z.literal("discovery.k8s.io/v1"),
  kind: z.literal("EndpointSlice"),
  metadata: PlatformMeta,
  addressType: z.string(),
  endpoints: z.array(Endpoint).nullish(),
  ports: z.array(EndpointPort).nullish(),
});
export type EndpointSlice = z.infer<typeof EndpointSliceSchema>;

export const PodSchema = z.object({
  apiVersion: z.literal("v1"),
  kind: z.literal("Pod"),
  metadata: PlatformMeta,
  spec: z
    .object({
      serviceAccountName: z.string().optional(),
      nodeName: z.string().optional(),
      hostNetwork: z.boolean().optional(),
    })
    .prefault({}),
  status: z
    .object({
      phase: z.string().optional(),
      podIP: z.string().optional(),
      podIPs: z.array(z.object({ ip: z.string() })).optional(),
    })
    .optional(),
});
export type Pod = z.infer<typeof PodSchema>;

export const NamespaceSchema = z.object({
  apiVersion: z.literal("v1"),
  kind: z.literal("Namespace"),
  metadata: PlatformMeta,
});
export type Namespace = z.infer<typeof NamespaceSchema>;

export const NodeSchema = z.object({
  apiVersion: z.literal("v1"),
  kind: z.literal("Node"),
  metadata: PlatformMeta,
});
export type Node = z.infer<typeof NodeSchema>;

/** Node labels that carry locality; the others are dropped so node heartbeats and label churn do not reach the model. */
export const LOCALITY_LABELS = {
  region: "topology.kubernetes.io/region",
  zone: "topology.kubernetes.io/zone",
  subzone: "topology.istio.io/subzone",
} as const;

/** Service annotation Istio reads for a Kubernetes Service's visibility. */
export const EXPORT_TO_ANNOTATION = "networking.istio.io/exportTo";

/** EndpointSlice label naming the Service it belongs to. */
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

export const PLATFORM_KINDS = {
  Service: { apiVersion: "v1", plural: "services", namespaced: true, schema: KubeServiceSchema },
  EndpointSlice: {
    apiVersion: "discovery.k8s.io/v1",
    plural: "endpointslices",
    namespaced: true,
    schema: EndpointSliceSchema,
  },
  Pod: { apiVersion: "v1", plural: "pods", namespaced: true, schema: PodSchema },
  Namespace: { apiVersion: "v1", plural: "namespaces", namespaced: false, schema: NamespaceSchema },
  Node: { apiVersion: "v1", plural: "nodes", namespaced: false, schema: NodeSchema },
} as const;

export type PlatformKind = keyof typeof PLATFORM_KINDS;
export type PlatformObject = KubeService | EndpointSlice | Pod | Namespace | Node;

export function isPlatformKind(kind: unknown): kind is PlatformKind {
  return typeof kind === "string" && Object.hasOwn(PLATFORM_KINDS, kind);
}
