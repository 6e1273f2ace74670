// Snapshot-level diagnostics of VirtualService HTTP routing: references to
// things that do not exist (host, subset, port, delegate), fields Trellis does
// not implement, what proxyless gRPC clients cannot do, routes that are left
// out, and VirtualServices that compete for one host. The translation never
// fails on any of these: it does what Istio does (see each check) and this
// says so. TCP and TLS routes are the listeners translator's.
import type { Destination, Headers, HTTPRoute, VirtualService } from "../../config/networking/virtual-service.js";
import type { Diagnostic, ObjectRef, Severity } from "../../model/diagnostic.js";
import { resolveHost } from "../../model/hosts.js";
import { lookupService, refOf, type ServiceModel, servicesMatching } from "../../model/services.js";
import type { SourcedObject } from "../../model/snapshot.js";
import { destinationRuleFor, type IndexedVirtualService } from "../../model/traffic.js";
import type { TranslationInputs } from "../context.js";
import { outboundClusterName } from "../names.js";
import { ROUTE_CODES } from "./codes.js";
import { findDelegate, mergeHttpRoute } from "./delegate.js";
import { directResponseBodyBytes, MAX_DIRECT_RESPONSE_BODY_BYTES } from "./direct-response.js";
import { isAbortStatus } from "./fault.js";
import { grpcStatusCode } from "./grpc-status.js";
import { isInternalHeader, isInvalidHeader } from "./headers.js";
import { isValidDirectResponse } from "./http-route.js";
import {
  invalidConditions,
  isCatchAll,
  isJwtClaimHeader,
  MESH_GATEWAY,
  proxylessUnmatchable,
  routeMatch,
} from "./match.js";
import { isSupportedRedirectCode } from "./redirect.js";
import { isRe2Compatible } from "./regex.js";
import { parseRetryOn } from "./retries.js";

/** The retryOn conditions grpc-js retries on (gRPC status names). */
const GRPC_RETRY_ON = new Set(["cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"]);

interface Check {
  inputs: TranslationInputs;
  vs: IndexedVirtualService;
  ref: ObjectRef;
  /** Ports clients call the VirtualService's hosts on (for a delegate: its roots' hosts). */
  ports: number[];
  /** Whether the hosts have gRPC ports, so proxyless clients plausibly use these routes. */
  grpc: boolean;
  out: Diagnostic[];
}

function report(c: Check, code: string, severity: Severity, field: string | undefined, message: string): void {
  c.out.push({ code, severity, object: c.ref, ...(field ? { field } : {}), message });
}

function proxyless(c: Check, field: string, message: string): void {
  if (c.grpc) report(c, ROUTE_CODES.proxylessLimitation, "info", field, `proxyless gRPC clients: ${message}`);
}

/** Services whose host a VirtualService host names (exactly or by wildcard), in registry order. */
function servicesFor(inputs: TranslationInputs, hosts: readonly string[]): ServiceModel[] {
  return servicesMatching(inputs.registry, hosts);
}

export function analyzeVirtualServices(inputs: TranslationInputs): Diagnostic[] {
  const out: Diagnostic[] = [];
  const { traffic } = inputs;
  // Roots of each delegate, for the ports and protocols its routes serve.
  const rootsOf = new Map<string, IndexedVirtualService[]>();
  for (const vs of traffic.virtualServices) {
    for (const http of vs.object.object.spec.http ?? []) {
      if (!http.delegate) continue;
      const found = findDelegate(traffic, vs, http.delegate);
      if (!found.ok) continue;
      const key = `${found.delegate.namespace}/${found.delegate.object.object.metadata.name}`;
      rootsOf.set(key, [...(rootsOf.get(key) ?? []), vs]);
    }
  }
  const all = [...traffic.virtualServices, ...traffic.delegates.values()].sort((a, b) =>
    `${a.namespace}/${a.object.object.metadata.name}`.localeCompare(`${b.namespace}/${b.object.object.metadata.name}`),
  );
  for (const vs of all) {
    const isDelegate = vs.hosts.length === 0;
    const hosts = isDelegate
      ? (rootsOf.get(`${vs.namespace}/${vs.object.object.metadata.name}`) ?? []).flatMap((r) => r.hosts)
      : vs.hosts;
    const services = servicesFor(inputs, hosts);
    const check: Check = {
      inputs,
      vs,
      ref: refOf(vs.object),
      ports: [...new Set(services.flatMap((s) => s.ports.map((p) => p.number)))].sort((a, b) => a - b),
      grpc: services.some((s) => s.ports.some((p) => p.protocol === "GRPC")),
      out,
    };
    analyzeVirtualService(check, isDelegate);
  }
  hostConflicts(inputs, out);
  return out;
}

