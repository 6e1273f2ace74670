// Delegate VirtualServices (Istio's delegation): an HTTP route of a root
// VirtualService with `delegate` is replaced by the routes of the delegate (a
// VirtualService without hosts), each merged with the root route:
// - the delegate's match clauses must each lie within one of the root's (no
//   regex on either side, exact within exact, prefix within prefix, same port,
//   ignoreUriCase, source namespace and labels); a delegate route with a
//   clause outside the root's is left out;
// - merged clauses take the delegate's conditions over the root's;
// - the delegate route inherits the root's rewrite, timeout, retries, fault,
//   mirrors, CORS policy, headers and direct response where it sets none.
// A delegate that is missing, has hosts, or is not exported to the root's
// namespace contributes nothing (the root route is left out), as in Istio.
// Delegates do not nest. Short host names in a delegate's destinations
// resolve in the delegate's namespace.
import type {
  HTTPMatchRequest,
  HTTPRoute,
  StringMatch,
  VirtualService,
} from "../../config/networking/virtual-service.js";
import type { SourcedObject } from "../../model/snapshot.js";
import type { IndexedVirtualService, TrafficIndex } from "../../model/traffic.js";

/** An HTTP route ready to translate, with where it came from. */
export interface ExpandedRoute {
  http: HTTPRoute;
  /** Namespace that resolves short host names in its destinations. */
  namespace: string;
  /** The VirtualService that wrote it, and the route's field path there. */
  origin: SourcedObject<VirtualService>;
  field: string;
}

export type DelegateLookup =
  | { ok: true; delegate: IndexedVirtualService }
  | { ok: false; reason: "missing" | "has-hosts" | "not-exported"; key: string };

export function findDelegate(
  index: TrafficIndex,
  root: IndexedVirtualService,
  ref: NonNullable<HTTPRoute["delegate"]>,
): DelegateLookup {
  const key = `${ref.namespace || root.namespace}/${ref.name ?? ""}`;
  const delegate = index.delegates.get(key);
  if (!delegate) {
    const withHosts = index.virtualServices.some((v) => `${v.namespace}/${v.object.object.metadata.name}` === key);
    return { ok: false, reason: withHosts ? "has-hosts" : "missing", key };
  }
  if (!delegate.exportTo.includes("*") && !delegate.exportTo.includes(root.namespace)) {
    return { ok: false, reason: "not-exported", key };
  }
  return { ok: true, delegate };
}

/** The root's HTTP routes with delegates expanded. */
export function expandRoutes(index: TrafficIndex, root: IndexedVirtualService): ExpandedRoute[] {
  const out: ExpandedRoute[] = [];
  (root.object.object.spec.http ?? []).forEach((http, i) => {
    const field = `spec.http[${i}]`;
    if (!http.delegate) {
      out.push({ http, namespace: root.namespace, origin: root.object, field });
      return;
    }
    const found = findDelegate(index, root, http.delegate);
    if (!found.ok) return;
    const d = found.delegate;
    (d.object.object.spec.http ?? []).forEach((sub, j) => {
      if (sub.delegate) return; // delegates do not nest
      const merged = mergeHttpRoute(http, sub);
      if (merged) out.push({ http: merged, namespace: d.namespace, origin: d.object, field: `spec.http[${j}]` });
    });
  });
  return out;
}

/** Istio's mergeHTTPRoute; undefined when the delegate's match conflicts with the root's. */
export function mergeHttpRoute(root: HTTPRoute, delegate: HTTPRoute): HTTPRoute | undefined {
  const match = mergeMatches(root.match, delegate.match);
  if (match === "conflict") return undefined;
  const out: HTTPRoute = { ...delegate };
  if (match) out.match = match;
  else delete out.match;
  const name = delegate.name && root.name ? `${root.name}-${delegate.name}` : (delegate.name ?? root.name);
  if (name !== undefined) out.name = name;
  out.rewrite ??= root.rewrite;
  out.directResponse ??= root.directResponse;
  out.timeout ??= root.timeout;
  out.retries ??= root.retries;
  out.fault ??= root.fault;
  out.mirror ??= root.mirror;
  out.mirrorPercent ??= root.mirrorPercent;
  out.mirrorPercentage ??= root.mirrorPercentage;
  out.mirrors ??= root.mirrors;
  out.corsPolicy ??= root.corsPolicy;
  out.headers ??= root.headers;
  for (const k of Object.keys(out) as (keyof HTTPRoute)[]) if (out[k] === undefined) delete out[k];
  return out;
}

