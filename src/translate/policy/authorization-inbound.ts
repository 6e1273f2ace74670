// What the security policies add to a sidecar's inbound chains, computed per
// workload (not per port) and shared by its chains; the listener builders only
// place it:
//
// - HTTP chains: jwt_authn (RequestAuthentication), then the RBAC filters
//   (AuthorizationPolicy: CUSTOM stand-in, AUDIT, DENY, ALLOW), all before the
//   chain's own filters, so a request is authenticated and authorized before
//   CORS, fault injection, rate limits or routing see it (Istio's order);
// - TCP chains, and the passthrough chain for ports no service declares: the
//   network RBAC filters before tcp_proxy;
// - every HTTP connection manager: MeshConfig path normalisation.
import type { Filter } from "../../envoy/generated/envoy/config/listener/v3/Filter.js";
import type { HttpFilter } from "../../envoy/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.js";
import type { TranslationContext } from "../context.js";
import { jwtAuthnFilter } from "../filters/jwt-authn.js";
import type { PathNormalization } from "../filters/path-normalization.js";
import { httpAuthorizationFilters, tcpAuthorizationFilters } from "./authorization.js";

export interface InboundSecurity {
  /** Filters that go first in every inbound HTTP filter chain. */
  http: HttpFilter[];
  /** Network filters that go before tcp_proxy in every inbound TCP chain and the passthrough chain. */
  network: Filter[];
  /** MeshConfig `pathNormalization.normalization`, for the HCM (filters/path-normalization.ts). */
  normalization: PathNormalization;
}

export function inboundSecurity(ctx: TranslationContext): InboundSecurity {
  const jwt = jwtAuthnFilter(ctx);
  return {
    http: [...(jwt ? [jwt] : []), ...httpAuthorizationFilters(ctx)],
    network: tcpAuthorizationFilters(ctx),
    normalization: ctx.mesh.pathNormalization.normalization,
  };
}