function analyzeVirtualService(c: Check, isDelegate: boolean): void {
  const spec = c.vs.object.object.spec;
  if (!isDelegate) {
    if (spec.gateways?.length && !spec.gateways.includes(MESH_GATEWAY)) {
      report(
        c,
        ROUTE_CODES.unsupportedField,
        "warning",
        "spec.gateways",
        `bound only to gateways (${spec.gateways.join(", ")}): Trellis serves no gateways, so this VirtualService has no effect`,
      );
      return;
    }
    if (spec.gateways?.some((g) => g !== MESH_GATEWAY)) {
      report(
        c,
        ROUTE_CODES.unsupportedField,
        "warning",
        "spec.gateways",
        "Trellis serves no gateways: only the mesh binding has an effect",
      );
    }
    (spec.hosts ?? []).forEach((h, i) => {
      const host = c.vs.hosts[i] ?? h;
      if (servicesFor(c.inputs, [host]).length === 0) {
        report(
          c,
          ROUTE_CODES.hostNotInRegistry,
          "warning",
          `spec.hosts[${i}]`,
          `no service has host ${host}: Trellis routes only hosts of services in the registry (declare it with a ServiceEntry)`,
        );
      }
    });
  } else if (spec.tcp?.length || spec.tls?.length) {
    report(
      c,
      ROUTE_CODES.unsupportedField,
      "warning",
      spec.tcp?.length ? "spec.tcp" : "spec.tls",
      "a delegate VirtualService contributes only HTTP routes: its TCP and TLS routes have no effect (as in Istio)",
    );
  }
  const http = spec.http ?? [];
  http.forEach((route, i) => {
    analyzeHttpRoute(c, route, `spec.http[${i}]`, isDelegate);
  });
  if (!isDelegate) unreachableRoutes(c, http);
}

