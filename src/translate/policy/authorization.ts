// AuthorizationPolicy (security.istio.io) → Envoy RBAC on the inbound side of
// a workload, with Istio's semantics (pilot/pkg/security/authz: model/,
// builder/):
//
// - which policies apply: those in the root namespace and in the workload's
//   namespace whose selector is absent or a subset of the workload's labels;
//   a policy with targetRef(s) attaches to gateways and waypoints only, so to
//   no sidecar (reported);
// - evaluation order CUSTOM → DENY → ALLOW, as one RBAC filter per action in
//   that order (AUDIT, Envoy's LOG action, sits before DENY and never
//   rejects); when any ALLOW policy applies, a request that matches none of
//   them is denied (an ALLOW RBAC filter allows only what its policies match);
// - a policy without rules matches nothing: as ALLOW it denies everything, as
//   DENY it denies nothing; a rule without from/to/when (`rules: [{}]`)
//   matches everything;
// - a rule is one RBAC policy `ns[<ns>]-policy[<name>]-rule[<i>]`: its
//   principals are the `from` sources (OR), its permissions the `to`
//   operations (OR), each the AND of its fields, `when` conditions ANDed
//   into every source or operation; `notX` is NOT(any of X);
// - what a rule cannot be honoured with (an invalid value, an unknown
//   condition, an HTTP-only field on a TCP port, a JWT condition on a
//   proxyless gRPC server) never widens access: an ALLOW rule that needs it
//   is left out entirely (it allows nothing), while a DENY or AUDIT rule
//   keeps matching without that value (it denies more) — Istio's own rule for
//   TCP, applied to everything. Every such case is reported (analyze).
//
// CUSTOM needs an ext_authz provider from MeshConfig extensionProviders,
// which Trellis does not have: like Istio with an unknown provider, the
// requests the policy would send to the provider are denied.
//
// The dry-run annotation `istio.io/dry-run: "true"` moves a policy into the
// filter's shadow rules (evaluated and counted, never enforced).
import { isIPv4 } from "node:net";
import type { AuthorizationPolicy, Rule } from "../../config/security/authorization-policy.js";
import type { Filter } from "../../envoy/generated/envoy/config/listener/v3/Filter.js";
import type { Permission } from "../../envoy/generated/envoy/config/rbac/v3/Permission.js";
import type { Policy } from "../../envoy/generated/envoy/config/rbac/v3/Policy.js";
import type { Principal } from "../../envoy/generated/envoy/config/rbac/v3/Principal.js";
import type { HttpFilter } from "../../envoy/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.js";
import { labelsMatch } from "../../model/labels.js";
import { type MeshSnapshot, objectsOfKind, type SourcedObject } from "../../model/snapshot.js";
import type { TranslationContext } from "../context.js";
import {
  containsPathTemplate,
  headerMatcher,
  hostMatchers,
  httpRbacFilter,
  jwtClaimString,
  jwtClaimValues,
  MATCH_NEVER,
  networkRbacFilter,
  pathPermission,
  pathTemplateProblem,
  permissionAnd,
  permissionNot,
  permissionOr,
  principalAnd,
  principalNot,
  principalOr,
  quoteRe2,
  type RbacAction,
  type RbacFilterRules,
  rbacRules,
  stringMatcher,
} from "../filters/rbac.js";
import { cidrRange } from "../listeners/filter-chains.js";

/** How a rule is compiled: for which RBAC action, and for what kind of filter chain and proxy. */
export interface CompileTarget {
  action: RbacAction;
  /** A TCP filter chain (network RBAC): HTTP-only fields cannot be evaluated. */
  tcp: boolean;
  /** A proxyless gRPC server: no JWT metadata, no SNI. */
  proxyless: boolean;
  /** The policy's namespace (default namespace of `serviceAccounts`). */
  namespace: string;
  /** The mesh trust domain, replacing `cluster.local` in principals (Istio's trust domain bundle of one). */
  trustDomain: string;
}

/**
 * Why part of a rule could not be compiled. `invalid`, `no-values`,
 * `unknown-key` and `unsupported-key` are mistakes or gaps in the policy itself; `http-only` and
 * `proxyless` depend on where the rule is applied.
 */
