// Diagnostic codes of VirtualService HTTP routing (TRL3100–TRL3199). Stable:
// never reuse a code. Each is listed in docs/compat/virtual-service.md.
export const ROUTE_CODES = {
  /** A destination (route, mirror) names a host no ServiceEntry declares: the route points at a cluster that does not exist (503). */
  unknownHost: "TRL3101",
  /** A destination names a subset no applicable DestinationRule defines: the subset cluster does not exist (503). */
  unknownSubset: "TRL3102",
  /** A destination port the destination service does not declare: the cluster does not exist (503). */
  unknownPort: "TRL3103",
  /** A `delegate` names a VirtualService that does not exist, has hosts, or is not exported to the root's namespace: the HTTP route is left out. */
  delegateNotFound: "TRL3104",
  /** A field Trellis does not implement: it has no effect. */
  unsupportedField: "TRL3105",
  /** Something proxyless gRPC clients cannot do: left out of (or has no effect in) their routes; sidecars get it. */
  proxylessLimitation: "TRL3106",
  /** Several mesh VirtualServices define the same host: as in Istio they are not merged for sidecars, one of them applies. */
  hostConflict: "TRL3107",
  /** HTTP routes after a catch-all route can never match: they are left out, as in Istio. */
  unreachableRoute: "TRL3108",
  /** An HTTP route that cannot be translated (no action, invalid redirect code, zero total weight): it is left out. */
  invalidRoute: "TRL3109",
  /** A delegate's match is not within its root route's match: the delegate route is left out, as in Istio. */
  delegateMatchConflict: "TRL3110",
  /** A fault without a percentage: as in Istio, Envoy then injects it into no request. */
  faultPercentageUnset: "TRL3111",
  /** A destination without a port on a service with several ports: the port the client called is used, which the service may not have. */
  ambiguousPort: "TRL3112",
  /** A header operation on a pseudo-header (`:path`, …), which Envoy cannot modify: it is left out. */
  pseudoHeader: "TRL3113",
  /** A VirtualService host that matches no known service: Trellis routes only hosts of services in the registry. */
  hostNotInRegistry: "TRL3114",
  /** `retries` without `attempts` (or attempts 0): retries are disabled for the route, as in Istio. */
  retriesDisabled: "TRL3115",
  /** A match clause that can never apply to a mesh proxy (bound only to gateways, or JWT claim matching): the clause is left out. */
  matchNeverApplies: "TRL3116",
} as const;