function analyzeHttpRoute(c: Check, http: HTTPRoute, f: string, isDelegate: boolean): void {
  if (http.delegate) {
    analyzeDelegate(c, http, f, isDelegate);
    return;
  }
  const actions = [
    http.route?.length ? "route" : "",
    http.redirect ? "redirect" : "",
    http.directResponse ? "directResponse" : "",
  ].filter(Boolean);
  if (actions.length === 0) {
    report(
      c,
      ROUTE_CODES.invalidRoute,
      "error",
      f,
      "has no route, redirect, directResponse or delegate: the HTTP route is left out",
    );
    return;
  }
  if (actions.length > 1) {
    const used = http.redirect ? "redirect" : "directResponse";
    report(
      c,
      ROUTE_CODES.invalidRoute,
      "warning",
      f,
      `sets ${actions.join(" and ")}, which exclude each other: ${used} is used, the rest is ignored`,
    );
  }
  (http.match ?? []).forEach((m, j) => {
    const mf = `${f}.match[${j}]`;
    if (m.gateways?.length && !m.gateways.includes(MESH_GATEWAY)) {
      report(
        c,
        ROUTE_CODES.matchNeverApplies,
        "info",
        `${mf}.gateways`,
        "the clause applies only to gateways: it is left out for mesh proxies",
      );
    }
    for (const kind of ["headers", "withoutHeaders"] as const) {
      for (const name of Object.keys(m[kind] ?? {})) {
        if (isJwtClaimHeader(name)) {
          report(
            c,
            ROUTE_CODES.matchNeverApplies,
            "warning",
            `${mf}.${kind}["${name}"]`,
            "JWT claim matching needs RequestAuthentication, which Trellis does not translate: the clause is left out",
          );
        }
      }
    }
    for (const bad of invalidConditions(m)) {
      report(
        c,
        ROUTE_CODES.invalidRoute,
        "error",
        `${mf}.${bad.field}`,
        `${bad.problem}: Envoy would reject the route configuration with it, so the clause is left out`,
      );
    }
    if (m.statPrefix) proxyless(c, `${mf}.statPrefix`, "gRPC keeps no per-route statistics: ignored");
    const unmatchable = proxylessUnmatchable(m);
    if (unmatchable.length > 0) {
      proxyless(
        c,
        mf,
        `gRPC calls carry no ${unmatchable.join(", ")} to match on: the clause is left out of their routes`,
      );
    }
  });

  if (http.redirect) analyzeRedirect(c, http, f);
  else if (http.directResponse) analyzeDirectResponse(c, http, f);
  else analyzeDestinations(c, http, f);

  if (http.rewrite) {
    const rx = http.rewrite.uriRegexRewrite?.match;
    if (rx !== undefined && !isRe2Compatible(rx)) {
      report(
        c,
        ROUTE_CODES.invalidRoute,
        "error",
        `${f}.rewrite.uriRegexRewrite.match`,
        `${JSON.stringify(rx)} is not a valid RE2 regex: Envoy would reject the route configuration with it, so the HTTP route is left out`,
      );
    }
    if (http.rewrite.uri && http.rewrite.uriRegexRewrite) {
      report(
        c,
        ROUTE_CODES.invalidRoute,
        "warning",
        `${f}.rewrite.uri`,
        "uri and uriRegexRewrite exclude each other: uriRegexRewrite is used",
      );
    }
    proxyless(c, `${f}.rewrite`, "gRPC does not rewrite paths or authorities: the rewrite is left out of their routes");
  }
  if (http.headers) analyzeHeaders(c, http.headers, `${f}.headers`);
  if (http.mirror || http.mirrors?.length) {
    if (http.mirror) analyzeDestination(c, http.mirror, `${f}.mirror`);
    (http.mirrors ?? []).forEach((m, k) => {
      analyzeDestination(c, m.destination, `${f}.mirrors[${k}].destination`);
    });
    proxyless(c, http.mirror ? `${f}.mirror` : `${f}.mirrors`, "gRPC does not mirror calls: left out of their routes");
  }
  if (http.corsPolicy) {
    (http.corsPolicy.allowOrigins ?? []).forEach((o, k) => {
      if (o.regex !== undefined && o.regex !== "*" && !isRe2Compatible(o.regex)) {
        report(
          c,
          ROUTE_CODES.invalidRoute,
          "error",
          `${f}.corsPolicy.allowOrigins[${k}].regex`,
          `${JSON.stringify(o.regex)} is not a valid RE2 regex: this origin is left out`,
        );
      }
    });
    proxyless(c, `${f}.corsPolicy`, "gRPC has no CORS: left out of their routes");
  }
  if (http.retries) analyzeRetries(c, http, f);
  if (http.fault) analyzeFault(c, http, f);
}

function analyzeDelegate(c: Check, http: HTTPRoute, f: string, isDelegate: boolean): void {
  const ref = http.delegate;
  if (!ref) return;
  if (isDelegate) {
    report(
      c,
      ROUTE_CODES.invalidRoute,
      "error",
      `${f}.delegate`,
      "a delegate VirtualService cannot delegate again: the HTTP route is left out",
    );
    return;
  }
  if (http.route?.length || http.redirect) {
    report(
      c,
      ROUTE_CODES.invalidRoute,
      "warning",
      f,
      "sets delegate together with route or redirect: the delegate's routes are used, the rest is ignored",
    );
  }
  const found = findDelegate(c.inputs.traffic, c.vs, ref);
  if (!found.ok) {
    const why = {
      missing: `no VirtualService ${found.key} exists`,
      "has-hosts": `VirtualService ${found.key} has hosts, and only a VirtualService without hosts can be a delegate`,
      "not-exported": `VirtualService ${found.key} is not exported to namespace ${c.vs.namespace}`,
    }[found.reason];
    report(c, ROUTE_CODES.delegateNotFound, "error", `${f}.delegate`, `${why}: the HTTP route is left out`);
    return;
  }
  const d = found.delegate;
  (d.object.object.spec.http ?? []).forEach((sub, j) => {
    if (sub.delegate) return;
    if (!mergeHttpRoute(http, sub)) {
      report(
        c,
        ROUTE_CODES.delegateMatchConflict,
        "warning",
        `${f}.delegate`,
        `route spec.http[${j}] of delegate ${found.delegate.namespace}/${d.object.object.metadata.name} matches requests outside this route's match (or uses regex): it is left out`,
      );
    }
  });
}

