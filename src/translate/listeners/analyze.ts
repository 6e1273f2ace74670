// Snapshot-level diagnostics for what the listener translators cannot honour
// or find: Sidecar fields and forms, VirtualService tcp/tls routes with
// missing references, and outbound port collisions. Computed once per
// snapshot (independent of connected proxies); where the answer depends on
// the proxy (port collisions under Sidecar scoping), the unscoped view is
// checked. Every diagnostic names the object and field path; the translation
// still does what Istio does for that case.
import { isIP } from "node:net";
import type { Sidecar } from "../../config/networking/sidecar.js";
import type { RouteDestination } from "../../config/networking/virtual-service.js";
import type { Diagnostic, ObjectRef, Severity } from "../../model/diagnostic.js";
import { hostMatches, resolveHost } from "../../model/hosts.js";
import { isHttp, isTls, type Protocol, selectProtocol } from "../../model/protocol.js";
import { lookupService, refOf, type ServiceModel, servicesMatching } from "../../model/services.js";
import { type MeshSnapshot, objectsOfKind, type SourcedObject } from "../../model/snapshot.js";
import { destinationRuleFor, type IndexedVirtualService } from "../../model/traffic.js";
import type { TranslationInputs } from "../context.js";
import { LISTENER_CODES as C } from "./codes.js";
import { isCidr } from "./filter-chains.js";
import { isEgressHostValid } from "./sidecar-scope.js";
import { SIDECAR_PORTS, WILDCARD_LISTENER_PORTS } from "./virtual-inbound.js";

type Emit = (code: string, severity: Severity, field: string | undefined, message: string) => void;

function emitter(out: Diagnostic[], object: ObjectRef): Emit {
  return (code, severity, field, message) =>
    out.push(field === undefined ? { code, severity, object, message } : { code, severity, object, field, message });
}

export function analyzeSidecarsAndL4Routes(inputs: TranslationInputs): Diagnostic[] {
  const out: Diagnostic[] = [];
  analyzeSidecars(inputs, out);
  for (const vs of inputs.traffic.virtualServices) analyzeL4Routes(inputs, vs, out);
  analyzeServicePorts(inputs, out);
  return out;
}

// ---------------------------------------------------------------- Sidecar

const isUnix = (s: string | undefined) => s?.startsWith("unix://") ?? false;

function analyzeSidecars(inputs: TranslationInputs, out: Diagnostic[]): void {
  const sidecars = objectsOfKind<Sidecar>(inputs.snapshot, "Sidecar");
  const defaults = new Map<string, string[]>();
  for (const s of sidecars) {
    const ns = s.object.metadata.namespace ?? "default";
    if (!s.object.spec.workloadSelector) defaults.set(ns, [...(defaults.get(ns) ?? []), s.object.metadata.name]);
  }
  for (const s of sidecars) {
    const ns = s.object.metadata.namespace ?? "default";
    const names = (defaults.get(ns) ?? []).sort();
    if (!s.object.spec.workloadSelector && names.length > 1 && names[0] !== s.object.metadata.name) {
      emitter(out, refOf(s))(
        C.multipleDefaultSidecars,
        "warning",
        undefined,
        `namespace ${ns} has several Sidecars without workloadSelector (${names.join(", ")}); Istio leaves this undefined, Trellis uses ${names[0]} and ignores this one`,
      );
    }
    analyzeSidecar(s, out);
  }
}

