// The TLS contexts of Istio mutual TLS, for both proxy classes.
//
// Envoy sidecars get their certificate and trust bundle over SDS on the ADS
// stream they already have: secret `default` (certificate chain + key of the
// workload's SPIFFE identity) and `ROOTCA` (the mesh trust bundle), Istio's
// names. Unlike Istio (whose agent always answers, so it waits for ever with
// `initial_fetch_timeout: 0s`), Trellis keeps Envoy's 15 s: Trellis serves
// secrets only on authenticated streams, and a sidecar that never gets them
// (plaintext development xDS) must still activate its listeners and clusters
// for plaintext traffic instead of warming for ever; its mTLS connections fail
// until a certificate arrives. In production the secrets come with the first
// push, long before 15 s.
//
// Proxyless gRPC takes TLS only from certificate providers of its own
// bootstrap (gRFC A29; grpc-js-xds rejects SDS): `tls_certificate_provider_instance`
// and `ca_certificate_provider_instance` name instance `default` of
// `certificate_providers` (envoy/bootstrap.ts `grpcBootstrap`), certificate
// names `default` and `ROOTCA`, in a plain `validation_context` (Envoy's
// combined context requires an SDS config). gRPC reads only the legacy
// `match_subject_alt_names` (not the typed matchers), and rejects `tls_params`.
//
// ALPN: Trellis clients offer `istio` (Istio's in-mesh marker; Trellis has no
// metadata exchange, so never `istio-peer-exchange`), plus `h2` when the
// cluster speaks HTTP/2. Servers in PERMISSIVE mode route TLS that offers
// `istio` to the mTLS chain and any other TLS to the application unchanged,
// so an application's own TLS still works next to the mesh. Servers announce
// `h2`/`http/1.1` on HTTP ports so HTTP/2 is negotiated when both sides can.
import { packAny } from "../../envoy/any.js";
import { GRPC_CERT_PROVIDER_INSTANCE } from "../../envoy/bootstrap.js";
import type { TransportSocket } from "../../envoy/generated/envoy/config/core/v3/TransportSocket.js";
import type { CertificateProviderPluginInstance } from "../../envoy/generated/envoy/extensions/transport_sockets/tls/v3/CertificateProviderPluginInstance.js";
import type { CommonTlsContext } from "../../envoy/generated/envoy/extensions/transport_sockets/tls/v3/CommonTlsContext.js";
import type { DownstreamTlsContext } from "../../envoy/generated/envoy/extensions/transport_sockets/tls/v3/DownstreamTlsContext.js";
import type { SdsSecretConfig } from "../../envoy/generated/envoy/extensions/transport_sockets/tls/v3/SdsSecretConfig.js";
import type { SubjectAltNameMatcher } from "../../envoy/generated/envoy/extensions/transport_sockets/tls/v3/SubjectAltNameMatcher.js";
import type { TlsParameters } from "../../envoy/generated/envoy/extensions/transport_sockets/tls/v3/TlsParameters.js";
import type { UpstreamTlsContext } from "../../envoy/generated/envoy/extensions/transport_sockets/tls/v3/UpstreamTlsContext.js";

/** SDS secret with the workload's certificate chain and key (Istio's name). */
export const WORKLOAD_CERT_SECRET = "default";
/** SDS secret with the mesh trust bundle (Istio's name). */
export const ROOT_CA_SECRET = "ROOTCA";

/** Istio's in-mesh ALPN marker, offered by every Trellis mTLS client. */
export const ISTIO_ALPN = "istio";
export const TLS_TRANSPORT_PROTOCOL = "tls";

const T = "type.googleapis.com/envoy.extensions.transport_sockets.";
const UPSTREAM_TLS_CONTEXT = `${T}tls.v3.UpstreamTlsContext`;
const DOWNSTREAM_TLS_CONTEXT = `${T}tls.v3.DownstreamTlsContext`;
const RAW_BUFFER = `${T}raw_buffer.v3.RawBuffer`;

/** Istio's default server cipher suites (TLS 1.2; TLS 1.3 suites are not configurable in BoringSSL). */
export const ISTIO_CIPHER_SUITES = [
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "AES256-GCM-SHA384",
  "AES128-GCM-SHA256",
] as const;

/** TLS 1.2 to 1.3. ECDH curves stay Envoy's defaults (X25519, P-256), as in Istio. */
function tlsParams(server: boolean): TlsParameters {
  const p: TlsParameters = { tls_minimum_protocol_version: "TLSv1_2", tls_maximum_protocol_version: "TLSv1_3" };
  if (server) p.cipher_suites = [...ISTIO_CIPHER_SUITES];
  return p;
}

function sds(name: string): SdsSecretConfig {
  return { name, sds_config: { ads: {}, resource_api_version: "V3" } };
}

