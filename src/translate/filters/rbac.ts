// Envoy RBAC building blocks for AuthorizationPolicy (policy/authorization.ts):
// Istio's value notation turned into Envoy matchers, the boolean combinators,
// and the HTTP and network RBAC filters. Istio's matcher builders are the
// model (pilot/pkg/security/authz/matcher and model/generator.go); every
// regex is built from escaped literals, never from user text as-is
// (CVE-2026-39350: a dot in an identifier must not match any character).
//
// Istio's value notation: `*` alone (any non-empty value), `*suffix`,
// `prefix*`, else an exact value.
import { packAny } from "../../envoy/any.js";
import type { Filter } from "../../envoy/generated/envoy/config/listener/v3/Filter.js";
import type { Permission } from "../../envoy/generated/envoy/config/rbac/v3/Permission.js";
import type { Policy } from "../../envoy/generated/envoy/config/rbac/v3/Policy.js";
import type { Principal } from "../../envoy/generated/envoy/config/rbac/v3/Principal.js";
import type { RBAC as RbacRules } from "../../envoy/generated/envoy/config/rbac/v3/RBAC.js";
import type { HeaderMatcher } from "../../envoy/generated/envoy/config/route/v3/HeaderMatcher.js";
import type { RBAC as HttpRbac } from "../../envoy/generated/envoy/extensions/filters/http/rbac/v3/RBAC.js";
import type { HttpFilter } from "../../envoy/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.js";
import type { RBAC as NetworkRbac } from "../../envoy/generated/envoy/extensions/filters/network/rbac/v3/RBAC.js";
import type { UriTemplateMatchConfig } from "../../envoy/generated/envoy/extensions/path/match/uri_template/v3/UriTemplateMatchConfig.js";
import type { MetadataMatcher } from "../../envoy/generated/envoy/type/matcher/v3/MetadataMatcher.js";
import type { StringMatcher } from "../../envoy/generated/envoy/type/matcher/v3/StringMatcher.js";
import type { ValueMatcher } from "../../envoy/generated/envoy/type/matcher/v3/ValueMatcher.js";

const T = "type.googleapis.com/";
export const HTTP_RBAC_TYPE_URL = `${T}envoy.extensions.filters.http.rbac.v3.RBAC`;
export const NETWORK_RBAC_TYPE_URL = `${T}envoy.extensions.filters.network.rbac.v3.RBAC`;
const URI_TEMPLATE_TYPE_URL = `${T}envoy.extensions.path.match.uri_template.v3.UriTemplateMatchConfig`;

/** The jwt_authn filter writes verified payloads into dynamic metadata under its own name, at this key (Istio's). */
export const JWT_AUTHN_FILTER = "envoy.filters.http.jwt_authn";
export const JWT_PAYLOAD_KEY = "payload";

export type RbacAction = "ALLOW" | "DENY" | "LOG";

/** Escapes every RE2 metacharacter, so the text matches only itself. */
export function quoteRe2(text: string): string {
  return text.replace(/[\\.+*?()|[\]{}^$]/g, "\\$&");
}

const regex = (re: string): StringMatcher => ({ safe_regex: { regex: re } });
/** Istio turns `*` into `.+`: the value must be present and non-empty. */
export const ANY_VALUE: StringMatcher = regex(".+");

/**
 * Istio's StringMatcherWithPrefix: `prefix` is prepended to the user's value
 * (`spiffe://` for principals), except for `*`, which matches any non-empty
 * value whatever the prefix.
 */
export function stringMatcher(value: string, prefix = "", ignoreCase = false): StringMatcher {
  const ic = ignoreCase ? { ignore_case: true } : {};
  if (value === "*") return ANY_VALUE;
  if (value.startsWith("*")) {
    const suffix = value.slice(1);
    return prefix === "" ? { suffix, ...ic } : regex(`${quoteRe2(prefix)}.*${quoteRe2(suffix)}`);
  }
  if (value.endsWith("*")) return { prefix: prefix + value.slice(0, -1), ...ic };
  return { exact: prefix + value, ...ic };
}