function analyzeSidecar(s: SourcedObject<Sidecar>, out: Diagnostic[]): void {
  const emit = emitter(out, refOf(s));
  const spec = s.object.spec;
  const egress = spec.egress ?? [];
  const egressPorts = new Map<number, number>();
  egress.forEach((e, i) => {
    const f = `spec.egress[${i}]`;
    e.hosts.forEach((h, j) => {
      if (!isEgressHostValid(h)) {
        emit(
          C.egressHostInvalid,
          "error",
          `${f}.hosts[${j}]`,
          `"${h}" is not of the form namespace/dnsName (e.g. "./*", "istio-system/*", "*/api.example.com"); it selects nothing`,
        );
      }
    });
    if (e.port?.number === undefined) {
      if (i !== egress.length - 1) {
        emit(
          C.egressCatchAllNotLast,
          "warning",
          f,
          "an egress listener without a port must be the last one (Istio rejects this Sidecar); Trellis applies the listeners with ports first and only the first listener without a port",
        );
      }
    } else {
      const first = egressPorts.get(e.port.number);
      if (first !== undefined) {
        emit(
          C.duplicateSidecarPort,
          "error",
          `${f}.port.number`,
          `port ${e.port.number} is already used by spec.egress[${first}]; this egress listener is ignored`,
        );
      } else egressPorts.set(e.port.number, i);
      checkPortProtocol(emit, `${f}.port`, e.port);
      if (e.port.targetPort !== undefined) {
        emit(C.sidecarFieldNotHonoured, "warning", `${f}.port.targetPort`, "targetPort is deprecated and ignored");
      }
    }
    checkBind(emit, `${f}.bind`, e.bind);
    if (e.captureMode === "NONE" && e.port?.number !== undefined && SIDECAR_PORTS.has(e.port.number)) {
      emit(
        C.inboundPortReserved,
        "warning",
        `${f}.port.number`,
        `port ${e.port.number} is one of the sidecar's own ports (${[...SIDECAR_PORTS].join(", ")}); no listener is bound to it`,
      );
    }
  });

  const ingressPorts = new Map<number, number>();
  (spec.ingress ?? []).forEach((l, i) => {
    const f = `spec.ingress[${i}]`;
    const n = l.port.number;
    if (n === undefined) {
      emit(
        C.duplicateSidecarPort,
        "error",
        `${f}.port.number`,
        "an ingress listener needs a port number; it is ignored",
      );
    } else if (ingressPorts.has(n)) {
      emit(
        C.duplicateSidecarPort,
        "error",
        `${f}.port.number`,
        `port ${n} is already used by spec.ingress[${ingressPorts.get(n)}]; this ingress listener is ignored`,
      );
    } else {
      ingressPorts.set(n, i);
      if (SIDECAR_PORTS.has(n)) {
        emit(
          C.inboundPortReserved,
          "warning",
          `${f}.port.number`,
          `port ${n} is one of the sidecar's own ports (${[...SIDECAR_PORTS].join(", ")}); it gets no inbound listener`,
        );
      }
    }
    checkPortProtocol(emit, `${f}.port`, l.port);
    if (l.port.targetPort !== undefined) {
      emit(C.sidecarFieldNotHonoured, "warning", `${f}.port.targetPort`, "targetPort is deprecated and ignored");
    }
    checkBind(emit, `${f}.bind`, l.bind);
    checkDefaultEndpoint(emit, `${f}.defaultEndpoint`, l.defaultEndpoint);
    if (l.tls) {
      emit(
        C.sidecarFieldNotHonoured,
        "warning",
        `${f}.tls`,
        "TLS termination on sidecar ingress is not honoured yet; the port is served in plaintext",
      );
    }
    if (l.connectionPool) {
      emit(
        C.sidecarFieldNotHonoured,
        "warning",
        `${f}.connectionPool`,
        "per-port inbound connection pools are not honoured yet; Envoy's defaults apply",
      );
    }
  });
  if (spec.inboundConnectionPool) {
    emit(
      C.sidecarFieldNotHonoured,
      "warning",
      "spec.inboundConnectionPool",
      "inboundConnectionPool is not honoured yet; inbound clusters keep the service's DestinationRule pool or Envoy's defaults",
    );
  }
  if (spec.outboundTrafficPolicy?.egressProxy) {
    emit(
      C.sidecarFieldNotHonoured,
      "warning",
      "spec.outboundTrafficPolicy.egressProxy",
      "egressProxy is not honoured yet; unknown destinations go to PassthroughCluster (ALLOW_ANY) or BlackHoleCluster (REGISTRY_ONLY)",
    );
  }
}