/**
 * Freezes `value` and everything in it: for parts shared by many generated
 * resources (and views), so that a builder writing to one fails loudly instead
 * of changing them all.
 */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

// The constant parts of the client side of Istio mTLS, shared (and frozen) by
// every cluster that has it: a sidecar view has an mTLS context per cluster
// (auto mTLS), thousands at mesh scale.
const CLIENT_TLS_PARAMS = deepFreeze(tlsParams(false));
const CLIENT_ALPN = deepFreeze([ISTIO_ALPN]);
const CLIENT_ALPN_H2 = deepFreeze([ISTIO_ALPN, "h2"]);
const WORKLOAD_CERT_SDS = deepFreeze([sds(WORKLOAD_CERT_SECRET)]);
const ROOT_CA_SDS = deepFreeze(sds(ROOT_CA_SECRET));

function workloadCertificateViaSds(
  validation: SubjectAltNameMatcher[],
): Pick<CommonTlsContext, "tls_certificate_sds_secret_configs" | "combined_validation_context"> {
  return {
    tls_certificate_sds_secret_configs: WORKLOAD_CERT_SDS,
    combined_validation_context: {
      default_validation_context: validation.length > 0 ? { match_typed_subject_alt_names: validation } : {},
      validation_context_sds_secret_config: ROOT_CA_SDS,
    },
  };
}

export interface SidecarClientTls {
  /** Identities the server must present, already as matchers (exact SPIFFE IDs, or the trust domain). */
  sans: SubjectAltNameMatcher[];
  sni: string;
  /** The cluster speaks HTTP/2: offer `h2` next to `istio`. */
  http2: boolean;
}

/** A sidecar's client side of Istio mTLS (auto mTLS and ISTIO_MUTUAL). */
export function sidecarUpstreamTlsContext(opts: SidecarClientTls): UpstreamTlsContext {
  return {
    common_tls_context: {
      tls_params: CLIENT_TLS_PARAMS,
      alpn_protocols: opts.http2 ? CLIENT_ALPN_H2 : CLIENT_ALPN,
      ...workloadCertificateViaSds(opts.sans),
    },
    sni: opts.sni,
  };
}

/**
 * A sidecar's server side of Istio mTLS: a client certificate from the mesh
 * root is required, and its URI SAN must be in the trust domain.
 */
export function sidecarDownstreamTlsContext(trustDomainPrefix: string, http: boolean): DownstreamTlsContext {
  const common: CommonTlsContext = {
    tls_params: tlsParams(true),
    ...workloadCertificateViaSds([{ san_type: "URI", matcher: { prefix: trustDomainPrefix } }]),
  };
  if (http) common.alpn_protocols = ["h2", "http/1.1"];
  return { common_tls_context: common, require_client_certificate: { value: true } };
}

function provider(certificateName: string): CertificateProviderPluginInstance {
  return { instance_name: GRPC_CERT_PROVIDER_INSTANCE, certificate_name: certificateName };
}

/**
 * A proxyless gRPC client's side of Istio mTLS. gRPC checks the SANs itself
 * (exact matches compare the whole SAN value, prefix matches its start).
 */
export function proxylessUpstreamTlsContext(sans: readonly SubjectAltNameMatcher[]): UpstreamTlsContext {
  return {
    common_tls_context: {
      tls_certificate_provider_instance: provider(WORKLOAD_CERT_SECRET),
      validation_context: {
        ca_certificate_provider_instance: provider(ROOT_CA_SECRET),
        // biome-ignore lint/style/noNonNullAssertion: every matcher built here has one
        match_subject_alt_names: sans.map((m) => m.matcher!),
      },
    },
  };
}

/**
 * A proxyless gRPC server's side of Istio mTLS. gRPC servers take no SAN
 * matchers (grpc-go NACKs them), so the peer is authenticated by the mesh
 * root alone: every identity the Trellis CA issues is in the trust domain.
 */
export function proxylessDownstreamTlsContext(): DownstreamTlsContext {
  return {
    common_tls_context: {
      tls_certificate_provider_instance: provider(WORKLOAD_CERT_SECRET),
      validation_context: { ca_certificate_provider_instance: provider(ROOT_CA_SECRET) },
    },
    require_client_certificate: { value: true },
  };
}

export function upstreamTlsSocket(ctx: UpstreamTlsContext): TransportSocket {
  return { name: "envoy.transport_sockets.tls", typed_config: packAny(UPSTREAM_TLS_CONTEXT, ctx) };
}

export function downstreamTlsSocket(ctx: DownstreamTlsContext): TransportSocket {
  return { name: "envoy.transport_sockets.tls", typed_config: packAny(DOWNSTREAM_TLS_CONTEXT, ctx) };
}

export function rawBufferSocket(): TransportSocket {
  return { name: "envoy.transport_sockets.raw_buffer", typed_config: packAny(RAW_BUFFER, {}) };
}