/** Istio's HeaderMatcher: `*` is presence, `*x` suffix, `x*` prefix, else exact; case-sensitive. */
export function headerMatcher(name: string, value: string): HeaderMatcher {
  if (value === "*") return { name, present_match: true };
  return { name, string_match: stringMatcher(value) };
}

/**
 * The `:authority` matchers of one `hosts` value, case-insensitive (RFC 4343;
 * CVE-2021-39155). Istio compares the value with the whole header, so `a.com`
 * does not match `a.com:8080`; `withPort` adds the `<value>:<port>` variant,
 * used where matching more is the safe direction (see authorization.ts).
 */
export function hostMatchers(value: string, withPort: boolean): HeaderMatcher[] {
  const name = ":authority";
  if (value === "*") return [{ name, present_match: true }];
  const out: HeaderMatcher[] = [{ name, string_match: stringMatcher(value, "", true) }];
  if (!withPort || value.includes(":") || value.endsWith("*")) return out;
  if (value.startsWith("*")) {
    out.push({ name, string_match: regex(`(?i:.*${quoteRe2(value.slice(1))}:[0-9]+)`) });
  } else {
    out.push({ name, string_match: { prefix: `${value}:`, ignore_case: true } });
  }
  return out;
}

/** Istio's path template operators: `{*}` one path segment, `{**}` zero or more (last only). */
export const MATCH_ONE_TEMPLATE = "{*}";
export const MATCH_ANY_TEMPLATE = "{**}";

export function containsPathTemplate(path: string): boolean {
  return path.includes(MATCH_ONE_TEMPLATE) || path.includes(MATCH_ANY_TEMPLATE);
}

// A path literal Envoy's uri_template accepts: RFC 3986 pchar.
const LITERAL_CHARS = "a-zA-Z0-9\\-._~%!$&'()+,;:@=";
const VALID_LITERAL = /^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$/;

/** Why a path template is not one Envoy's uri_template (and Istio) accept; undefined when it is. */
export function pathTemplateProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return "a path template must start with /";
  if (path.includes("//")) return "a path template must not contain //";
  const segments = path.slice(1).split("/");
  let seenAny = false;
  for (const [i, s] of segments.entries()) {
    if (s === MATCH_ANY_TEMPLATE) {
      if (seenAny || i !== segments.length - 1) return "{**} must be the last segment";
      seenAny = true;
      continue;
    }
    if (s === MATCH_ONE_TEMPLATE) continue;
    if (s === "" && i === segments.length - 1) continue; // trailing slash
    if (/[{}]/.test(s)) return `segment "${s}": only whole-segment {*} and {**} are supported`;
    if (!VALID_LITERAL.test(s)) return `segment "${s}" has characters a URL path segment cannot have`;
  }
  return undefined;
}

/** Envoy's own translation of a uri_template to RE2 (uri_template_internal.cc), for gRPC, which has no uri_template. */
export function pathTemplateRegex(path: string): string {
  return path
    .split("/")
    .map((s) => {
      if (s === MATCH_ONE_TEMPLATE) return `[${LITERAL_CHARS}]+`;
      if (s === MATCH_ANY_TEMPLATE) return `[${LITERAL_CHARS}/]*`;
      return quoteRe2(s);
    })
    .join("/");
}

/**
 * A `paths` value: the URL path without the query (`url_path`, so `?x` or
 * `#x` cannot defeat an exact rule; CVE-2020-8595). Path templates use
 * Envoy's uri_template matcher, as Istio does; gRPC implements neither it nor
 * any unknown permission (it would never match, so a DENY would never deny),
 * so for proxyless servers the same template is sent as the equivalent regex.
 */
export function pathPermission(path: string, proxyless: boolean): Permission {
  if (containsPathTemplate(path)) {
    if (proxyless) return { url_path: { path: regex(pathTemplateRegex(path)) } };
    const template: UriTemplateMatchConfig = {
      path_template: path.replaceAll(MATCH_ANY_TEMPLATE, "**").replaceAll(MATCH_ONE_TEMPLATE, "*"),
    };
    return { uri_template: { name: "uri-template", typed_config: packAny(URI_TEMPLATE_TYPE_URL, template) } };
  }
  return { url_path: { path: stringMatcher(path) } };
}

