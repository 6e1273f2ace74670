// HTTPMatchRequest → Envoy RouteMatch, and whether a match clause applies to the
// proxy being translated (Istio's sourceMatchHTTP and port check): a clause
// bound to other gateways, other source labels or another source namespace, or
// to another port, is left out of this proxy's routes.

import type { HTTPMatchRequest, StringMatch } from "../../config/networking/virtual-service.js";
import type { HeaderMatcher } from "../../envoy/generated/envoy/config/route/v3/HeaderMatcher.js";
import type { QueryParameterMatcher } from "../../envoy/generated/envoy/config/route/v3/QueryParameterMatcher.js";
import type { RouteMatch } from "../../envoy/generated/envoy/config/route/v3/RouteMatch.js";
import { labelsMatch } from "../../model/labels.js";
import type { ProxyTarget } from "../context.js";
import { isHeaderText, isRe2Compatible } from "./regex.js";
import { isPresenceMatch, stringMatcher } from "./string-match.js";

export const MESH_GATEWAY = "mesh";

/** Header names Istio turns into JWT-claim metadata matchers (needs RequestAuthentication; not supported). */
export function isJwtClaimHeader(name: string): boolean {
  return name.startsWith("@request.auth.claims");
}

/** Why a clause is left out for a proxy, or undefined when it applies. */
export type ClauseSkip = "port" | "gateway" | "source" | "jwt-claims" | "invalid" | "proxyless-unmatchable";

/**
 * What in a clause Envoy would reject (making it reject the whole route
 * configuration): regexes RE2 cannot compile, empty header or query parameter
 * names, header names with NUL, CR or LF. Field paths relative to the clause.
 */
export function invalidConditions(m: HTTPMatchRequest): { field: string; problem: string }[] {
  const out: { field: string; problem: string }[] = [];
  const regex = (field: string, sm: StringMatch | undefined) => {
    if (sm?.regex !== undefined && sm.regex !== "*" && !isRe2Compatible(sm.regex))
      out.push({ field: `${field}.regex`, problem: `${JSON.stringify(sm.regex)} is not a valid RE2 regex` });
  };
  regex("uri", m.uri);
  regex("method", m.method);
  regex("authority", m.authority);
  regex("scheme", m.scheme);
  for (const kind of ["headers", "withoutHeaders", "queryParams"] as const) {
    for (const [name, sm] of Object.entries(m[kind] ?? {})) {
      const field = `${kind}[${JSON.stringify(name)}]`;
      if (!name || !isHeaderText(name)) out.push({ field, problem: "the name is empty or has NUL, CR or LF" });
      regex(field, sm);
    }
  }
  return out;
}

export function clauseSkip(m: HTTPMatchRequest, proxy: ProxyTarget, port: number): ClauseSkip | undefined {
  if (m.port !== undefined && m.port !== port) return "port";
  if (m.gateways && m.gateways.length > 0) {
    // A clause naming gateways applies to sidecars only if it names "mesh"; source labels are then not checked (Istio).
    if (!m.gateways.includes(MESH_GATEWAY)) return "gateway";
  } else {
    if (!labelsMatch(m.sourceLabels ?? {}, proxy.labels)) return "source";
    if (m.sourceNamespace && m.sourceNamespace !== proxy.namespace) return "source";
  }
  const names = [...Object.keys(m.headers ?? {}), ...Object.keys(m.withoutHeaders ?? {})];
  if (names.some(isJwtClaimHeader)) return "jwt-claims";
  if (invalidConditions(m).length > 0) return "invalid";
  if (proxy.class === "proxyless-grpc" && proxylessUnmatchable(m).length > 0) return "proxyless-unmatchable";
  return undefined;
}

/**
 * Conditions a proxyless gRPC client cannot evaluate: gRPC has no query string,
 * and grpc-js never sees the :method, :authority and :scheme pseudo-headers in
 * call metadata, so such a clause could never match there.
 */
export function proxylessUnmatchable(m: HTTPMatchRequest): string[] {
  const out: string[] = [];
  if (m.queryParams && Object.keys(m.queryParams).length > 0) out.push("queryParams");
  if (m.method) out.push("method");
  if (m.authority) out.push("authority");
  if (m.scheme) out.push("scheme");
  return out;
}

function headerMatcher(name: string, m: StringMatch | undefined): HeaderMatcher {
  const sm = m ? stringMatcher(m) : undefined;
  return sm ? { name: name.toLowerCase(), string_match: sm } : { name: name.toLowerCase(), present_match: true };
}

function queryParameterMatcher(name: string, m: StringMatch): QueryParameterMatcher {
  const sm = stringMatcher(m);
  return sm ? { name, string_match: sm } : { name, present_match: true };
}

/** The catch-all match of a route without match clauses. */
export const CATCH_ALL_MATCH: RouteMatch = { prefix: "/" };

/** Istio's TranslateRouteMatch: path, headers (sorted by name), pseudo-headers, query parameters. */
export function routeMatch(m: HTTPMatchRequest | undefined): RouteMatch {
  if (!m) return { ...CATCH_ALL_MATCH };
  const out: RouteMatch = {};
  if (m.uri?.exact !== undefined) out.path = m.uri.exact;
  else if (m.uri?.prefix !== undefined) out.prefix = m.uri.prefix;
  else if (m.uri?.regex !== undefined) out.safe_regex = { regex: m.uri.regex };
  else out.prefix = "/";
  if (m.ignoreUriCase) out.case_sensitive = { value: false };

  const headers: HeaderMatcher[] = [];
  for (const [name, sm] of Object.entries(m.headers ?? {})) headers.push(headerMatcher(name, sm));
  for (const [name, sm] of Object.entries(m.withoutHeaders ?? {})) {
    const h = headerMatcher(name, sm);
    h.invert_match = true;
    // An absent header does not equal the value, so it matches "without"; present_match cannot take this flag.
    if (!isPresenceMatch(sm)) h.treat_missing_header_as_empty = true;
    headers.push(h);
  }
  headers.sort((a, b) => ((a.name ?? "") < (b.name ?? "") ? -1 : (a.name ?? "") > (b.name ?? "") ? 1 : 0));
  if (m.method) headers.push(headerMatcher(":method", m.method));
  if (m.authority) headers.push(headerMatcher(":authority", m.authority));
  if (m.scheme) headers.push(headerMatcher(":scheme", m.scheme));
  if (headers.length > 0) out.headers = headers;

  const query = Object.keys(m.queryParams ?? {})
    .sort()
    .map((name) => queryParameterMatcher(name, m.queryParams?.[name] ?? {}));
  if (query.length > 0) out.query_parameters = query;
  return out;
}

/** Istio's IsCatchAllRoute: prefix "/" (or regex ".*") with no header or query condition. */
export function isCatchAll(match: RouteMatch): boolean {
  const path = match.prefix === "/" || match.safe_regex?.regex === ".*";
  return path && !match.headers?.length && !match.query_parameters?.length;
}
