// Trellis's own MeshConfig: mesh-wide settings of the control plane itself
// (not an Istio kind). Every field has a default, so `{}` is a valid config.

import { z } from "zod";
import { type ParseResult, parseWith } from "./errors.js";
import { OutboundTrafficPolicyMode } from "./networking/sidecar.js";
import { NamespaceName, Quantity, showValue } from "./primitives.js";

/** The Envoy image injected as the sidecar unless MeshConfig names another. */
export const DEFAULT_PROXY_IMAGE = "docker.io/envoyproxy/envoy:v1.36-latest";
/** The trellis-init image injected as the pod's first init container (images/trellis-init). */
export const DEFAULT_INIT_IMAGE = "ghcr.io/trellis-mesh/trellis-init:0.1.0";
/**
 * Where injected sidecars reach the control plane: the `trellis` Service of
 * manifests/base, xDS over TLS (15012). The host is also the name the sidecar
 * checks the control plane's certificate for.
 */
export const DEFAULT_DISCOVERY_ADDRESS = "trellis.trellis-system.svc:15012";

/** `host:port` or `[ipv6]:port` (the same shape envoy/bootstrap.ts parseHostPort accepts; config/ must not import it). */
const HostPort = z
  .string()
  .regex(
    /^(?:\[[0-9A-Fa-f:.]+\]|[^:[\]\s]+):(?:6553[0-5]|655[0-2]\d|65[0-4]\d{2}|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3})$/,
    {
      error: (issue) => `expected host:port (use [addr]:port for IPv6), got ${showValue(issue.input)}`,
    },
  );

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
  /**
   * Auto mutual TLS (Istio's `enableAutoMtls`): a client sidecar uses Istio mTLS toward
   * endpoints that have a sidecar (label `security.istio.io/tlsMode: istio`) and plaintext
   * toward the others, unless a DestinationRule sets `tls` or the destination's
   * PeerAuthentication is DISABLE.
   */
  enableAutoMtls: z.boolean().default(true),
  outboundTrafficPolicy: z
    .strictObject({
      /** ALLOW_ANY passes unknown destinations through; REGISTRY_ONLY blocks them. */
      mode: OutboundTrafficPolicyMode.default("ALLOW_ANY"),
    })
    .prefault({}),
  /** Istio's ProxyConfig defaults, for the sidecars Trellis injects. */
  defaultConfig: z
    .strictObject({
      /** The control plane's xDS address as pods see it (Istio's `discoveryAddress`). */
      discoveryAddress: HostPort.default(DEFAULT_DISCOVERY_ADDRESS),
      /**
       * Start the proxy before the application containers and hold them until it is
       * ready (Istio's ProxyConfig field; per pod: annotation `proxy.istio.io/config`).
       * Native sidecars (injection.nativeSidecars) give the same ordering without it.
       */
      holdApplicationUntilProxyStarts: z.boolean().default(false),
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
  /** Sidecar injection (trellis-injector and `trellis inject`). */
  injection: z
    .strictObject({
      /** Image of the trellis-init container that programs the pod's iptables. */
      initImage: z.string().min(1).default(DEFAULT_INIT_IMAGE),
      /**
       * Inject the proxy as a Kubernetes native sidecar (an init container with
       * `restartPolicy: Always`, Kubernetes >= 1.29). Per pod: annotation
       * `sidecar.istio.io/nativeSidecar`.
       */
      nativeSidecars: z.boolean().default(false),
    })
    .prefault({}),
  /**
   * How sidecars normalise request paths before routing and authorization
   * (Istio's MeshConfig `pathNormalization`). Istio's values; `DEFAULT` is
   * DECODE_AND_MERGE_SLASHES in Trellis (Istio's DEFAULT is BASE, which lets
   * `//admin` and `/%2Fadmin` past a DENY on `/admin*`): see docs/security.md.
   */
  pathNormalization: z
    .strictObject({
      normalization: z
        .enum(["DEFAULT", "NONE", "BASE", "MERGE_SLASHES", "DECODE_AND_MERGE_SLASHES"])
        .default("DEFAULT"),
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