/** The verified JWT's `claim` (jwt_authn payload in dynamic metadata) matched as one string. */
export function jwtClaimString(claim: string, m: StringMatcher): MetadataMatcher {
  return {
    filter: JWT_AUTHN_FILTER,
    path: [{ key: JWT_PAYLOAD_KEY }, { key: claim }],
    value: { string_match: m },
  };
}

/**
 * A (possibly nested) claim matched against any of `values`, whether the claim
 * is a string or a list of strings (Istio's MetadataListValueMatcher with
 * extended JWT matching).
 */
export function jwtClaimValues(claims: readonly string[], values: readonly string[]): MetadataMatcher {
  const one = orValues(values.map((v) => ({ string_match: stringMatcher(v) })));
  return {
    filter: JWT_AUTHN_FILTER,
    path: [JWT_PAYLOAD_KEY, ...claims].map((key) => ({ key })),
    value: { or_match: { value_matchers: [{ list_match: { one_of: one } }, one] } },
  };
}

function orValues(ms: ValueMatcher[]): ValueMatcher {
  const [only] = ms;
  return ms.length === 1 && only ? only : { or_match: { value_matchers: ms } };
}

// Combinators. A set of one is the element itself (Envoy's result is the same).
export const permissionAny: Permission = { any: true };
export const principalAny: Principal = { any: true };

export function permissionAnd(rules: Permission[]): Permission {
  const [only] = rules;
  if (rules.length === 0) return permissionAny;
  return rules.length === 1 && only ? only : { and_rules: { rules } };
}
export function permissionOr(rules: Permission[]): Permission {
  const [only] = rules;
  return rules.length === 1 && only ? only : { or_rules: { rules } };
}
export const permissionNot = (rule: Permission): Permission => ({ not_rule: rule });

export function principalAnd(ids: Principal[]): Principal {
  const [only] = ids;
  if (ids.length === 0) return principalAny;
  return ids.length === 1 && only ? only : { and_ids: { ids } };
}
export function principalOr(ids: Principal[]): Principal {
  const [only] = ids;
  return ids.length === 1 && only ? only : { or_ids: { ids } };
}
export const principalNot = (id: Principal): Principal => ({ not_id: id });

/** A policy that matches no request: an ALLOW policy with no rules allows nothing (Istio's rbacPolicyMatchNever). */
export const MATCH_NEVER: Policy = {
  permissions: [{ not_rule: permissionAny }],
  principals: [{ not_id: principalAny }],
};

/** Policies by name, in name order (stable bytes, so versions change only with content). */
export function rbacRules(action: RbacAction, policies: ReadonlyMap<string, Policy>): RbacRules {
  const sorted = [...policies.keys()].sort();
  return { action, policies: Object.fromEntries(sorted.map((k) => [k, policies.get(k) as Policy])) };
}

/** Istio's stat prefixes of dry-run (shadow) rules. */
export function shadowStatPrefix(action: RbacAction): string {
  if (action === "ALLOW") return "istio_dry_run_allow_";
  if (action === "DENY") return "istio_dry_run_deny_";
  return "";
}

export interface RbacFilterRules {
  rules?: RbacRules;
  shadow?: RbacRules;
}

export function httpRbacFilter(name: string, r: RbacFilterRules): HttpFilter {
  const config: HttpRbac = {};
  if (r.rules) config.rules = r.rules;
  if (r.shadow) {
    config.shadow_rules = r.shadow;
    const prefix = shadowStatPrefix(r.shadow.action as RbacAction);
    if (prefix) config.shadow_rules_stat_prefix = prefix;
  }
  return { name, typed_config: packAny(HTTP_RBAC_TYPE_URL, config) };
}

export function networkRbacFilter(name: string, r: RbacFilterRules): Filter {
  // Istio's stat prefix for every TCP RBAC filter.
  const config: NetworkRbac = { stat_prefix: "tcp." };
  if (r.rules) config.rules = r.rules;
  if (r.shadow) {
    config.shadow_rules = r.shadow;
    const prefix = shadowStatPrefix(r.shadow.action as RbacAction);
    if (prefix) config.shadow_rules_stat_prefix = prefix;
  }
  return { name, typed_config: packAny(NETWORK_RBAC_TYPE_URL, config) };
}
