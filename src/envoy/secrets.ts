// SDS Secret resources (envoy.extensions.transport_sockets.tls.v3.Secret) as
// Istio names them, so listeners and clusters built for Istio's conventions
// find them: `default` holds the workload's certificate chain and key,
// `ROOTCA` the trust bundle its peers are verified against. Pure builders
// (proto-loader input shape); the per-identity certificates come from
// security/sds. Must not import xds/, translate/ or config/.

/** SDS name of the workload's own certificate and key (Istio's). */
export const WORKLOAD_CERT_SECRET = "default";
/** SDS name of the mesh trust bundle (Istio's). */
export const ROOT_CA_SECRET = "ROOTCA";

export interface TlsCertificateSecret {
  name: string;
  tls_certificate: { certificate_chain: { inline_string: string }; private_key: { inline_string: string } };
}

export interface ValidationContextSecret {
  name: string;
  validation_context: { trusted_ca: { inline_string: string } };
}

/** A certificate chain (leaf first) and its private key, inline: Envoy holds them in memory only. */
export function tlsCertificateSecret(name: string, chainPem: string, keyPem: string): TlsCertificateSecret {
  return {
    name,
    tls_certificate: { certificate_chain: { inline_string: chainPem }, private_key: { inline_string: keyPem } },
  };
}

/** Trusted roots (one or more PEM certificates, e.g. old and new during a root rotation). */
export function trustedCaSecret(name: string, bundlePem: string): ValidationContextSecret {
  return { name, validation_context: { trusted_ca: { inline_string: bundlePem } } };
}