function checkPortProtocol(emit: Emit, field: string, port: { protocol?: string; name?: string }): void {
  if (port.protocol && selectProtocol({ protocol: port.protocol }) === "UNKNOWN") {
    emit(
      C.protocolNotDeclared,
      "warning",
      `${field}.protocol`,
      `unknown protocol "${port.protocol}"; the port is proxied as opaque TCP`,
    );
  }
}

function checkBind(emit: Emit, field: string, bind: string | undefined): void {
  if (bind === undefined) return;
  if (isUnix(bind)) {
    emit(
      C.unixSocketUnsupported,
      "warning",
      field,
      `Unix domain socket listeners are not programmed by Trellis; this listener is left out`,
    );
  } else if (isIP(bind) === 0) {
    emit(C.invalidBind, "error", field, `"${bind}" is not an IP address; this listener is left out`);
  }
}

function checkDefaultEndpoint(emit: Emit, field: string, endpoint: string | undefined): void {
  if (endpoint === undefined) return;
  if (isUnix(endpoint)) {
    emit(
      C.unixSocketUnsupported,
      "warning",
      field,
      "forwarding to a Unix domain socket is not supported; traffic goes to the workload on the ingress port",
    );
    return;
  }
  const m = /^(127\.0\.0\.1|0\.0\.0\.0|\[::1\]|\[::\]):(\d{1,5})$/.exec(endpoint);
  if (!m) {
    emit(
      C.ingressDefaultEndpoint,
      "error",
      field,
      `"${endpoint}" must be 127.0.0.1:PORT, 0.0.0.0:PORT, [::1]:PORT, [::]:PORT or unix:///path; traffic goes to the workload on the ingress port`,
    );
    return;
  }
  emit(
    C.ingressDefaultEndpoint,
    "warning",
    field,
    `defaultEndpoint is not honoured yet: traffic on the ingress port is forwarded to the address and port the client dialled, not to ${endpoint}`,
  );
}

// ------------------------------------------------------- tcp / tls routes

/** Ports of the services a VirtualService's hosts name, as seen from its namespace. */
function servicesOfHosts(inputs: TranslationInputs, vs: IndexedVirtualService): ServiceModel[] {
  return servicesMatching(inputs.registry, vs.hosts).filter(
    (s) => s.namespace === vs.namespace || s.exportTo.includes("*") || s.exportTo.includes(vs.namespace),
  );
}

function analyzeL4Routes(inputs: TranslationInputs, vs: IndexedVirtualService, out: Diagnostic[]): void {
  const spec = vs.object.object.spec;
  if (!spec.tcp?.length && !spec.tls?.length) return;
  const emit = emitter(out, refOf(vs.object));
  const forMesh = vs.gateways.includes("mesh");
  const services = servicesOfHosts(inputs, vs);
  const ports = services.flatMap((s) => s.ports);
  const hasTcpPort = ports.some((p) => !isHttp(p.protocol) && !isTls(p.protocol) && p.protocol !== "UDP");
  const hasTlsPort = ports.some((p) => isTls(p.protocol));
  if (forMesh && spec.tcp?.length && services.length > 0 && !hasTcpPort) {
    emit(
      C.routeUnused,
      "warning",
      "spec.tcp",
      `no service of ${vs.hosts.join(", ")} has a TCP port, so sidecars never use these tcp routes (TLS ports use tls routes, HTTP ports http routes)`,
    );
  }
  if (forMesh && spec.tls?.length && services.length > 0 && !hasTlsPort) {
    emit(
      C.routeUnused,
      "warning",
      "spec.tls",
      `no service of ${vs.hosts.join(", ")} has a TLS or HTTPS port, so sidecars never use these tls routes`,
    );
  }
  (spec.tcp ?? []).forEach((r, i) => {
    const f = `spec.tcp[${i}]`;
    (r.match ?? []).forEach((m, j) => {
      checkMatch(emit, `${f}.match[${j}]`, m, forMesh);
      if (m.sourceSubnet !== undefined) {
        emit(
          C.sourceSubnetUnsupported,
          "warning",
          `${f}.match[${j}].sourceSubnet`,
          "sourceSubnet is not implemented (by Istio either, for sidecars); the match ignores it",
        );
      }
    });
    checkRoute(inputs, emit, f, vs, r.route);
  });
  (spec.tls ?? []).forEach((r, i) => {
    const f = `spec.tls[${i}]`;
    r.match.forEach((m, j) => {
      checkMatch(emit, `${f}.match[${j}]`, m, forMesh);
      m.sniHosts.forEach((sni, k) => {
        const resolved = resolveHost(sni, vs.namespace, inputs.mesh.clusterDomain);
        const inHosts = vs.hosts.some((h) => hostMatches(h, sni) || hostMatches(h, resolved));
        if (!inHosts) {
          emit(
            C.sniHostNotInHosts,
            "warning",
            `${f}.match[${j}].sniHosts[${k}]`,
            `"${sni}" is not within the VirtualService hosts (${vs.hosts.join(", ")}); Istio rejects this, Trellis matches the SNI as written`,
          );
        }
      });
    });
    checkRoute(inputs, emit, f, vs, r.route);
  });
}

