// RequestAuthentication (security.istio.io) → Envoy's jwt_authn filter on the
// inbound HTTP chains of the workloads it selects, before the RBAC filters, as
// Istio builds it (pilot/pkg/security/authn/policy_applier.go):
//
// - every RequestAuthentication that applies (root namespace, own namespace,
//   selector ⊆ labels; targetRef(s) are for gateways and waypoints) adds its
//   jwtRules; one provider `origins-<i>` per rule, rules in issuer order;
// - a request without a token passes (authorization decides); a request with
//   a token must present a valid one for some provider, else 401: each
//   provider is OR'ed with `allow_missing`, and with several providers the
//   requirement is OR{P1, P2, …, AND{OR{P1, allow_missing}, …}} so providers
//   that read the same header still work;
// - the verified payload goes to dynamic metadata (`payload`), where
//   AuthorizationPolicy `requestPrincipals` and `request.auth.*` match it;
// - jwksUri: Envoy fetches the keys itself (remote_jwks, cached 5 minutes)
//   through a cluster to the JWKS host — the mesh service's outbound cluster
//   when the URI is plain HTTP to a service the proxy sees, else a dedicated
//   `jwks|<scheme>|<host>|<port>` cluster (TLS with the system CAs and the
//   host checked against the certificate for https). The control plane never
//   fetches a user-supplied URL, so there is no server-side request forgery
//   and no fetch error to scrub (CVE-2026-41413, CVE-2026-31837); the price is
//   that each sidecar needs egress to the issuer;
// - inline `jwks` → local_jwks;
// - a rule that cannot be honoured fails closed and is reported: no issuer →
//   the rule is left out (its tokens are rejected as unknown issuer); no usable
//   key source → a key set whose private key never existed, so every token of
//   that issuer is rejected (Istio does the same when its fetch fails).
//
// Proxyless gRPC has no JWT filter; AuthorizationPolicy treats JWT conditions
// as unsatisfiable there (policy/authorization.ts).
import type { JWTRule, RequestAuthentication } from "../../config/security/request-authentication.js";
import { packAny } from "../../envoy/any.js";
import type { Cluster } from "../../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import type { JwtAuthentication } from "../../envoy/generated/envoy/extensions/filters/http/jwt_authn/v3/JwtAuthentication.js";
import type { JwtProvider } from "../../envoy/generated/envoy/extensions/filters/http/jwt_authn/v3/JwtProvider.js";
import type { JwtRequirement } from "../../envoy/generated/envoy/extensions/filters/http/jwt_authn/v3/JwtRequirement.js";
import type { HttpFilter } from "../../envoy/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.js";
import type { UpstreamTlsContext } from "../../envoy/generated/envoy/extensions/transport_sockets/tls/v3/UpstreamTlsContext.js";
import { isHttp } from "../../model/protocol.js";
import { type MeshSnapshot, objectsOfKind, type SourcedObject } from "../../model/snapshot.js";
import { CONNECT_TIMEOUT, SYSTEM_CA_BUNDLE } from "../clusters/defaults.js";
import { dnsCluster } from "../clusters/dns-cluster.js";
import type { TranslationContext } from "../context.js";
import { protoDuration } from "../duration.js";
import { inboundPorts } from "../inbound.js";
import { outboundClusterName } from "../names.js";
import { appliesToWorkload } from "../policy/authorization.js";
import { JWT_AUTHN_FILTER, JWT_PAYLOAD_KEY } from "./rbac.js";

const JWT_AUTHN_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication";
const UPSTREAM_TLS_TYPE_URL = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext";
/** Istio's defaults: JWKS fetch timeout and cache lifetime. */
const JWKS_FETCH_TIMEOUT = "5s";
const JWKS_CACHE_DURATION = { seconds: "300", nanos: 0 };
/** Claims Istio always splits on spaces in the metadata payload (OAuth scopes). */
const SPACE_DELIMITED_CLAIMS = ["permission", "scope"];

/**
 * A key set whose RSA private key was generated once and discarded, so no
 * token can ever verify against it: the fail-closed stand-in for a key source
 * Trellis cannot use.
 */
export const NO_KEY_JWKS = JSON.stringify({
  keys: [
    {
      kty: "RSA",
      kid: "trellis-no-key",
      alg: "RS256",
      use: "sig",
      n: "39C7QgfGgHY3UsDHt5vOfwgTEnHJdLEsxTTmKcSG7hsfntkDR9td31saiESES61W-fgNVD6gBl4YJ28rvIAunlVPUtVc-INxNolEK9vf6jsYNKDyBI3EaMJuoMIQWXm9BiXW36H_xn8HZOEgtkYP4iIaYapIgox37N-o5blYrWqnm8YafgJoNh40JoMAIRiMWNm4h9VETyb9QuEiQP0U3_Ynagc1bbFxznZWwzRXU3PHcWYdgBwOizfMLdEY1SahwG_Fh9v88B3JWx-4vLicSIvv9d8zapxvH4lQ3L4pLwi6GR90GZa-fiXp0W2th0fcMfmVwzsjrRSGDZWvqz1Sdw",
      e: "AQAB",
    },
  ],
});