export type IssueKind = "invalid" | "no-values" | "unknown-key" | "unsupported-key" | "http-only" | "proxyless";

export interface RuleIssue {
  kind: IssueKind;
  /** Field path inside the object: `spec.rules[0].to[0].operation.paths[1]`. */
  field: string;
  message: string;
}

interface Fail {
  fail: IssueKind;
  message: string;
}
const fail = (kind: IssueKind, message: string): Fail => ({ fail: kind, message });
const isFail = (x: unknown): x is Fail => typeof x === "object" && x !== null && "fail" in x;

const HTTP_ONLY = (what: string) => fail("http-only", `${what} can only be matched on HTTP ports`);
const NO_JWT_ON_PROXYLESS = (what: string) =>
  fail("proxyless", `${what} needs a verified JWT, which proxyless gRPC servers do not check`);

/**
 * One field of a source, operation or condition: its values (ORed) and
 * notValues (NOT of their OR). `one` compiles a single value; `all` compiles
 * the whole list into one matcher (JWT matchers), as Istio's extended
 * generators do.
 */
interface Term<T> {
  field: string;
  notField: string;
  values?: readonly string[];
  notValues?: readonly string[];
  one?: (value: string, negated: boolean) => T | Fail;
  all?: (values: readonly string[]) => T | Fail;
}

type Built<T> = { matchers: T[]; dropRule: boolean };

function buildTerm<T>(
  t: Term<T>,
  or: (xs: T[]) => T,
  not: (x: T) => T,
  target: CompileTarget,
  issues: RuleIssue[],
): Built<T> {
  const out: Built<T> = { matchers: [], dropRule: false };
  const lists: [readonly string[] | undefined, string, boolean][] = [
    [t.values, t.field, false],
    [t.notValues, t.notField, true],
  ];
  for (const [list, field, negated] of lists) {
    if (!list || list.length === 0) continue;
    const got: T[] = [];
    const failed = (f: Fail, at: string) => {
      issues.push({ kind: f.fail, field: at, message: f.message });
      // ALLOW: the rule cannot be honoured, so it allows nothing. DENY/LOG: match without this value.
      if (target.action === "ALLOW") out.dropRule = true;
    };
    if (t.all) {
      const empty = list.indexOf("");
      const r = empty >= 0 ? fail("invalid", "empty value") : t.all(list);
      if (isFail(r)) failed(r, empty >= 0 ? `${field}[${empty}]` : field);
      else got.push(r);
    } else if (t.one) {
      for (const [i, v] of list.entries()) {
        const r = v === "" ? fail("invalid", "empty value") : t.one(v, negated);
        if (isFail(r)) failed(r, `${field}[${i}]`);
        else got.push(r);
      }
    }
    if (got.length > 0) out.matchers.push(negated ? not(or(got)) : or(got));
  }
  return out;
}

// --- value checks -----------------------------------------------------------

/** Istio's wildcard rule: at most one `*`, and only at the start or the end. */
function wildcardProblem(v: string): Fail | undefined {
  const n = v.split("*").length - 1;
  if (n === 0 || v === "*") return undefined;
  if (n > 1 || !(v.startsWith("*") || v.endsWith("*"))) {
    return fail("invalid", `"${v}": a wildcard * is only allowed once, at the start or the end`);
  }
  return undefined;
}

/**
 * An IP or CIDR value. grpc-js-xds servers listen dual-stack and see an IPv4
 * peer as `::ffff:a.b.c.d`, which no IPv4 range matches (and a mapped IPv6
 * range makes its matcher throw), so on proxyless servers IPv4 values cannot
 * be evaluated.
 */
function cidr(v: string, t: CompileTarget) {
  const r = cidrRange(v);
  if (!r) return fail("invalid", `"${v}" is not an IP address or CIDR range`);
  if (t.proxyless && isIPv4(r.address_prefix ?? "")) {
    return fail("proxyless", `"${v}": proxyless gRPC servers see IPv4 peers as IPv4-mapped IPv6 addresses`);
  }
  return r;
}

function port(v: string): number | Fail {
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) return fail("invalid", `"${v}" is not a port number (0-65535)`);
  return Number(v);
}

// --- principals (who) ---------------------------------------------------------

const authenticated = (m: Principal["authenticated"]): Principal => ({ authenticated: m });