function checkMatch(
  emit: Emit,
  field: string,
  m: { destinationSubnets?: string[]; gateways?: string[] },
  forMesh: boolean,
): void {
  (m.destinationSubnets ?? []).forEach((d, k) => {
    if (!isCidr(d)) {
      emit(
        C.invalidSubnet,
        "error",
        `${field}.destinationSubnets[${k}]`,
        `"${d}" is not an IP address or CIDR range; it is skipped`,
      );
    }
  });
  if (forMesh && m.gateways?.length && !m.gateways.includes("mesh")) {
    emit(
      C.matchGatewayOnly,
      "info",
      `${field}.gateways`,
      `this match applies only to ${m.gateways.join(", ")}, never to sidecars; Trellis does not program gateways, so it is unused`,
    );
  }
}

function checkRoute(
  inputs: TranslationInputs,
  emit: Emit,
  field: string,
  vs: IndexedVirtualService,
  route: RouteDestination[] | undefined,
): void {
  if (!route || route.length === 0) {
    emit(C.routeWithoutDestination, "error", `${field}.route`, "a route needs at least one destination; it is skipped");
    return;
  }
  if (route.length > 1 && route.every((r) => (r.weight ?? 0) === 0)) {
    emit(
      C.destinationsWithoutWeight,
      "warning",
      `${field}.route`,
      "several destinations and none has a weight; all connections go to the first destination",
    );
  }
  route.forEach((r, k) => {
    const f = `${field}.route[${k}].destination`;
    const d = r.destination;
    const host = resolveHost(d.host, vs.namespace, inputs.mesh.clusterDomain);
    const svc = lookupService(inputs.registry, host, vs.namespace);
    if (!svc) {
      emit(
        C.destinationHostNotFound,
        "warning",
        `${f}.host`,
        `no service ${host} is visible from namespace ${vs.namespace}; connections routed to it are closed (no such cluster)`,
      );
      return;
    }
    if (d.port?.number !== undefined && !svc.ports.some((p) => p.number === d.port?.number)) {
      emit(
        C.destinationPortNotFound,
        "warning",
        `${f}.port.number`,
        `${host} has no port ${d.port.number} (it has ${svc.ports.map((p) => p.number).join(", ")}); connections routed there are closed`,
      );
    }
    if (d.subset) {
      const dr = destinationRuleFor(inputs.traffic, host, vs.namespace, svc.namespace);
      if (!dr?.object.object.spec.subsets?.some((s) => s.name === d.subset)) {
        emit(
          C.destinationSubsetNotFound,
          "warning",
          `${f}.subset`,
          dr
            ? `DestinationRule ${dr.namespace}/${dr.object.object.metadata.name} for ${host} defines no subset "${d.subset}"; connections routed to it are closed`
            : `no DestinationRule for ${host} defines subset "${d.subset}"; connections routed to it are closed`,
        );
      }
    }
  });
}