/** An HTTP header name (RFC 9110 token). */
export function isHeaderName(name: string): boolean {
  return /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name);
}

/** Whether `jwks` is a JSON Web Key Set with at least one key. */
export function isJwks(jwks: string): boolean {
  try {
    const parsed = JSON.parse(jwks) as { keys?: unknown };
    return (
      Array.isArray(parsed.keys) &&
      parsed.keys.length > 0 &&
      parsed.keys.every((k) => typeof k === "object" && k !== null && typeof (k as { kty?: unknown }).kty === "string")
    );
  } catch {
    return false;
  }
}

export interface JwksEndpoint {
  uri: string;
  tls: boolean;
  host: string;
  port: number;
}

/** A jwksUri Envoy can fetch (http or https, with a host); undefined otherwise (Istio's ParseJwksURI). */
export function parseJwksUri(uri: string): JwksEndpoint | undefined {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return undefined;
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
  if (u.hostname === "" || u.username !== "" || u.password !== "") return undefined;
  const tls = u.protocol === "https:";
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  return { uri, tls, host, port: u.port ? Number(u.port) : tls ? 443 : 80 };
}

export function jwksClusterName(e: JwksEndpoint): string {
  return `jwks|${e.tls ? "https" : "http"}|${e.host}|${e.port}`;
}

// The snapshot's RequestAuthentications in namespace/name order, once per
// snapshot: every view (listeners and clusters) would otherwise scan every object.
const requestAuthenticationsBySnapshot = new WeakMap<MeshSnapshot, readonly SourcedObject<RequestAuthentication>[]>();

export function requestAuthenticationsFor(ctx: TranslationContext): RequestAuthentication[] {
  let all = requestAuthenticationsBySnapshot.get(ctx.snapshot);
  if (!all) {
    all = objectsOfKind<RequestAuthentication>(ctx.snapshot, "RequestAuthentication").sort((a, b) =>
      `${a.object.metadata.namespace}/${a.object.metadata.name}`.localeCompare(
        `${b.object.metadata.namespace}/${b.object.metadata.name}`,
      ),
    );
    requestAuthenticationsBySnapshot.set(ctx.snapshot, all);
  }
  // Sorted, then filtered: the same order as filtering first (the sort is stable).
  return all.filter((s) => appliesToWorkload(s.object, ctx)).map((s) => s.object);
}

/** The jwtRules of every RequestAuthentication of the workload, in issuer order, without the ones left out. */
function workloadJwtRules(ctx: TranslationContext): JWTRule[] {
  const rules = requestAuthenticationsFor(ctx).flatMap((ra) => ra.spec?.jwtRules ?? []);
  // Stable sort: equal issuers keep namespace/name and list order.
  return rules.filter((r) => (r.issuer ?? "") !== "").sort((a, b) => (a.issuer ?? "").localeCompare(b.issuer ?? ""));
}

/** Where Envoy gets the keys: the mesh cluster for plain HTTP to a visible service, else a dedicated one. */
function jwksCluster(ctx: TranslationContext, e: JwksEndpoint): { name: string; dedicated: boolean } {
  if (!e.tls) {
    const svc = ctx.services.find((s) => s.host === e.host && s.ports.some((p) => p.number === e.port));
    if (svc) return { name: outboundClusterName(e.host, e.port), dedicated: false };
  }
  return { name: jwksClusterName(e), dedicated: true };
}