/** `principals`/`source.principal`: `<td>/ns/<ns>/sa/<sa>` against the peer certificate's SPIFFE ID. */
function sourcePrincipal(v: string, t: CompileTarget): Principal | Fail {
  const bad = wildcardProblem(v);
  if (bad) return bad;
  const parts = v.split("/");
  // `cluster.local` stands for the local trust domain (Istio's trust domain bundle).
  const value = parts.length === 5 && parts[0] === "cluster.local" ? [t.trustDomain, ...parts.slice(1)].join("/") : v;
  return authenticated({ principal_name: stringMatcher(value, "spiffe://") });
}

/** `namespaces`/`source.namespace`: the `/ns/<ns>/` part of the peer's SPIFFE ID. */
function sourceNamespace(v: string): Principal | Fail {
  const bad = wildcardProblem(v);
  if (bad) return bad;
  const ns = v.split("*").map(quoteRe2).join(".*");
  return authenticated({ principal_name: { safe_regex: { regex: `.*/ns/${ns}/.*` } } });
}

/** `serviceAccounts`/`source.serviceAccount`: `<sa>` or `<ns>/<sa>` (default: the policy's namespace). */
function sourceServiceAccount(v: string, t: CompileTarget): Principal | Fail {
  if (v.includes("*")) return fail("invalid", `"${v}": service accounts take no wildcards`);
  const parts = v.split("/");
  if (parts.length > 2 || parts.some((p) => p === "")) {
    return fail("invalid", `"${v}": expected <serviceAccount> or <namespace>/<serviceAccount>`);
  }
  const [ns, sa] = parts.length === 2 ? parts : [t.namespace, parts[0]];
  const regex = `spiffe://.+/ns/${quoteRe2(ns ?? "")}/(.+/|)sa/${quoteRe2(sa ?? "")}(/.+)?`;
  return authenticated({ principal_name: { safe_regex: { regex } } });
}

/** `trustDomains`/`source.trustDomain`: the trust domain of the peer's SPIFFE ID. */
function sourceTrustDomain(v: string): Principal | Fail {
  const bad = wildcardProblem(v);
  if (bad) return bad;
  if (v.includes("/")) return fail("invalid", `"${v}": a trust domain has no /`);
  if (v === "*") return authenticated({ principal_name: { prefix: "spiffe://" } });
  if (!v.includes("*")) return authenticated({ principal_name: { prefix: `spiffe://${v}/` } });
  const [a = "", b = ""] = v.split("*");
  return authenticated({ principal_name: { safe_regex: { regex: `spiffe://${quoteRe2(a)}[^/]*${quoteRe2(b)}/.*` } } });
}

const ANY_CLAIM = { safe_regex: { regex: ".+" } };

/** `requestPrincipals`/`request.auth.principal`: `<iss>/<sub>` of the verified JWT (issuer may contain /). */
function requestPrincipals(values: readonly string[], t: CompileTarget): Principal | Fail {
  if (t.tcp) return HTTP_ONLY("a request principal");
  if (t.proxyless) return NO_JWT_ON_PROXYLESS("a request principal");
  const ids = values.map((value) => {
    const idx = value.lastIndexOf("/");
    const found = idx >= 0;
    const iss = found ? value.slice(0, idx) : value;
    const sub = found ? value.slice(idx + 1) : "";
    let mIss: object;
    let mSub: object;
    if (value === "*") {
      mIss = ANY_CLAIM;
      mSub = ANY_CLAIM;
    } else if (value.startsWith("*")) {
      if (found) {
        mIss = iss === "*" ? ANY_CLAIM : { suffix: iss.slice(1) };
        mSub = { exact: sub };
      } else {
        mIss = ANY_CLAIM;
        mSub = { suffix: value.slice(1) };
      }
    } else if (value.endsWith("*")) {
      if (found) {
        mIss = { exact: iss };
        mSub = sub === "*" ? ANY_CLAIM : { prefix: sub.slice(0, -1) };
      } else {
        mIss = { prefix: value.slice(0, -1) };
        mSub = ANY_CLAIM;
      }
    } else {
      mIss = { exact: iss };
      mSub = { exact: sub };
    }
    return principalAnd([{ metadata: jwtClaimString("iss", mIss) }, { metadata: jwtClaimString("sub", mSub) }]);
  });
  return principalOr(ids);
}

