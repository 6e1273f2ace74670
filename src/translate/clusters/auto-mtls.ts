// Auto mutual TLS (MeshConfig `enableAutoMtls`, default true), as Istio's
// buildAutoMtlsSettings and BestEffortInferServiceMTLSMode decide it: a
// sidecar's outbound cluster uses Istio mTLS toward endpoints that have a
// sidecar and plaintext toward the others, when
//
// - the cluster's DestinationRule policy sets no `tls` at all (any `tls`,
//   DISABLE included, is the user's choice; ISTIO_MUTUAL is istio-mutual.ts);
// - the service is MESH_INTERNAL (Kubernetes Services always are);
// - the destination namespace's PeerAuthentication (namespace level, else
//   mesh level, else PERMISSIVE) is not DISABLE; workload- and port-level
//   policies are not considered, as in Istio (a client cannot know which
//   workloads a service's endpoints are);
// - for passthrough services (resolution NONE, loadBalancer PASSTHROUGH):
//   every endpoint has a sidecar, and there is at least one.
//
// Per-endpoint choice: `transport_socket_matches` `tlsMode-istio` (endpoint
// metadata `envoy.transport_socket_match: {tlsMode: istio}`, written by
// endpoints/ from the label injection adds) and the fallback
// `tlsMode-disabled` (raw buffer), Istio's names. ORIGINAL_DST clusters have
// no endpoint metadata, so they get the TLS socket on the whole cluster when
// the check above passes (as Istio does for headless services).
//
// Proxyless gRPC clients get no auto mTLS (as in Istio): gRPC has no
// per-endpoint transport sockets and no way to tell whether the application
// created its channel with xDS credentials. They use mTLS with ISTIO_MUTUAL.
import type { TrafficPolicy } from "../../config/networking/destination-rule.js";
import type { Cluster } from "../../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import type { TransportSocket } from "../../envoy/generated/envoy/config/core/v3/TransportSocket.js";
import type { SubjectAltNameMatcher } from "../../envoy/generated/envoy/extensions/transport_sockets/tls/v3/SubjectAltNameMatcher.js";
import type { EndpointModel, ServiceModel } from "../../model/services.js";
import type { TranslationContext } from "../context.js";
import { namespaceMtlsMode } from "../security/peer-authentication.js";
import { deepFreeze, rawBufferSocket, sidecarUpstreamTlsContext, upstreamTlsSocket } from "../security/tls-context.js";
import { hasSidecar, ISTIO_TLS_MODE, tlsModeStruct } from "../security/tls-mode.js";
import {
  applySidecarIstioMutual,
  isIstioMutual,
  istioSni,
  type MutualTlsTarget,
  serverIdentities,
} from "./istio-mutual.js";
import type { ClusterDraft } from "./upstream-protocol.js";

export interface AutoMtlsPlan {
  service: ServiceModel;
  policy: TrafficPolicy | undefined;
  /** The cluster's type: ORIGINAL_DST clusters cannot choose per endpoint. */
  originalDst: boolean;
  /** The endpoints the cluster reaches (for passthrough services). */
  endpoints: readonly EndpointModel[];
}

/** Whether a sidecar's cluster gets auto mTLS (see the header). */
export function autoMtlsApplies(ctx: TranslationContext, plan: AutoMtlsPlan): boolean {
  if (!ctx.mesh.enableAutoMtls || ctx.proxy.class !== "sidecar") return false;
  if (plan.policy?.tls !== undefined) return false;
  const svc = plan.service;
  if (svc.location === "MESH_EXTERNAL") return false;
  const passthrough = svc.resolution === "NONE" || plan.policy?.loadBalancer?.simple === "PASSTHROUGH";
  if (passthrough && (plan.endpoints.length === 0 || !plan.endpoints.every((e) => hasSidecar(e.labels)))) return false;
  return namespaceMtlsMode(ctx.peerAuthentication, svc.namespace) !== "DISABLE";
}

// Constant parts of every auto-mTLS cluster, shared (and frozen): a sidecar
// view has one such cluster per service port and subset.
const ISTIO_TLS_MODE_MATCH = deepFreeze(tlsModeStruct(ISTIO_TLS_MODE));
const ANY_MATCH = deepFreeze({});
const RAW_BUFFER_SOCKET = deepFreeze(rawBufferSocket());

// The TLS socket of a service's auto-mTLS cluster, by service and by port,
// subset and HTTP/2: the same in every view. Shared (nothing writes to it;
// proxy-protocol.ts wraps it); it depends on the service's identities too, so
// those are kept with it.
const autoMtlsSockets = new WeakMap<
  ServiceModel,
  {
    http2: boolean;
    port: number;
    subset: string | undefined;
    matchers: readonly SubjectAltNameMatcher[];
    socket: TransportSocket;
  }[]
>();

function autoMtlsSocket(ctx: TranslationContext, target: MutualTlsTarget, http2: boolean): TransportSocket {
  const sans = serverIdentities(ctx, target.service, target.serviceEntrySans);
  let entries = autoMtlsSockets.get(target.service);
  if (!entries) {
    entries = [];
    autoMtlsSockets.set(target.service, entries);
  }
  // One per port, subset and HTTP/2: a handful per service.
  const { port, subset } = target;
  const at = entries.findIndex((e) => e.http2 === http2 && e.port === port && e.subset === subset);
  const found = entries[at];
  if (found && found.matchers === sans) return found.socket;
  const socket = upstreamTlsSocket(
    sidecarUpstreamTlsContext({ sans, sni: istioSni(target.service.host, port, subset), http2 }),
  );
  const entry = { http2, port, subset, matchers: sans, socket };
  if (found) entries[at] = entry;
  else entries.push(entry);
  return socket;
}

export function applyAutoMtls(
  d: ClusterDraft,
  ctx: TranslationContext,
  target: MutualTlsTarget,
  plan: AutoMtlsPlan,
): void {
  const tls = autoMtlsSocket(ctx, target, d.http?.explicit_http_config?.http2_protocol_options !== undefined);
  if (plan.originalDst) {
    d.cluster.transport_socket = tls;
    return;
  }
  // The entries are the cluster's own (proxy-protocol.ts wraps their sockets); what they hold is shared.
  const matches: NonNullable<Cluster["transport_socket_matches"]> = [
    { name: "tlsMode-istio", match: ISTIO_TLS_MODE_MATCH, transport_socket: tls },
    { name: "tlsMode-disabled", match: ANY_MATCH, transport_socket: RAW_BUFFER_SOCKET },
  ];
  d.cluster.transport_socket_matches = matches;
}

/**
 * Istio mTLS on a sidecar cluster: ISTIO_MUTUAL on the whole cluster, else auto
 * mTLS where it applies; DestinationRule SIMPLE/MUTUAL is tls.ts's.
 */
export function applySidecarMeshTls(
  d: ClusterDraft,
  ctx: TranslationContext,
  target: MutualTlsTarget,
  plan: AutoMtlsPlan,
): void {
  const tls = plan.policy?.tls;
  if (tls && isIstioMutual(tls)) applySidecarIstioMutual(d, ctx, target, tls);
  else if (autoMtlsApplies(ctx, plan)) applyAutoMtls(d, ctx, target, plan);
}