export function mergeMatches(
  root: HTTPMatchRequest[] | undefined,
  delegate: HTTPMatchRequest[] | undefined,
): HTTPMatchRequest[] | undefined | "conflict" {
  if (!root || root.length === 0) return delegate;
  if (!delegate || delegate.length === 0) return root;
  const out: HTTPMatchRequest[] = [];
  for (const sub of delegate) {
    let found = false;
    for (const r of root) {
      if (matchConflict(r, sub)) continue;
      out.push(mergeMatch(r, sub));
      found = true;
    }
    if (!found) return "conflict";
  }
  return out.length > 0 ? out : "conflict";
}

function mergeMatch(root: HTTPMatchRequest, delegate: HTTPMatchRequest): HTTPMatchRequest {
  const out: HTTPMatchRequest = { ...delegate };
  const name = delegate.name && root.name ? `${root.name}-${delegate.name}` : (delegate.name ?? root.name);
  if (name !== undefined) out.name = name;
  out.uri ??= root.uri;
  out.scheme ??= root.scheme;
  out.method ??= root.method;
  out.authority ??= root.authority;
  const maps = ["headers", "withoutHeaders", "queryParams", "sourceLabels"] as const;
  for (const k of maps) {
    const merged = { ...(root[k] ?? {}), ...(delegate[k] ?? {}) };
    if (Object.keys(merged).length > 0) (out as Record<string, unknown>)[k] = merged;
  }
  out.port ??= root.port;
  if (!out.sourceNamespace) out.sourceNamespace = root.sourceNamespace;
  if (!out.gateways?.length) out.gateways = root.gateways;
  if (!out.statPrefix) out.statPrefix = root.statPrefix;
  for (const k of Object.keys(out) as (keyof HTTPMatchRequest)[]) if (out[k] === undefined) delete out[k];
  return out;
}

/** Istio's hasConflict: whether `leaf` can lie outside `root`. */
export function matchConflict(root: HTTPMatchRequest, leaf: HTTPMatchRequest): boolean {
  const pairs: [StringMatch | undefined, StringMatch | undefined][] = [
    [root.uri, leaf.uri],
    [root.scheme, leaf.scheme],
    [root.method, leaf.method],
    [root.authority, leaf.authority],
  ];
  if (pairs.some(([r, l]) => stringMatchConflict(r, l))) return true;
  for (const [k, v] of Object.entries(leaf.headers ?? {})) if (stringMatchConflict(root.headers?.[k], v)) return true;
  for (const [k, v] of Object.entries(leaf.withoutHeaders ?? {}))
    if (stringMatchConflict(root.withoutHeaders?.[k], v)) return true;
  for (const [k, v] of Object.entries(leaf.queryParams ?? {}))
    if (stringMatchConflict(root.queryParams?.[k], v)) return true;
  if (!!root.ignoreUriCase !== !!leaf.ignoreUriCase) return true;
  if (root.port && leaf.port && root.port !== leaf.port) return true;
  if (root.sourceNamespace && leaf.sourceNamespace !== root.sourceNamespace) return true;
  for (const [k, v] of Object.entries(leaf.sourceLabels ?? {})) {
    const rv = root.sourceLabels?.[k];
    if (rv !== undefined && rv !== v) return true;
  }
  if (root.gateways?.length && leaf.gateways?.length) {
    if (!leaf.gateways.every((g) => root.gateways?.includes(g))) return true;
  }
  return false;
}

function stringMatchConflict(root: StringMatch | undefined, leaf: StringMatch | undefined): boolean {
  if (!root || !leaf) return false;
  if (root.regex || leaf.regex) return true;
  if (root.exact) return leaf.exact !== root.exact;
  if (root.prefix) {
    if (leaf.prefix) return !leaf.prefix.startsWith(root.prefix);
    if (leaf.exact) return !leaf.exact.startsWith(root.prefix);
  }
  return true;
}