function jwtClaims(claims: readonly string[], what: string) {
  return (values: readonly string[], t: CompileTarget): Principal | Fail => {
    if (t.tcp) return HTTP_ONLY(what);
    if (t.proxyless) return NO_JWT_ON_PROXYLESS(what);
    return { metadata: jwtClaimValues(claims, values) };
  };
}

/** `[a][b]` → ["a", "b"]; `[a]` → ["a"]; undefined when malformed (Istio's extractNameInNestedBrackets). */
export function bracketNames(s: string): string[] | undefined {
  const m = s.match(/^(\[[^[\]]+\])+$/);
  if (!m) return undefined;
  return [...s.matchAll(/\[([^[\]]+)\]/g)].map((x) => x[1] as string);
}

// --- permissions (what) -------------------------------------------------------

function hosts(v: string, negated: boolean, t: CompileTarget): Permission | Fail {
  if (t.tcp) return HTTP_ONLY("a host");
  const bad = wildcardProblem(v);
  if (bad) return bad;
  // Istio compares `hosts` with the whole Host header, so "a.com" misses "a.com:8080". Where matching
  // more can only deny more (hosts of DENY/AUDIT, notHosts of ALLOW), the `:<port>` form is matched too.
  const widen = negated ? t.action === "ALLOW" : t.action !== "ALLOW";
  return permissionOr(hostMatchers(v.toLowerCase(), widen).map((header) => ({ header })));
}

function methods(v: string, t: CompileTarget): Permission | Fail {
  if (t.tcp) return HTTP_ONLY("a method");
  const bad = wildcardProblem(v);
  if (bad) return bad;
  return { header: headerMatcher(":method", v) };
}

function paths(v: string, t: CompileTarget): Permission | Fail {
  if (t.tcp) return HTTP_ONLY("a path");
  if (containsPathTemplate(v)) {
    const problem = pathTemplateProblem(v);
    return problem ? fail("invalid", `"${v}": ${problem}`) : pathPermission(v, t.proxyless);
  }
  const bad = wildcardProblem(v);
  if (bad) return bad;
  return pathPermission(v, t.proxyless);
}

function destinationPort(v: string): Permission | Fail {
  const p = port(v);
  return isFail(p) ? p : { destination_port: p };
}

// --- conditions ---------------------------------------------------------------

type Side = "principal" | "permission";

interface ConditionTerm {
  side: Side;
  term: Term<Principal> | Term<Permission>;
}

function conditionTerm(
  c: { key: string; values?: string[]; notValues?: string[] },
  field: string,
  t: CompileTarget,
): ConditionTerm {
  const base = { field: `${field}.values`, notField: `${field}.notValues`, values: c.values, notValues: c.notValues };
  const key = c.key;
  const principal = (one: Term<Principal>["one"], all?: Term<Principal>["all"]): ConditionTerm => ({
    side: "principal",
    term: { ...base, one, all },
  });
  const permission = (one: Term<Permission>["one"]): ConditionTerm => ({ side: "permission", term: { ...base, one } });
  const always = (f: Fail): ConditionTerm => ({
    side: "principal",
    term: { field: `${field}.key`, notField: `${field}.key`, values: [key], all: () => f },
  });
  switch (key) {
    case "source.ip":
      return principal((v) => {
        const r = cidr(v, t);
        return isFail(r) ? r : { direct_remote_ip: r };
      });
    case "remote.ip":
      return principal((v) => {
        const r = cidr(v, t);
        return isFail(r) ? r : { remote_ip: r };
      });
    case "source.namespace":
      return principal(sourceNamespace);
    case "source.principal":
      return principal((v) => sourcePrincipal(v, t));
    case "source.serviceAccount":
      return principal((v) => sourceServiceAccount(v, t));
    case "source.trustDomain":
      return principal(sourceTrustDomain);
    case "request.auth.principal":
      return principal(undefined, (vs) => requestPrincipals(vs, t));
    case "request.auth.audiences":
      return principal(undefined, (vs) => jwtClaims(["aud"], "request.auth.audiences")(vs, t));
    case "request.auth.presenter":
      return principal(undefined, (vs) => jwtClaims(["azp"], "request.auth.presenter")(vs, t));
    case "destination.ip":
      return permission((v) => {
        const r = cidr(v, t);
        return isFail(r) ? r : { destination_ip: r };
      });
    case "destination.port":
      return permission(destinationPort);
    case "connection.sni":
      return permission((v) => {
        if (t.proxyless) return fail("proxyless", "connection.sni is not available to proxyless gRPC servers");
        return { requested_server_name: stringMatcher(v) };
      });
  }
  if (key.startsWith("request.headers")) {
    const names = bracketNames(key.slice("request.headers".length));
    if (names?.length !== 1) return always(fail("unknown-key", `"${key}": expected request.headers[<name>]`));
    const name = (names?.[0] ?? "").toLowerCase();
    if (/[\0\r\n]/.test(name)) return always(fail("invalid", `"${key}": not a valid header name`));
    return principal((v) => (t.tcp ? HTTP_ONLY("a request header") : { header: headerMatcher(name, v) }));
  }
  if (key.startsWith("request.auth.claims")) {
    const claims = bracketNames(key.slice("request.auth.claims".length));
    if (!claims) return always(fail("unknown-key", `"${key}": expected request.auth.claims[<claim>] or [<a>][<b>]…`));
    return principal(undefined, (vs) => jwtClaims(claims, key)(vs, t));
  }
  if (key.startsWith("experimental.envoy.filters.")) {
    return always(fail("unsupported-key", `"${key}": Envoy filter metadata conditions are not supported by Trellis`));
  }
  return always(fail("unknown-key", `unknown condition key "${key}"`));
}

