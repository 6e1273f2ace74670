// Diagnostic codes of the sidecar listeners, the Sidecar resource and
// VirtualService tcp/tls routes (TRL3300–TRL3399). Stable: never reuse a code.
// Each is documented in docs/compat/sidecar.md or docs/compat/virtual-service-l4.md.
export const LISTENER_CODES = {
  /** A Sidecar egress host is not of the form `namespace/dnsName`; it selects nothing. */
  egressHostInvalid: "TRL3301",
  /** A Sidecar egress listener without a port is not the last one, or there are several. */
  egressCatchAllNotLast: "TRL3302",
  /** Two Sidecar egress (or ingress) listeners use the same port; the later one is ignored. */
  duplicateSidecarPort: "TRL3303",
  /** A Unix domain socket `bind` or `defaultEndpoint`, which Trellis does not program. */
  unixSocketUnsupported: "TRL3304",
  /** A Sidecar field that is validated but not honoured yet. */
  sidecarFieldNotHonoured: "TRL3305",
  /** A Sidecar `bind` that is not an IP address; the listener is left out. */
  invalidBind: "TRL3306",
  /** Several Sidecars without workloadSelector in one namespace; the first by name is used. */
  multipleDefaultSidecars: "TRL3307",
  /** A Sidecar ingress `defaultEndpoint` that is malformed or not honoured yet. */
  ingressDefaultEndpoint: "TRL3308",
  /** A tcp/tls route destination host that no visible service declares. */
  destinationHostNotFound: "TRL3310",
  /** A tcp/tls route destination subset that no DestinationRule for the host defines. */
  destinationSubsetNotFound: "TRL3311",
  /** A tcp/tls route destination port that the destination service does not declare. */
  destinationPortNotFound: "TRL3312",
  /** A `destinationSubnets` entry that is not an IP address or CIDR; it is skipped. */
  invalidSubnet: "TRL3313",
  /** L4 match `sourceSubnet`, which Istio does not implement for sidecars either. */
  sourceSubnetUnsupported: "TRL3314",
  /** A tcp/tls match bound only to gateways: it never applies to sidecars, and Trellis programs no gateways. */
  matchGatewayOnly: "TRL3315",
  /** Several route destinations, none with a weight: the first one takes all connections. */
  destinationsWithoutWeight: "TRL3316",
  /** A TLS match sniHost outside the VirtualService's hosts. */
  sniHostNotInHosts: "TRL3317",
  /** A tcp/tls route without destinations; it is skipped. */
  routeWithoutDestination: "TRL3318",
  /** tcp/tls routes that can never be used: no service of the hosts has a TCP (or TLS) port. */
  routeUnused: "TRL3319",
  /** Two services claim the same outbound listener (wildcard TCP port, or MongoDB/MySQL sharing a port). */
  outboundListenerConflict: "TRL3320",
  /** A service port without a declared protocol: proxied as opaque TCP (Istio would sniff HTTP). */
  protocolNotDeclared: "TRL3322",
  /** A workload port that is one of the sidecar's own ports; it gets no inbound filter chain. */
  inboundPortReserved: "TRL3323",
  /** A service port whose 0.0.0.0 listener would collide with one of Envoy's own (15001, 15006, 15021, 15090). */
  outboundPortReserved: "TRL3324",
} as const;
