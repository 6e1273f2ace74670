// Diagnostic codes of authorization and request authentication
// (AuthorizationPolicy, RequestAuthentication; TRL3701–TRL3799). Stable: never
// reuse a code. Each is listed in docs/compat/authorization-policy.md or
// docs/compat/request-authentication.md with what the translation does
// instead, and the range in docs/diagnostics.md.
export const AUTHZ_CODES = {
  /** A value Trellis cannot match (bad IP/CIDR, port, wildcard placement, path template, service account, empty). */
  invalidValue: "TRL3701",
  /** A `when` condition key Istio does not define. */
  unknownConditionKey: "TRL3702",
  /** A `when` condition key Trellis does not support (`experimental.envoy.filters.*`). */
  unsupportedConditionKey: "TRL3703",
  /** Action CUSTOM: Trellis has no ext_authz providers; what the policy would send to the provider is denied. */
  customAction: "TRL3704",
  /** An AuthorizationPolicy with targetRef(s): it attaches to gateways and waypoints, so to no sidecar. */
  targetRefNotForSidecars: "TRL3705",
  /** A rule with HTTP-only fields: on TCP ports an ALLOW rule matches nothing, a DENY/AUDIT rule matches without them. */
  httpOnlyOnTcp: "TRL3706",
  /** Something proxyless gRPC servers cannot evaluate (JWT conditions, SNI, AUDIT, dry-run). */
  proxylessLimit: "TRL3707",
  /** Both `selector` and targetRef(s): Istio rejects this; Trellis follows the targetRef rule (no sidecar). */
  selectorAndTargetRef: "TRL3708",
  /** `provider` on an action other than CUSTOM: ignored. */
  providerIgnored: "TRL3709",
  /** The `istio.io/dry-run` annotation is neither "true" nor "false": the policy is enforced. */
  invalidDryRun: "TRL3710",
  /** A `when` condition with neither values nor notValues. */
  conditionWithoutValues: "TRL3711",

  /** A jwtRule without an issuer: left out (tokens of that issuer are rejected as unknown). */
  jwtRuleWithoutIssuer: "TRL3721",
  /** An inline `jwks` that is not a JSON Web Key Set: every token of the issuer is rejected. */
  invalidJwks: "TRL3722",
  /** Neither `jwks` nor `jwksUri` (Istio would discover the keys from the issuer in istiod): tokens are rejected. */
  noJwksSource: "TRL3723",
  /** A `jwksUri` that is not an http(s) URL with a host: tokens are rejected. */
  invalidJwksUri: "TRL3724",
  /** A `jwksUri` over plain http: the keys can be replaced in transit. */
  plaintextJwksUri: "TRL3725",
  /** Both `jwks` and `jwksUri`: `jwksUri` is used (Istio's choice). */
  jwksAndJwksUri: "TRL3726",
  /** A token location or output header that is not a valid header name (or an empty param, cookie or claim): left out. */
  invalidJwtLocation: "TRL3727",
  /** A RequestAuthentication with targetRef(s): it attaches to gateways and waypoints, so to no sidecar. */
  requestAuthnTargetRef: "TRL3728",
} as const;