// ------------------------------------------------------------ service ports

const isServerFirst = (p: Protocol) => p === "MONGO" || p === "MYSQL";

function visibleTogether(a: ServiceModel, b: ServiceModel): boolean {
  const sees = (s: ServiceModel, ns: string) =>
    s.namespace === ns || s.exportTo.includes("*") || s.exportTo.includes(ns);
  const candidates = new Set([a.namespace, b.namespace, ...a.exportTo, ...b.exportTo].filter((n) => n !== "*"));
  if (a.exportTo.includes("*") && b.exportTo.includes("*")) return true;
  return [...candidates].some((ns) => sees(a, ns) && sees(b, ns));
}

const hasListenAddress = (s: ServiceModel) => s.addresses.some((a) => isCidr(a));

function analyzeServicePorts(inputs: TranslationInputs, out: Diagnostic[]): void {
  // Wildcard (0.0.0.0:<port>) claims, in registry order (namespace/name), for port collisions.
  const wildcard = new Map<number, { svc: ServiceModel; protocol: Protocol; tcpCatchAll: boolean }[]>();
  // A ServiceEntry with several hosts yields one service per host: report its ports once.
  const reported = new Set<string>();
  for (const svc of inputs.registry.services) {
    const emitAll = emitter(out, svc.origin);
    const emit: Emit = (code, severity, field, message) => {
      const key = `${svc.origin.namespace}/${svc.origin.name}|${code}|${field}`;
      if (reported.has(key)) return;
      reported.add(key);
      emitAll(code, severity, field, message);
    };
    svc.ports.forEach((p) => {
      if (p.protocol === "UDP") return; // no listener and no cluster: reported by the clusters translator (TRL3220)
      // Only when reporting: the lookup is per port of every service.
      const portField = () => {
        const index = originPortIndex(inputs, svc, p.number);
        return index === undefined ? "spec.ports" : `spec.ports[${index}]`;
      };
      if (p.protocol === "UNKNOWN") {
        // A warning, not Istio's info: Istio sniffs HTTP on such ports, Trellis
        // proxies them as opaque TCP, so HTTP routing silently does not apply.
        emit(
          C.protocolNotDeclared,
          "warning",
          portField(),
          `port ${p.number} ("${p.name}") declares no protocol (${svc.origin.kind === "Service" ? "appProtocol" : "protocol field"} or a name prefix such as http-, grpc-, tcp-); Istio would detect HTTP, Trellis proxies it as opaque TCP`,
        );
      }
      const onWildcard = isHttp(p.protocol) || !svc.addresses.some((a) => !a.includes("/") && isCidr(a));
      if (onWildcard && WILDCARD_LISTENER_PORTS.has(p.number)) {
        emit(
          C.outboundPortReserved,
          "warning",
          portField(),
          `port ${p.number} is taken on 0.0.0.0 by one of the sidecar's own listeners (${[...WILDCARD_LISTENER_PORTS].join(", ")}), so sidecars get no outbound listener for it: connections to it are handled by the outbound traffic policy (PassthroughCluster or BlackHoleCluster)${isHttp(p.protocol) ? "" : "; give the ServiceEntry an address to get one"}`,
        );
        return;
      }
      if (isHttp(p.protocol) || hasListenAddress(svc)) return;
      const list = wildcard.get(p.number) ?? [];
      list.push({ svc, protocol: p.protocol, tcpCatchAll: !isTls(p.protocol) });
      wildcard.set(p.number, list);
    });
    if (svc.selector) {
      for (const p of svc.ports) {
        const port = p.targetPort ?? p.number;
        if (SIDECAR_PORTS.has(port)) {
          const index = originPortIndex(inputs, svc, p.number);
          emit(
            C.inboundPortReserved,
            "warning",
            index === undefined ? "spec.ports" : `spec.ports[${index}]`,
            `workload port ${port} is one of the sidecar's own ports (${[...SIDECAR_PORTS].join(", ")}); the inbound listener does not serve it`,
          );
        }
      }
    }
  }
  for (const [port, claims] of wildcard) {
    for (let i = 1; i < claims.length; i++) {
      const later = claims[i];
      if (!later) continue;
      // The cheap test first: with many services without an address on one port this is quadratic.
      const earlier = claims.slice(0, i).find((c) => collides(c, later) && visibleTogether(c.svc, later.svc));
      if (!earlier) continue;
      // Resolution NONE forwards to the original destination either way: only the cluster's identity differs.
      const passthrough = earlier.svc.resolution === "NONE" && later.svc.resolution === "NONE";
      const outcome = passthrough
        ? `connections still reach the address they were sent to, but with ${earlier.svc.host}'s cluster (its DestinationRule and stats)`
        : `sidecars that see both send every connection to 0.0.0.0:${port} to ${earlier.svc.host}`;
      const why =
        isServerFirst(earlier.protocol) || isServerFirst(later.protocol)
          ? `${later.svc.host}:${port} (${later.protocol}) and ${earlier.svc.host}:${port} (${earlier.protocol}) have no address and MongoDB/MySQL cannot share a port with another protocol`
          : `${later.svc.host} and ${earlier.svc.host} are both TCP services without an address on port ${port}`;
      emitter(out, later.svc.origin)(
        C.outboundListenerConflict,
        passthrough ? "info" : "warning",
        "spec.ports",
        `${why}; ${outcome}. Give the ServiceEntries addresses to tell them apart.`,
      );
    }
  }
}