// --- rules ----------------------------------------------------------------------

function combine<T>(
  terms: readonly Term<T>[],
  or: (xs: T[]) => T,
  not: (x: T) => T,
  and: (xs: T[]) => T,
  target: CompileTarget,
  issues: RuleIssue[],
): { value: T; dropRule: boolean } {
  const matchers: T[] = [];
  let dropRule = false;
  for (const term of terms) {
    const b = buildTerm(term, or, not, target, issues);
    matchers.push(...b.matchers);
    dropRule ||= b.dropRule;
  }
  return { value: and(matchers), dropRule };
}

/**
 * The RBAC policy of one rule; undefined when an ALLOW rule cannot be honoured
 * (it is left out: allowing nothing is the safe reading). Problems go to `issues`.
 */
export function compileRule(
  rule: Rule,
  field: string,
  target: CompileTarget,
  issues: RuleIssue[] = [],
): Policy | undefined {
  const basePrincipals: Term<Principal>[] = [];
  const basePermissions: Term<Permission>[] = [];
  let dropRule = false;
  for (const [i, c] of (rule.when ?? []).entries()) {
    const at = `${field}.when[${i}]`;
    if (!c.values?.length && !c.notValues?.length) {
      issues.push({ kind: "no-values", field: at, message: `condition "${c.key}" has neither values nor notValues` });
      if (target.action === "ALLOW") dropRule = true;
      continue;
    }
    const ct = conditionTerm(c, at, target);
    if (ct.side === "principal") basePrincipals.push(ct.term as Term<Principal>);
    else basePermissions.push(ct.term as Term<Permission>);
  }

  const principals: Principal[] = [];
  const froms = rule.from?.length ? rule.from : [undefined];
  for (const [i, from] of froms.entries()) {
    const s = from?.source;
    const at = `${field}.from[${i}].source`;
    const f = (name: string) => ({
      field: `${at}.${name}`,
      notField: `${at}.not${name[0]?.toUpperCase()}${name.slice(1)}`,
    });
    const terms: Term<Principal>[] = s
      ? [
          {
            ...f("principals"),
            values: s.principals,
            notValues: s.notPrincipals,
            one: (v) => sourcePrincipal(v, target),
          },
          {
            ...f("requestPrincipals"),
            values: s.requestPrincipals,
            notValues: s.notRequestPrincipals,
            all: (vs) => requestPrincipals(vs, target),
          },
          {
            ...f("serviceAccounts"),
            values: s.serviceAccounts,
            notValues: s.notServiceAccounts,
            one: (v) => sourceServiceAccount(v, target),
          },
          { ...f("trustDomains"), values: s.trustDomains, notValues: s.notTrustDomains, one: sourceTrustDomain },
          { ...f("namespaces"), values: s.namespaces, notValues: s.notNamespaces, one: sourceNamespace },
          {
            ...f("remoteIpBlocks"),
            values: s.remoteIpBlocks,
            notValues: s.notRemoteIpBlocks,
            one: (v) => {
              const r = cidr(v, target);
              return isFail(r) ? r : { remote_ip: r };
            },
          },
          {
            ...f("ipBlocks"),
            values: s.ipBlocks,
            notValues: s.notIpBlocks,
            one: (v) => {
              const r = cidr(v, target);
              return isFail(r) ? r : { direct_remote_ip: r };
            },
          },
        ]
      : [];
    const built = combine([...terms, ...basePrincipals], principalOr, principalNot, principalAnd, target, issues);
    dropRule ||= built.dropRule;
    principals.push(built.value);
  }

  const permissions: Permission[] = [];
  const tos = rule.to?.length ? rule.to : [undefined];
  for (const [i, to] of tos.entries()) {
    const o = to?.operation;
    const at = `${field}.to[${i}].operation`;
    const f = (name: string) => ({
      field: `${at}.${name}`,
      notField: `${at}.not${name[0]?.toUpperCase()}${name.slice(1)}`,
    });
    const terms: Term<Permission>[] = o
      ? [
          { ...f("hosts"), values: o.hosts, notValues: o.notHosts, one: (v, neg) => hosts(v, neg, target) },
          { ...f("methods"), values: o.methods, notValues: o.notMethods, one: (v) => methods(v, target) },
          { ...f("paths"), values: o.paths, notValues: o.notPaths, one: (v) => paths(v, target) },
          { ...f("ports"), values: o.ports, notValues: o.notPorts, one: destinationPort },
        ]
      : [];
    const built = combine([...terms, ...basePermissions], permissionOr, permissionNot, permissionAnd, target, issues);
    dropRule ||= built.dropRule;
    permissions.push(built.value);
  }

  if (dropRule) return undefined;
  return { permissions, principals };
}