function analyzeRedirect(c: Check, http: HTTPRoute, f: string): void {
  const r = http.redirect;
  if (!r) return;
  if (!isSupportedRedirectCode(r.redirectCode)) {
    report(
      c,
      ROUTE_CODES.invalidRoute,
      "error",
      `${f}.redirect.redirectCode`,
      `redirect code ${r.redirectCode} is not one of 301, 302, 303, 307, 308: the HTTP route is left out`,
    );
  }
  if (r.uri && r.prefixRewrite !== undefined) {
    report(
      c,
      ROUTE_CODES.invalidRoute,
      "warning",
      `${f}.redirect.prefixRewrite`,
      "uri and prefixRewrite exclude each other: uri is used",
    );
  }
  if (r.port !== undefined && r.derivePort !== undefined) {
    report(
      c,
      ROUTE_CODES.invalidRoute,
      "warning",
      `${f}.redirect.derivePort`,
      "port and derivePort exclude each other: port is used",
    );
  }
  proxyless(c, `${f}.redirect`, "gRPC cannot follow redirects: the HTTP route is left out of their routes");
}

function analyzeDirectResponse(c: Check, http: HTTPRoute, f: string): void {
  const d = http.directResponse;
  if (!d) return;
  const bytes = directResponseBodyBytes(d);
  if (!isValidDirectResponse(d.status, bytes)) {
    const why =
      d.status < 200 || d.status >= 600
        ? `status ${d.status} is outside 200–599`
        : `the body (${bytes} bytes) is larger than ${MAX_DIRECT_RESPONSE_BODY_BYTES} bytes`;
    report(c, ROUTE_CODES.invalidRoute, "error", `${f}.directResponse`, `${why}: the HTTP route is left out`);
  }
  proxyless(
    c,
    `${f}.directResponse`,
    "a gRPC client cannot answer a call itself: the HTTP route is left out of their routes",
  );
}

function analyzeDestinations(c: Check, http: HTTPRoute, f: string): void {
  const dests = http.route ?? [];
  dests.forEach((d, k) => {
    analyzeDestination(c, d.destination, `${f}.route[${k}].destination`);
    if (d.headers) analyzeHeaders(c, d.headers, `${f}.route[${k}].headers`);
  });
  if (dests.length > 1 && dests.every((d) => !d.weight)) {
    report(
      c,
      ROUTE_CODES.invalidRoute,
      "error",
      `${f}.route`,
      "several destinations and no positive weight: Envoy cannot split traffic with a total weight of 0, the HTTP route is left out",
    );
  }
}

function analyzeDestination(c: Check, d: Destination, f: string): void {
  const { inputs, vs } = c;
  const host = resolveHost(d.host, vs.namespace, inputs.mesh.clusterDomain);
  const svc = lookupService(inputs.registry, host, vs.namespace) ?? inputs.registry.byHost.get(host)?.[0];
  if (!svc) {
    report(
      c,
      ROUTE_CODES.unknownHost,
      "error",
      `${f}.host`,
      `no service has host ${host}: requests routed here get 503 (its cluster ${outboundClusterName(host, d.port?.number ?? c.ports[0] ?? 80, d.subset ?? "")} does not exist)`,
    );
    return;
  }
  const ports = svc.ports.map((p) => p.number);
  if (d.port?.number !== undefined && !ports.includes(d.port.number)) {
    report(
      c,
      ROUTE_CODES.unknownPort,
      "error",
      `${f}.port.number`,
      `service ${host} has no port ${d.port.number} (it has ${ports.join(", ") || "none"}): requests routed here get 503`,
    );
  } else if (d.port?.number === undefined && ports.length > 1) {
    const missing = c.ports.filter((p) => !ports.includes(p));
    if (missing.length > 0) {
      report(
        c,
        ROUTE_CODES.ambiguousPort,
        "warning",
        f,
        `service ${host} has several ports (${ports.join(", ")}) and the destination names none: a client calling port ${missing.join(" or ")} is routed to that port, which ${host} does not have (503); set port.number`,
      );
    }
  }
  if (d.subset !== undefined) {
    const dr = destinationRuleFor(inputs.traffic, host, vs.namespace, svc.namespace);
    const subsets = dr?.object.object.spec.subsets ?? [];
    if (!subsets.some((s) => s.name === d.subset)) {
      const port = d.port?.number ?? (ports.length === 1 ? ports[0] : "<port>");
      const where = dr
        ? `DestinationRule ${dr.namespace}/${dr.object.object.metadata.name} defines no subset ${d.subset}`
        : `no DestinationRule for ${host} applies in namespace ${vs.namespace}, so subset ${d.subset} is not defined`;
      report(
        c,
        ROUTE_CODES.unknownSubset,
        "error",
        `${f}.subset`,
        `${where}: requests routed here get 503 (cluster outbound|${port}|${d.subset}|${host} does not exist)`,
      );
    }
  }
}