function collides(
  a: { protocol: Protocol; tcpCatchAll: boolean },
  b: { protocol: Protocol; tcpCatchAll: boolean },
): boolean {
  if ((isServerFirst(a.protocol) || isServerFirst(b.protocol)) && a.protocol !== b.protocol) return true;
  return a.tcpCatchAll && b.tcpCatchAll;
}

/** Index of a port in the ServiceEntry (`number`) or Kubernetes Service (`port`) that declared it, for the field path. */
function originPortIndex(inputs: TranslationInputs, svc: ServiceModel, number: number): number | undefined {
  const se = originObject(inputs.snapshot, svc.origin);
  const ports = (se?.object.spec as { ports?: { number?: number; port?: number }[] } | undefined)?.ports;
  const i = ports?.findIndex((p) => (p.number ?? p.port) === number) ?? -1;
  return i >= 0 ? i : undefined;
}

// The snapshot's objects by kind, namespace and name (the first of each): looked
// up for every port of every service, so a scan per lookup would be O(services × objects).
const objectsByRef = new WeakMap<
  MeshSnapshot,
  Map<string, Map<string | undefined, Map<string | undefined, SourcedObject>>>
>();

/** The first object of the snapshot with the origin's kind, namespace and name (as `objects.find` would give). */
function originObject(snapshot: MeshSnapshot, origin: ObjectRef): SourcedObject | undefined {
  let byKind = objectsByRef.get(snapshot);
  if (!byKind) {
    byKind = new Map();
    for (const o of snapshot.objects) {
      const { kind, metadata } = o.object;
      let byNamespace = byKind.get(kind);
      if (!byNamespace) {
        byNamespace = new Map();
        byKind.set(kind, byNamespace);
      }
      let byName = byNamespace.get(metadata.namespace);
      if (!byName) {
        byName = new Map();
        byNamespace.set(metadata.namespace, byName);
      }
      if (!byName.has(metadata.name)) byName.set(metadata.name, o);
    }
    objectsByRef.set(snapshot, byKind);
  }
  return byKind.get(origin.kind)?.get(origin.namespace)?.get(origin.name);
}