function provider(ctx: TranslationContext, rule: JWTRule): JwtProvider {
  const p: JwtProvider = { issuer: rule.issuer ?? "" };
  if (rule.audiences?.length) p.audiences = [...rule.audiences];
  const endpoint = rule.jwksUri ? parseJwksUri(rule.jwksUri) : undefined;
  if (endpoint) {
    // Istio: jwksUri wins when both are given.
    p.remote_jwks = {
      http_uri: {
        uri: endpoint.uri,
        cluster: jwksCluster(ctx, endpoint).name,
        timeout: protoDuration(rule.timeout ?? JWKS_FETCH_TIMEOUT),
      },
      cache_duration: JWKS_CACHE_DURATION,
    };
  } else {
    p.local_jwks = { inline_string: rule.jwks && isJwks(rule.jwks) && !rule.jwksUri ? rule.jwks : NO_KEY_JWKS };
  }
  if (rule.forwardOriginalToken) p.forward = true;
  const headers = (rule.fromHeaders ?? []).filter((h) => isHeaderName(h.name) && !/[\0\r\n]/.test(h.prefix ?? ""));
  if (headers.length) {
    p.from_headers = headers.map((h) => (h.prefix ? { name: h.name, value_prefix: h.prefix } : { name: h.name }));
  }
  if (rule.fromParams?.length) p.from_params = rule.fromParams.filter((x) => x !== "");
  if (rule.fromCookies?.length) p.from_cookies = rule.fromCookies.filter((x) => x !== "");
  if (rule.outputPayloadToHeader && isHeaderName(rule.outputPayloadToHeader)) {
    p.forward_payload_header = rule.outputPayloadToHeader;
  }
  p.payload_in_metadata = JWT_PAYLOAD_KEY;
  p.normalize_payload_in_metadata = {
    space_delimited_claims: [...new Set([...(rule.spaceDelimitedClaims ?? []), ...SPACE_DELIMITED_CLAIMS])].sort(),
  };
  const claimHeaders = (rule.outputClaimToHeaders ?? []).filter((c) => isHeaderName(c.header) && c.claim !== "");
  if (claimHeaders.length) {
    p.claim_to_headers = claimHeaders.map((c) => ({ header_name: c.header, claim_name: c.claim }));
  }
  return p;
}

const requiresProvider = (name: string): JwtRequirement => ({ provider_name: name });
const ALLOW_MISSING: JwtRequirement = { allow_missing: {} };

/** The workload's jwt_authn filter; undefined when no RequestAuthentication (with an issuer) applies. */
export function jwtAuthnFilter(ctx: TranslationContext): HttpFilter | undefined {
  if (ctx.proxy.class !== "sidecar") return undefined;
  const rules = workloadJwtRules(ctx);
  if (rules.length === 0) return undefined;
  const providers: Record<string, JwtProvider> = {};
  const inner: JwtRequirement[] = [];
  const outer: JwtRequirement[] = [];
  for (const [i, rule] of rules.entries()) {
    const name = `origins-${i}`;
    providers[name] = provider(ctx, rule);
    inner.push({ requires_any: { requirements: [requiresProvider(name), ALLOW_MISSING] } });
    outer.push(requiresProvider(name));
  }
  const requires: JwtRequirement =
    inner.length === 1
      ? (inner[0] as JwtRequirement)
      : { requires_any: { requirements: [...outer, { requires_all: { requirements: inner } }] } };
  const config: JwtAuthentication = {
    providers,
    rules: [{ match: { prefix: "/" }, requires }],
    bypass_cors_preflight: true,
  };
  return { name: JWT_AUTHN_FILTER, typed_config: packAny(JWT_AUTHN_TYPE_URL, config) };
}

/** Whether the workload has an inbound HTTP chain, the only place its jwt_authn filter goes. */
function servesHttp(ctx: TranslationContext): boolean {
  return inboundPorts(ctx).some((p) => isHttp(p.protocol));
}

/** The dedicated clusters Envoy fetches the workload's remote JWKS through (sidecars only). */
export function jwksClusters(ctx: TranslationContext): Cluster[] {
  if (ctx.proxy.class !== "sidecar" || !servesHttp(ctx)) return [];
  const seen = new Map<string, JwksEndpoint>();
  for (const rule of workloadJwtRules(ctx)) {
    const e = rule.jwksUri ? parseJwksUri(rule.jwksUri) : undefined;
    if (!e) continue;
    const c = jwksCluster(ctx, e);
    if (c.dedicated && !seen.has(c.name)) seen.set(c.name, e);
  }
  return [...seen.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, e]) => jwksEndpointCluster(name, e));
}

function jwksEndpointCluster(name: string, e: JwksEndpoint): Cluster {
  const assignment = {
    cluster_name: name,
    endpoints: [
      { lb_endpoints: [{ endpoint: { address: { socket_address: { address: e.host, port_value: e.port } } } }] },
    ],
  };
  const ip = /^[\d.]+$/.test(e.host) || e.host.includes(":");
  const cluster: Cluster = ip
    ? { name, type: "STATIC", load_assignment: assignment }
    : dnsCluster(name, "LOGICAL_DNS", assignment);
  cluster.connect_timeout = protoDuration(CONNECT_TIMEOUT);
  if (e.tls) {
    const tls: UpstreamTlsContext = {
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: "TLSv1_2", tls_maximum_protocol_version: "TLSv1_3" },
        validation_context: {
          trusted_ca: { filename: SYSTEM_CA_BUNDLE },
          match_typed_subject_alt_names: [{ san_type: ip ? "IP_ADDRESS" : "DNS", matcher: { exact: e.host } }],
        },
      },
    };
    if (!ip) tls.sni = e.host;
    cluster.transport_socket = {
      name: "envoy.transport_sockets.tls",
      typed_config: packAny(UPSTREAM_TLS_TYPE_URL, tls),
    };
  }
  return cluster;
}