function analyzeHeaders(c: Check, h: Headers, f: string): void {
  for (const side of ["request", "response"] as const) {
    for (const op of ["set", "add", "remove"] as const) {
      const v = h[side]?.[op];
      const names = Array.isArray(v) ? v : Object.keys(v ?? {});
      for (const name of names) {
        const value = Array.isArray(v) ? "" : ((v as Record<string, string> | undefined)?.[name] ?? "");
        if (isInvalidHeader(name, value)) {
          report(
            c,
            ROUTE_CODES.invalidRoute,
            "error",
            `${f}.${side}.${op}`,
            `header ${JSON.stringify(name)}: an empty name, or NUL, CR or LF in the name or value, would make Envoy reject the route configuration: left out`,
          );
          continue;
        }
        const authority = side === "request" && op !== "remove" && /^(:authority|host)$/i.test(name);
        if (isInternalHeader(name) && !authority) {
          report(
            c,
            ROUTE_CODES.pseudoHeader,
            "warning",
            `${f}.${side}.${op}`,
            `${name} cannot be modified by Envoy: left out`,
          );
        }
      }
    }
  }
  proxyless(c, f, "gRPC clients do not add or remove headers from routes: left out of their routes");
}

function analyzeRetries(c: Check, http: HTTPRoute, f: string): void {
  const r = http.retries;
  if (!r) return;
  if (!r.attempts || r.attempts <= 0) {
    // `attempts: 0` alone says "no retries" on purpose; anything else next to it suggests a mistake.
    const others = Object.keys(r).filter((k) => k !== "attempts");
    if (r.attempts === undefined || others.length > 0) {
      report(
        c,
        ROUTE_CODES.retriesDisabled,
        "warning",
        `${f}.retries.attempts`,
        `${r.attempts === undefined ? "unset" : "0"}: the route has no retries at all${others.length > 0 ? ` (${others.join(", ")} have no effect)` : ""}, and Istio's default policy does not apply either`,
      );
    }
    return;
  }
  if (r.perTryTimeout) proxyless(c, `${f}.retries.perTryTimeout`, "gRPC has no per-try timeout: ignored");
  if (r.retryRemoteLocalities)
    proxyless(c, `${f}.retries.retryRemoteLocalities`, "gRPC does not prefer other localities on retry: ignored");
  if (r.retryIgnorePreviousHosts !== undefined)
    proxyless(
      c,
      `${f}.retries.retryIgnorePreviousHosts`,
      "gRPC picks retry hosts with its load balancer alone: ignored",
    );
  if (r.retryOn) {
    const { conditions } = parseRetryOn(r.retryOn);
    if (!conditions.some((x) => GRPC_RETRY_ON.has(x))) {
      proxyless(
        c,
        `${f}.retries.retryOn`,
        "gRPC retries only on cancelled, deadline-exceeded, internal, resource-exhausted and unavailable, and retryOn names none: no retries",
      );
    }
  }
}

