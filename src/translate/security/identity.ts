// Workload identities as the TLS contexts name them: SPIFFE IDs
// `spiffe://<trustDomain>/ns/<ns>/sa/<sa>` (the SAN of every certificate the
// Trellis CA issues), and the identities a client may accept from a service.
import { isIP } from "node:net";
import type { SubjectAltNameMatcher } from "../../envoy/generated/envoy/extensions/transport_sockets/tls/v3/SubjectAltNameMatcher.js";
import type { ServiceModel } from "../../model/services.js";

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** Every identity of the trust domain: what a server accepts from a client (Istio's inbound prefix match). */
export function trustDomainPrefix(trustDomain: string): string {
  return `spiffe://${trustDomain}/`;
}

/**
 * The identities a client accepts from `svc` (Istio's ServiceAccounts of a
 * service): the service accounts of its endpoints (Kubernetes pods, WorkloadEntries,
 * ServiceEntry endpoints), plus the ServiceEntry's `subjectAltNames`. Sorted and
 * unique, so the cluster does not change with endpoint order. Empty when no
 * endpoint names a service account.
 */
export function serviceIdentities(
  svc: ServiceModel,
  trustDomain: string,
  serviceEntrySubjectAltNames: readonly string[],
): string[] {
  const ids = new Set<string>(serviceEntrySubjectAltNames);
  for (const e of svc.endpoints) {
    if (e.serviceAccount) ids.add(spiffeId(trustDomain, svc.namespace, e.serviceAccount));
  }
  return [...ids].sort();
}

/**
 * A SAN as Envoy's typed matcher: SPIFFE IDs (and other URIs) as URI SANs, IP
 * literals as IP SANs, anything else as a DNS SAN. Exact match.
 */
export function exactSan(value: string): SubjectAltNameMatcher {
  const sanType = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? "URI" : isIP(value) !== 0 ? "IP_ADDRESS" : "DNS";
  return { san_type: sanType, matcher: { exact: value } };
}

/** A URI SAN starting with `prefix` (a trust domain). */
export function uriSanPrefix(prefix: string): SubjectAltNameMatcher {
  return { san_type: "URI", matcher: { prefix } };
}