// --- policies for a workload -----------------------------------------------------

export type AuthorizationAction = "ALLOW" | "DENY" | "AUDIT" | "CUSTOM";

export const DRY_RUN_ANNOTATION = "istio.io/dry-run";

export function actionOf(p: AuthorizationPolicy): AuthorizationAction {
  return p.spec?.action ?? "ALLOW";
}

export function isDryRun(p: AuthorizationPolicy): boolean {
  return p.metadata.annotations?.[DRY_RUN_ANNOTATION]?.toLowerCase() === "true";
}

export function hasTargetRefs(spec: { targetRef?: unknown; targetRefs?: readonly unknown[] } | undefined): boolean {
  return spec?.targetRef !== undefined || (spec?.targetRefs?.length ?? 0) > 0;
}

/**
 * Istio's attachment rule for sidecars (policyattachment.go): root-namespace
 * and own-namespace policies whose selector is absent or a subset of the
 * workload's labels; any targetRef means gateways/waypoints only.
 */
export function appliesToWorkload(
  obj: {
    metadata: { namespace?: string };
    spec?: {
      selector?: { matchLabels?: Record<string, string> };
      targetRef?: unknown;
      targetRefs?: readonly unknown[];
    };
  },
  ctx: TranslationContext,
): boolean {
  const ns = obj.metadata.namespace ?? "default";
  if (ns !== ctx.mesh.rootNamespace && ns !== ctx.proxy.namespace) return false;
  if (hasTargetRefs(obj.spec)) return false;
  return labelsMatch(obj.spec?.selector?.matchLabels ?? {}, ctx.proxy.labels);
}

const byName = (a: SourcedObject, b: SourcedObject) =>
  `${a.object.metadata.namespace}/${a.object.metadata.name}`.localeCompare(
    `${b.object.metadata.namespace}/${b.object.metadata.name}`,
  );

// The snapshot's AuthorizationPolicies in namespace/name order, once per
// snapshot: every view (several times) would otherwise scan every object.
const policiesBySnapshot = new WeakMap<MeshSnapshot, readonly SourcedObject<AuthorizationPolicy>[]>();

