// DestinationRule `tls` → the cluster's UpstreamTlsContext (TLS origination).
//
// Sidecars, modes SIMPLE and MUTUAL, as Istio builds them
// (pilot's constructUpstreamTLS), except where Istio relies on its per-pod
// agent, which Trellis does not have:
// - certificate, key, CA and CRL *files* are read by Envoy itself (Istio's
//   agent serves them over SDS); `watched_directory` makes Envoy reload them
//   when a Kubernetes secret volume is updated. Without caCertificates the OS
//   bundle of the Envoy image is trusted (Istio's "system" CA);
// - `credentialName` becomes SDS references `kubernetes://<name>` (key and
//   certificate) and `kubernetes://<name>-cacert` (CA) over ADS, Istio's
//   resource names; serving them is the security issue's (reported);
// - subjectAltNames: the rule's, else the ServiceEntry's; sni: the rule's,
//   else auto_sni from the request's Host, and auto_san_validation when
//   neither SANs nor SNI are given; insecureSkipVerify drops verification;
// - HTTP/2 clusters advertise ALPN h2; TLS 1.2 to 1.3.
// DISABLE: plaintext; no tls: plaintext unless auto mTLS applies
// (auto-mtls.ts). ISTIO_MUTUAL: istio-mutual.ts. MUTUAL without a certificate
// and key: Istio fails to build the context and sends plaintext; so does
// Trellis (reported).
//
// Proxyless gRPC takes TLS only from certificate providers in its bootstrap,
// never from files or SDS: a cluster that needs SIMPLE/MUTUAL is not served to
// it (outbound.ts; reported), rather than sent without TLS.
import { dirname } from "node:path";
import type { ClientTLSSettings } from "../../config/networking/destination-rule.js";
import { packAny } from "../../envoy/any.js";
import type { TransportSocket } from "../../envoy/generated/envoy/config/core/v3/TransportSocket.js";
import type { CertificateValidationContext } from "../../envoy/generated/envoy/extensions/transport_sockets/tls/v3/CertificateValidationContext.js";
import type { CommonTlsContext } from "../../envoy/generated/envoy/extensions/transport_sockets/tls/v3/CommonTlsContext.js";
import type { SdsSecretConfig } from "../../envoy/generated/envoy/extensions/transport_sockets/tls/v3/SdsSecretConfig.js";
import type { UpstreamTlsContext } from "../../envoy/generated/envoy/extensions/transport_sockets/tls/v3/UpstreamTlsContext.js";
import { SYSTEM_CA_BUNDLE } from "./defaults.js";
import { type ClusterDraft, upstreamHttpOptions } from "./upstream-protocol.js";

export const TLS_TRANSPORT_SOCKET = "envoy.transport_sockets.tls";
const UPSTREAM_TLS_CONTEXT_TYPE_URL =
  "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";

/** Istio's SDS resource name for a Kubernetes secret. */
export function credentialResourceName(name: string): string {
  return name.startsWith("kubernetes://") ? name : `kubernetes://${name}`;
}

function sds(name: string): SdsSecretConfig {
  return { name: credentialResourceName(name), sds_config: { ads: {}, resource_api_version: "V3" } };
}

/** Whether this tls setting originates TLS on a sidecar cluster. */
export function originatesTls(tls: ClientTLSSettings | undefined): boolean {
  if (!tls || (tls.mode !== "SIMPLE" && tls.mode !== "MUTUAL")) return false;
  if (tls.mode === "MUTUAL" && !tls.credentialName && !(tls.clientCertificate && tls.privateKey)) return false;
  return true;
}

function validation(tls: ClientTLSSettings, sans: readonly string[]): CertificateValidationContext {
  const ca = tls.caCertificates || SYSTEM_CA_BUNDLE;
  const v: CertificateValidationContext = { trusted_ca: { filename: ca } };
  if (tls.caCertificates) v.watched_directory = { path: dirname(tls.caCertificates) };
  if (sans.length > 0) v.match_subject_alt_names = sans.map((exact) => ({ exact }));
  if (tls.caCrl) v.crl = { filename: tls.caCrl };
  return v;
}

export interface TlsOptions {
  /** The cluster speaks HTTP/2 upstream. */
  http2: boolean;
  /** ServiceEntry subjectAltNames, used when the rule gives none. */
  serviceSubjectAltNames: readonly string[];
}

export function upstreamTlsContext(tls: ClientTLSSettings, opts: TlsOptions): UpstreamTlsContext | undefined {
  if (!originatesTls(tls)) return undefined;
  const sans =
    tls.subjectAltNames && tls.subjectAltNames.length > 0 ? tls.subjectAltNames : opts.serviceSubjectAltNames;
  const insecure = tls.insecureSkipVerify === true;
  const common: CommonTlsContext = {
    tls_params: { tls_minimum_protocol_version: "TLSv1_2", tls_maximum_protocol_version: "TLSv1_3" },
  };
  if (tls.credentialName) {
    if (tls.mode === "MUTUAL") common.tls_certificate_sds_secret_configs = [sds(tls.credentialName)];
    if (!insecure) {
      common.combined_validation_context = {
        default_validation_context:
          sans.length > 0 ? { match_subject_alt_names: sans.map((exact) => ({ exact })) } : {},
        validation_context_sds_secret_config: sds(`${tls.credentialName}-cacert`),
      };
    }
  } else {
    if (tls.mode === "MUTUAL" && tls.clientCertificate && tls.privateKey) {
      const cert: NonNullable<CommonTlsContext["tls_certificates"]>[number] = {
        certificate_chain: { filename: tls.clientCertificate },
        private_key: { filename: tls.privateKey },
      };
      if (dirname(tls.clientCertificate) === dirname(tls.privateKey)) {
        cert.watched_directory = { path: dirname(tls.clientCertificate) };
      }
      common.tls_certificates = [cert];
    }
    common.validation_context = insecure ? {} : validation(tls, sans);
  }
  if (opts.http2) common.alpn_protocols = ["h2"];
  const ctx: UpstreamTlsContext = { common_tls_context: common };
  if (tls.sni) ctx.sni = tls.sni;
  return ctx;
}

/** Sidecar clusters: the TLS transport socket, plus auto SNI/SAN from the request when the rule gives neither. */
export function applyTls(d: ClusterDraft, tls: ClientTLSSettings | undefined, opts: TlsOptions): void {
  if (!tls) return;
  const ctx = upstreamTlsContext(tls, opts);
  if (!ctx) return;
  d.cluster.transport_socket = {
    name: TLS_TRANSPORT_SOCKET,
    typed_config: packAny(UPSTREAM_TLS_CONTEXT_TYPE_URL, ctx),
  } satisfies TransportSocket;
  const sans = tls.subjectAltNames?.length ? tls.subjectAltNames : opts.serviceSubjectAltNames;
  if (!tls.sni) {
    upstreamHttpOptions(d).auto_sni = true;
    if (sans.length === 0 && tls.insecureSkipVerify !== true) upstreamHttpOptions(d).auto_san_validation = true;
  }
}
