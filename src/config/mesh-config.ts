// Trellis's own MeshConfig: mesh-wide settings of the control plane itself
// (not an Istio kind). Every field has a default, so `{}` is a valid config.

import { z } from "zod";
import { type ParseResult, parseWith } from "./errors.js";
import { OutboundTrafficPolicyMode } from "./networking/sidecar.js";
import { NamespaceName, Quantity } from "./primitives.js";

/** The Envoy image injected as the sidecar unless MeshConfig names another. */
export const DEFAULT_PROXY_IMAGE = "docker.io/envoyproxy/envoy:v1.36-latest";

const ResourceList = z.strictObject({
  cpu: Quantity.optional(),
  memory: Quantity.optional(),
});

export const ProxyResources = z.strictObject({
  requests: ResourceList.optional(),
  limits: ResourceList.optional(),
});
export type ProxyResources = z.infer<typeof ProxyResources>;

const Milliseconds = z.int().min(0);

export const MeshConfig = z.strictObject({
  /** SPIFFE trust domain: identities are `spiffe://<trustDomain>/ns/<ns>/sa/<sa>`. */
  trustDomain: z.string().min(1).default("cluster.local"),
  /** Config in this namespace (Sidecar, PeerAuthentication, …) applies mesh-wide, as in Istio. */
  rootNamespace: NamespaceName.default("istio-system"),
  /** DNS suffix of the platform's services: `<svc>.<ns>.svc.<clusterDomain>`. */
  clusterDomain: z.string().min(1).default("cluster.local"),
  outboundTrafficPolicy: z
    .strictObject({
      /** ALLOW_ANY passes unknown destinations through; REGISTRY_ONLY blocks them. */
      mode: OutboundTrafficPolicyMode.default("ALLOW_ANY"),
    })
    .prefault({}),
  defaultConfig: z
    .strictObject({
      proxy: z
        .strictObject({
          image: z.string().min(1).default(DEFAULT_PROXY_IMAGE),
          // Istio's sidecar defaults.
          resources: ProxyResources.default({
            requests: { cpu: "100m", memory: "128Mi" },
            limits: { cpu: "2000m", memory: "1024Mi" },
          }),
        })
        .prefault({}),
    })
    .prefault({}),
  /** How config changes are batched before a push: wait for `quietMs` without changes, but never longer than `maxMs`. */
  pushDebounce: z
    .strictObject({
      quietMs: Milliseconds.default(100),
      maxMs: Milliseconds.default(1000),
    })
    .prefault({}),
});
export type MeshConfig = z.infer<typeof MeshConfig>;

export const DEFAULT_MESH_CONFIG: MeshConfig = MeshConfig.parse({});

/** Validates a MeshConfig document and fills in defaults. */
export function parseMeshConfig(doc: unknown): ParseResult<MeshConfig> {
  const result = parseWith(MeshConfig, doc ?? {});
  if (!result.ok) return result;
  const { quietMs, maxMs } = result.value.pushDebounce;
  if (maxMs < quietMs) {
    return {
      ok: false,
      errors: [{ field: "pushDebounce.maxMs", message: `must be at least quietMs (${quietMs}), got ${maxMs}` }],
    };
  }
  return result;
}