function analyzeFault(c: Check, http: HTTPRoute, f: string): void {
  const fault = http.fault;
  if (!fault) return;
  const d = fault.delay;
  if (d) {
    if (d.exponentialDelay) {
      report(
        c,
        ROUTE_CODES.unsupportedField,
        "warning",
        `${f}.fault.delay.exponentialDelay`,
        "exponential delays are not supported (nor by Istio): no delay is injected",
      );
    } else if (!d.fixedDelay) {
      report(c, ROUTE_CODES.invalidRoute, "error", `${f}.fault.delay`, "has no fixedDelay: no delay is injected");
    } else if (!d.percentage && d.percent === undefined) {
      report(
        c,
        ROUTE_CODES.faultPercentageUnset,
        "warning",
        `${f}.fault.delay.percentage`,
        "unset: as in Istio, the delay is injected into no request; set percentage.value (100 for all)",
      );
    }
  }
  const a = fault.abort;
  if (a) {
    if (a.http2Error !== undefined) {
      report(
        c,
        ROUTE_CODES.unsupportedField,
        "warning",
        `${f}.fault.abort.http2Error`,
        "HTTP/2 error aborts are not supported (nor by Istio): no abort is injected",
      );
    } else if (a.grpcStatus !== undefined && grpcStatusCode(a.grpcStatus) === undefined) {
      report(
        c,
        ROUTE_CODES.invalidRoute,
        "error",
        `${f}.fault.abort.grpcStatus`,
        `${a.grpcStatus} is not a gRPC status (e.g. UNAVAILABLE): no abort is injected`,
      );
    } else if (a.httpStatus !== undefined && !isAbortStatus(a.httpStatus)) {
      report(
        c,
        ROUTE_CODES.invalidRoute,
        "error",
        `${f}.fault.abort.httpStatus`,
        `${a.httpStatus} is outside 200–599: no abort is injected`,
      );
    } else if (a.httpStatus === undefined && a.grpcStatus === undefined) {
      report(
        c,
        ROUTE_CODES.invalidRoute,
        "error",
        `${f}.fault.abort`,
        "has no httpStatus or grpcStatus: no abort is injected",
      );
    } else if (!a.percentage) {
      report(
        c,
        ROUTE_CODES.faultPercentageUnset,
        "warning",
        `${f}.fault.abort.percentage`,
        "unset: as in Istio, the abort is injected into no request; set percentage.value (100 for all)",
      );
    }
  }
}

/** A clause that matches every request for every proxy. */
function isUniversalClause(m: NonNullable<HTTPRoute["match"]>[number]): boolean {
  return (
    !m.sourceLabels &&
    !m.sourceNamespace &&
    m.port === undefined &&
    !m.gateways?.length &&
    !m.method &&
    !m.authority &&
    !m.scheme &&
    isCatchAll(routeMatch(m))
  );
}

/** Routes (and clauses) after one that matches everything can never be chosen; Istio leaves them out. */
function unreachableRoutes(c: Check, http: readonly HTTPRoute[]): void {
  for (const [i, r] of http.entries()) {
    if (r.delegate) continue;
    const clauses = r.match ?? [];
    const universal = clauses.findIndex(isUniversalClause);
    if (universal >= 0 && universal < clauses.length - 1) {
      report(
        c,
        ROUTE_CODES.unreachableRoute,
        "warning",
        `spec.http[${i}].match[${universal + 1}]`,
        `spec.http[${i}].match[${universal}] matches every request: the later clauses of this route are never used`,
      );
    }
    if (clauses.length > 0 && universal < 0) continue;
    const rest = http.length - i - 1;
    if (rest > 0) {
      report(
        c,
        ROUTE_CODES.unreachableRoute,
        "warning",
        `spec.http[${i + 1}]`,
        `spec.http[${i}] matches every request: ${rest === 1 ? "this route is" : `this and the next ${rest - 1} routes are`} never used`,
      );
    }
    return;
  }
}

/**
 * Mesh VirtualServices naming the same host exactly. Istio does not merge them
 * for sidecars: a client uses one (routes/merge.ts), the others are ignored
 * for that host.
 */
function hostConflicts(inputs: TranslationInputs, out: Diagnostic[]): void {
  const byHost = new Map<string, { vs: IndexedVirtualService; index: number }[]>();
  for (const vs of inputs.traffic.virtualServices) {
    if (!vs.gateways.includes(MESH_GATEWAY)) continue;
    vs.hosts.forEach((h, index) => {
      byHost.set(h, [...(byHost.get(h) ?? []), { vs, index }]);
    });
  }
  for (const [host, list] of byHost) {
    if (list.length < 2) continue;
    const names = list.map((x) => `${x.vs.namespace}/${x.vs.object.object.metadata.name}`);
    const publicWinner = list.find((x) => x.vs.exportTo.includes("*"));
    const usual = publicWinner
      ? `${publicWinner.vs.namespace}/${publicWinner.vs.object.object.metadata.name}`
      : names[0];
    for (const { vs, index } of list) {
      out.push({
        code: ROUTE_CODES.hostConflict,
        severity: "warning",
        object: refOf(vs.object as SourcedObject<VirtualService>),
        field: `spec.hosts[${index}]`,
        message: `VirtualServices ${names.join(", ")} all route ${host} for the mesh; as in Istio they are not merged: a client uses one — exported only to the client's namespace first, then by namespace/name (here ${usual} unless a client's namespace has its own) — and ignores the others' routes for ${host}`,
      });
    }
  }
}
