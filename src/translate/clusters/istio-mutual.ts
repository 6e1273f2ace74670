// DestinationRule `tls.mode: ISTIO_MUTUAL` → Istio mutual TLS on the whole
// cluster, with the workload's own SPIFFE certificate (Istio's
// buildIstioMutualTLS). Unlike auto mTLS it applies whatever the endpoints and
// the destination's PeerAuthentication say: the user asked for it.
//
// - The server must present one of the service's identities: the rule's
//   `subjectAltNames` if set, else `spiffe://<td>/ns/<ns>/sa/<sa>` for every
//   service account among the service's endpoints plus the ServiceEntry's
//   `subjectAltNames` (Istio's ServiceAccounts), exact matches. When none is
//   known, any identity of the trust domain is accepted (Istio would check the
//   chain only).
// - SNI: the rule's `sni`, else Istio's `outbound_.<port>_.<subset>_.<host>`.
// - Certificate fields (clientCertificate, privateKey, caCertificates,
//   credentialName, caCrl) and insecureSkipVerify are ignored, as Istio ignores
//   them with ISTIO_MUTUAL (reported, security/analyze.ts).
//
// Sidecars get the certificate over SDS; proxyless gRPC from its bootstrap's
// certificate provider (security/tls-context.ts).
import type { ClientTLSSettings } from "../../config/networking/destination-rule.js";
import type { Cluster } from "../../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import type { SubjectAltNameMatcher } from "../../envoy/generated/envoy/extensions/transport_sockets/tls/v3/SubjectAltNameMatcher.js";
import type { ServiceModel } from "../../model/services.js";
import type { TranslationContext } from "../context.js";
import { exactSan, serviceIdentities, trustDomainPrefix, uriSanPrefix } from "../security/identity.js";
import { proxylessUpstreamTlsContext, sidecarUpstreamTlsContext, upstreamTlsSocket } from "../security/tls-context.js";
import type { ClusterDraft } from "./upstream-protocol.js";

/** Istio's SNI for in-mesh mTLS: `outbound_.<port>_.<subset>_.<host>`. */
export function istioSni(host: string, port: number, subset = ""): string {
  return `outbound_.${port}_.${subset}_.${host}`;
}

export function isIstioMutual(tls: ClientTLSSettings | undefined): boolean {
  return tls?.mode === "ISTIO_MUTUAL";
}

/**
 * Who the client accepts as the server of `svc`: explicit SANs, else the
 * service's identities, else the trust domain. Without explicit SANs the list
 * is the same for every cluster of the service in every view (one per port and
 * subset, with auto mTLS nearly all of them): it is built once per service
 * and shared (callers only read it).
 */
export function serverIdentities(
  ctx: TranslationContext,
  svc: ServiceModel,
  serviceEntrySans: readonly string[],
  explicit?: readonly string[],
): SubjectAltNameMatcher[] {
  if (explicit && explicit.length > 0) return explicit.map(exactSan);
  const trustDomain = ctx.mesh.trustDomain;
  const cached = matchersByService.get(svc);
  if (cached && cached.trustDomain === trustDomain && cached.sans === serviceEntrySans) return cached.matchers;
  const names = serviceIdentities(svc, trustDomain, serviceEntrySans);
  const matchers = names.length > 0 ? names.map(exactSan) : [uriSanPrefix(trustDomainPrefix(trustDomain))];
  matchersByService.set(svc, { trustDomain, sans: serviceEntrySans, matchers });
  return matchers;
}

const matchersByService = new WeakMap<
  ServiceModel,
  { trustDomain: string; sans: readonly string[]; matchers: SubjectAltNameMatcher[] }
>();

export interface MutualTlsTarget {
  service: ServiceModel;
  port: number;
  subset?: string;
  /** ServiceEntry subjectAltNames of the service. */
  serviceEntrySans: readonly string[];
}

/** A sidecar cluster with `tls.mode: ISTIO_MUTUAL`. */
export function applySidecarIstioMutual(
  d: ClusterDraft,
  ctx: TranslationContext,
  target: MutualTlsTarget,
  tls: ClientTLSSettings,
): void {
  d.cluster.transport_socket = upstreamTlsSocket(
    sidecarUpstreamTlsContext({
      sans: serverIdentities(ctx, target.service, target.serviceEntrySans, tls.subjectAltNames),
      sni: tls.sni || istioSni(target.service.host, target.port, target.subset),
      http2: d.http?.explicit_http_config?.http2_protocol_options !== undefined,
    }),
  );
}

/** A proxyless gRPC cluster with `tls.mode: ISTIO_MUTUAL` (gRPC sends no SNI of its own choosing). */
export function applyProxylessIstioMutual(
  cluster: Cluster,
  ctx: TranslationContext,
  target: MutualTlsTarget,
  tls: ClientTLSSettings,
): void {
  cluster.transport_socket = upstreamTlsSocket(
    proxylessUpstreamTlsContext(serverIdentities(ctx, target.service, target.serviceEntrySans, tls.subjectAltNames)),
  );
}