export function authorizationPoliciesFor(ctx: TranslationContext): AuthorizationPolicy[] {
  let all = policiesBySnapshot.get(ctx.snapshot);
  if (!all) {
    all = objectsOfKind<AuthorizationPolicy>(ctx.snapshot, "AuthorizationPolicy").sort(byName);
    policiesBySnapshot.set(ctx.snapshot, all);
  }
  // Sorted, then filtered: the same order as filtering first (the sort is stable).
  return all.filter((s) => appliesToWorkload(s.object, ctx)).map((s) => s.object);
}

export function rbacPolicyName(p: AuthorizationPolicy, rule: number): string {
  return `ns[${p.metadata.namespace ?? "default"}]-policy[${p.metadata.name}]-rule[${rule}]`;
}

/** Istio's suffix for the DENY rules that stand in for a CUSTOM policy whose provider is unusable. */
const BAD_CUSTOM_SUFFIX = "-deny-due-to-bad-CUSTOM-action";

/** The RBAC policies of `policies` for one action; `shadow` holds the dry-run ones. */
function rbacFor(
  policies: readonly AuthorizationPolicy[],
  action: RbacAction,
  tcp: boolean,
  proxyless: boolean,
  trustDomain: string,
  nameSuffix = "",
): RbacFilterRules | undefined {
  if (policies.length === 0) return undefined;
  const enforce = new Map<string, Policy>();
  const shadow = new Map<string, Policy>();
  let enforced = false;
  let dry = false;
  for (const p of policies) {
    // Proxyless gRPC evaluates no shadow rules: a dry-run policy is left out there.
    const dryRun = isDryRun(p);
    if (dryRun && proxyless) continue;
    const into = dryRun ? shadow : enforce;
    if (dryRun) dry = true;
    else enforced = true;
    const rules = p.spec?.rules ?? [];
    if (rules.length === 0) {
      into.set(rbacPolicyName(p, 0) + nameSuffix, MATCH_NEVER);
      continue;
    }
    const target: CompileTarget = {
      action,
      tcp,
      proxyless,
      namespace: p.metadata.namespace ?? "default",
      trustDomain,
    };
    for (const [i, rule] of rules.entries()) {
      const policy = compileRule(rule, `spec.rules[${i}]`, target);
      if (policy) into.set(rbacPolicyName(p, i) + nameSuffix, policy);
    }
  }
  if (!enforced && !dry) return undefined;
  return {
    rules: enforced ? rbacRules(action, enforce) : undefined,
    shadow: dry ? rbacRules(action, shadow) : undefined,
  };
}

interface ActionFilter {
  name: string;
  rules: RbacFilterRules;
}

function actionFilters(ctx: TranslationContext, tcp: boolean, proxyless: boolean): ActionFilter[] {
  const policies = authorizationPoliciesFor(ctx);
  const of = (a: AuthorizationAction) => policies.filter((p) => actionOf(p) === a);
  const td = ctx.mesh.trustDomain;
  const plan: [string, RbacFilterRules | undefined][] = [
    ["rbac-custom-deny", rbacFor(of("CUSTOM"), "DENY", tcp, proxyless, td, BAD_CUSTOM_SUFFIX)],
    // gRPC has no LOG action (it rejects the whole listener), so AUDIT is left out there.
    ["rbac-audit", proxyless ? undefined : rbacFor(of("AUDIT"), "LOG", tcp, proxyless, td)],
    ["rbac-deny", rbacFor(of("DENY"), "DENY", tcp, proxyless, td)],
    ["rbac-allow", rbacFor(of("ALLOW"), "ALLOW", tcp, proxyless, td)],
  ];
  return plan.flatMap(([name, rules]) => (rules ? [{ name, rules }] : []));
}

/** The RBAC filters of a workload's HTTP chains, in evaluation order; empty when no policy applies. */
export function httpAuthorizationFilters(ctx: TranslationContext, proxyless = false): HttpFilter[] {
  return actionFilters(ctx, false, proxyless).map((f) => httpRbacFilter(f.name, f.rules));
}

/** The network RBAC filters of a workload's TCP chains (and the passthrough chain), in evaluation order. */
export function tcpAuthorizationFilters(ctx: TranslationContext): Filter[] {
  return actionFilters(ctx, true, false).map((f) => networkRbacFilter(f.name, f.rules));
}
