// Diagnostic codes of the cluster and endpoint translators (TRL3200–TRL3299).
// Stable: never reuse a code. Each is listed in docs/compat/destination-rule.md
// or docs/compat/service-entry.md with what the translation does instead.
export const CLUSTER_CODES = {
  /** A DestinationRule's host matches no service in the registry. */
  unknownHost: "TRL3201",
  /** A subset's labels select no endpoint of the services the rule applies to. */
  subsetSelectsNothing: "TRL3202",
  /** A portLevelSettings entry names a port none of the rule's services has (or no port at all). */
  portNotOnService: "TRL3203",
  /** Two subsets of one DestinationRule share a name; the first wins. */
  duplicateSubset: "TRL3204",
  /** A field Trellis accepts but does not implement; it has no effect. */
  fieldUnsupported: "TRL3205",
  // TRL3206 (ISTIO_MUTUAL not implemented) is retired: ISTIO_MUTUAL is translated
  // (security/, TRL36xx); never reuse it.
  /** A setting proxyless gRPC clients cannot apply; what they get instead is in the message. */
  proxylessDegraded: "TRL3207",
  /** A ServiceEntry proxyless gRPC clients cannot use (resolution NONE, DNS with several endpoints): left out of their views. */
  proxylessServiceOmitted: "TRL3208",
  /** resolution DYNAMIC_DNS (Envoy's dynamic forward proxy) is not implemented: no cluster. */
  dynamicDnsUnsupported: "TRL3209",
  /** resolution DNS/DNS_ROUND_ROBIN without endpoints on a wildcard host: nothing to resolve, no cluster. */
  dnsWildcardWithoutEndpoints: "TRL3210",
  /** The deprecated outlierDetection.consecutiveErrors next to its replacements: ignored. */
  consecutiveErrorsIgnored: "TRL3211",
  /** tls.credentialName: the cluster waits for an SDS secret this version does not serve yet. */
  credentialNotServed: "TRL3212",
  /** tls.mode MUTUAL without clientCertificate/privateKey (or credentialName): no TLS is originated, as in Istio. */
  mutualWithoutCertificate: "TRL3213",
  /** Two members of an Istio oneof given together (simple + consistentHash, two hash keys, ringHash + maglev). */
  oneofConflict: "TRL3214",
  /** localityLbSetting failover/failoverPriority without outlierDetection: never fails over, as in Istio. */
  failoverWithoutOutlier: "TRL3215",
  /** localityLbSetting distribute and failover together: distribute wins. */
  distributeAndFailover: "TRL3216",
  /** h2UpgradePolicy UPGRADE with useClientProtocol: the client protocol wins. */
  upgradeWithClientProtocol: "TRL3217",
  /** consecutiveLocalOriginFailures without splitExternalLocalOriginErrors: ignored. */
  localOriginWithoutSplit: "TRL3218",
  /** resolution DNS_ROUND_ROBIN with several endpoints: only the first is used. */
  roundRobinDnsEndpoints: "TRL3219",
  /** UDP ports get no cluster (Envoy sidecars proxy TCP only), as in Istio. */
  udpPort: "TRL3220",
  /** An endpoint's network: Trellis has one network; it only feeds failoverPriority labels. */
  networkIgnored: "TRL3221",
  /** ServiceEntry subjectAltNames with no TLS origination to verify them against. */
  subjectAltNamesUnused: "TRL3222",
} as const;
