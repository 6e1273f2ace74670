// Snapshot-level diagnostics for what clusters/ and endpoints/ translate:
// DestinationRules (references to missing hosts, subsets and ports; fields not
// implemented; Istio oneof and validation conflicts and what wins; what
// proxyless gRPC clients get instead) and the ServiceEntry fields that decide
// cluster types. Computed once per snapshot, independent of connected proxies,
// so every object is reported once. Codes: codes.ts; meaning and translation
// behaviour: docs/compat/destination-rule.md and service-entry.md.
import type {
  DestinationRule,
  LoadBalancerSettings,
  PortTrafficPolicy,
  TrafficPolicy,
} from "../../config/networking/destination-rule.js";
import type { ServiceEntry } from "../../config/networking/service-entry.js";
import type { Diagnostic, ObjectRef, Severity } from "../../model/diagnostic.js";
import { hostMatches } from "../../model/hosts.js";
import {
  endpointsMatching,
  refOf,
  type ServiceModel,
  type ServiceRegistry,
  servicesMatching,
} from "../../model/services.js";
import { objectsOfKind, type SourcedObject } from "../../model/snapshot.js";
import type { IndexedDestinationRule } from "../../model/traffic.js";
import type { TranslationInputs } from "../context.js";
import { CLUSTER_CODES } from "./codes.js";
import { GRPC_MAX_RING_SIZE } from "./defaults.js";
import { serviceClusterType, serviceEndpoints } from "./outbound.js";
import { usesDeprecatedConsecutiveErrors } from "./outlier.js";
import { originatesTls } from "./tls.js";

type Report = (code: string, severity: Severity, field: string, message: string) => void;

function reporter(out: Diagnostic[], object: ObjectRef): Report {
  return (code, severity, field, message) => out.push({ code, severity, object, field, message });
}

const PROXYLESS = "proxyless gRPC clients:";

function analyzeLoadBalancer(lb: LoadBalancerSettings, path: string, hasOutlier: boolean, report: Report): void {
  const ch = lb.consistentHash;
  if (lb.simple && lb.simple !== "UNSPECIFIED" && ch) {
    report(
      CLUSTER_CODES.oneofConflict,
      "warning",
      `${path}.simple`,
      lb.simple === "PASSTHROUGH"
        ? "simple and consistentHash are alternatives; PASSTHROUGH wins (an original-destination cluster cannot hash)"
        : "simple and consistentHash are alternatives; consistentHash wins, as in Istio",
    );
  }
  if (ch) {
    const keys = (["httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"] as const).filter(
      (k) => ch[k] !== undefined && ch[k] !== false,
    );
    if (keys.length > 1) {
      report(
        CLUSTER_CODES.oneofConflict,
        "warning",
        `${path}.consistentHash`,
        `only one hash key may be given, got ${keys.join(", ")}; ${keys[0]} is used`,
      );
    }
    if (ch.ringHash && ch.maglev) {
      report(
        CLUSTER_CODES.oneofConflict,
        "warning",
        `${path}.consistentHash`,
        "ringHash and maglev are alternatives; maglev is used",
      );
    }
    if (ch.maglev) {
      report(
        CLUSTER_CODES.proxylessDegraded,
        "info",
        `${path}.consistentHash.maglev`,
        `${PROXYLESS} gRPC has no maglev; they use a ring hash`,
      );
    }
    const key = keys[0];
    if (key && key !== "httpHeaderName") {
      report(
        CLUSTER_CODES.proxylessDegraded,
        "info",
        `${path}.consistentHash.${key}`,
        `${PROXYLESS} gRPC hashes on request headers only; without a hash each RPC goes to a random host of the ring`,
      );
    }
    const ring = ch.ringHash?.minimumRingSize ?? ch.minimumRingSize;
    if (ring !== undefined && ring > GRPC_MAX_RING_SIZE) {
      report(
        CLUSTER_CODES.proxylessDegraded,
        "info",
        `${path}.consistentHash`,
        `${PROXYLESS} ring size ${ring} exceeds gRPC's limit; they use ${GRPC_MAX_RING_SIZE}`,
      );
    }
  } else if (lb.simple === "LEAST_REQUEST" || lb.simple === "LEAST_CONN" || lb.simple === "RANDOM") {
    report(
      CLUSTER_CODES.proxylessDegraded,
      "info",
      `${path}.simple`,
      `${PROXYLESS} gRPC implements ROUND_ROBIN and ring hash only; they use ROUND_ROBIN`,
    );
  } else if (lb.simple === "PASSTHROUGH") {
    report(
      CLUSTER_CODES.proxylessDegraded,
      "info",
      `${path}.simple`,
      `${PROXYLESS} gRPC has no original-destination clusters; they balance over the service's endpoints with ROUND_ROBIN`,
    );
  }
  if (lb.warmup || lb.warmupDurationSecs) {
    const field = lb.warmup ? "warmup" : "warmupDurationSecs";
    report(
      CLUSTER_CODES.proxylessDegraded,
      "info",
      `${path}.${field}`,
      `${PROXYLESS} gRPC has no slow start; new endpoints get full traffic`,
    );
  }
  if (lb.zoneAwareLbSetting) {
    report(
      CLUSTER_CODES.fieldUnsupported,
      "warning",
      `${path}.zoneAwareLbSetting`,
      "zone-aware load balancing is not implemented; localityLbSetting (or the mesh default) applies instead",
    );
  }
  const loc = lb.localityLbSetting;
  if (loc && loc.enabled !== false) {
    if (loc.distribute !== undefined && (loc.failover !== undefined || loc.failoverPriority !== undefined)) {
      report(
        CLUSTER_CODES.distributeAndFailover,
        "warning",
        `${path}.localityLbSetting`,
        "distribute and failover cannot be combined; distribute is applied and failover ignored",
      );
    } else if ((loc.failover !== undefined || loc.failoverPriority !== undefined) && !hasOutlier) {
      report(
        CLUSTER_CODES.failoverWithoutOutlier,
        "warning",
        `${path}.localityLbSetting`,
        "locality failover needs outlierDetection (without it no endpoint is ever found unhealthy); it has no effect",
      );
    }
  }
}

function analyzePolicy(p: TrafficPolicy | PortTrafficPolicy, path: string, hasOutlier: boolean, report: Report): void {
  if (p.loadBalancer) analyzeLoadBalancer(p.loadBalancer, `${path}.loadBalancer`, hasOutlier, report);
  const http = p.connectionPool?.http;
  if (http?.h2UpgradePolicy === "UPGRADE" && http.useClientProtocol) {
    report(
      CLUSTER_CODES.upgradeWithClientProtocol,
      "warning",
      `${path}.connectionPool.http.useClientProtocol`,
      "useClientProtocol and h2UpgradePolicy UPGRADE contradict each other; the client's protocol is used",
    );
  }
  const o = p.outlierDetection;
  if (o) {
    if (o.consecutiveErrors !== undefined && !usesDeprecatedConsecutiveErrors(o) && o.consecutiveErrors !== 0) {
      report(
        CLUSTER_CODES.consecutiveErrorsIgnored,
        "warning",
        `${path}.outlierDetection.consecutiveErrors`,
        "the deprecated consecutiveErrors is ignored next to consecutive5xxErrors/consecutiveGatewayErrors",
      );
    }
    if (o.consecutiveLocalOriginFailures !== undefined && !o.splitExternalLocalOriginErrors) {
      report(
        CLUSTER_CODES.localOriginWithoutSplit,
        "warning",
        `${path}.outlierDetection.consecutiveLocalOriginFailures`,
        "takes effect only with splitExternalLocalOriginErrors: true; ignored",
      );
    }
    if (o.outlierDetectionHttpErrorCodes !== undefined) {
      report(
        CLUSTER_CODES.fieldUnsupported,
        "warning",
        `${path}.outlierDetection.outlierDetectionHttpErrorCodes`,
        "needs an Envoy API newer than the one Trellis pins; outlier detection counts 5xx responses (and gateway errors) as errors",
      );
    }
  }
  const tls = p.tls;
  // ISTIO_MUTUAL is analysed with the rest of mutual TLS (security/analyze.ts).
  if (tls && (tls.mode === "SIMPLE" || tls.mode === "MUTUAL")) {
    if (tls.mode === "MUTUAL" && !originatesTls(tls)) {
      report(
        CLUSTER_CODES.mutualWithoutCertificate,
        "error",
        `${path}.tls`,
        "MUTUAL needs clientCertificate and privateKey (or credentialName); as in Istio, no TLS is originated",
      );
    }
    if (tls.credentialName) {
      report(
        CLUSTER_CODES.credentialNotServed,
        "warning",
        `${path}.tls.credentialName`,
        `the secret kubernetes://${tls.credentialName} is requested over SDS, which does not serve user credentials yet; Envoy keeps the cluster warming (requests fail) rather than connect without it`,
      );
    }
    if (originatesTls(tls)) {
      report(
        CLUSTER_CODES.proxylessDegraded,
        "info",
        `${path}.tls`,
        `${PROXYLESS} gRPC takes TLS only from certificate providers in its bootstrap; this cluster is not served to them`,
      );
    }
  }
  if ("tunnel" in p && p.tunnel) {
    report(
      CLUSTER_CODES.fieldUnsupported,
      "warning",
      `${path}.tunnel`,
      "tunnelling (HTTP CONNECT/POST) is not implemented; traffic goes directly to the destination",
    );
  }
  if ("proxyProtocol" in p && p.proxyProtocol) {
    report(
      CLUSTER_CODES.proxylessDegraded,
      "info",
      `${path}.proxyProtocol`,
      `${PROXYLESS} gRPC cannot send a PROXY protocol header; they connect without it`,
    );
  }
  if ("retryBudget" in p && p.retryBudget?.budgetInterval !== undefined) {
    report(
      CLUSTER_CODES.fieldUnsupported,
      "warning",
      `${path}.retryBudget.budgetInterval`,
      "needs an Envoy API newer than the one Trellis pins; the budget counts the requests active at each moment",
    );
  }
}

/** Policies of a rule with their paths and whether outlier detection applies to them once merged. */
function analyzeRulePolicies(rule: DestinationRule, services: ServiceModel[], report: Report): void {
  const ports = new Set(services.flatMap((s) => s.ports.map((p) => p.number)));
  const portLevel = (p: TrafficPolicy, path: string) => {
    for (const [j, pl] of (p.portLevelSettings ?? []).entries()) {
      const at = `${path}.portLevelSettings[${j}]`;
      if (pl.port?.number === undefined) {
        report(
          CLUSTER_CODES.portNotOnService,
          "warning",
          `${at}.port`,
          "a port-level setting needs port.number; ignored",
        );
        continue;
      }
      if (services.length > 0 && !ports.has(pl.port.number)) {
        report(
          CLUSTER_CODES.portNotOnService,
          "warning",
          `${at}.port.number`,
          `no service of host ${rule.spec.host} has port ${pl.port.number}; ignored`,
        );
      }
      analyzePolicy(pl, at, pl.outlierDetection !== undefined, report);
    }
  };
  const top = rule.spec.trafficPolicy;
  if (top) {
    analyzePolicy(top, "spec.trafficPolicy", top.outlierDetection !== undefined, report);
    portLevel(top, "spec.trafficPolicy");
  }
  for (const [i, s] of (rule.spec.subsets ?? []).entries()) {
    const sp = s.trafficPolicy;
    if (!sp) continue;
    const path = `spec.subsets[${i}].trafficPolicy`;
    analyzePolicy(sp, path, (sp.outlierDetection ?? top?.outlierDetection) !== undefined, report);
    portLevel(sp, path);
  }
}

function analyzeRule(inputs: TranslationInputs, dr: IndexedDestinationRule, out: Diagnostic[]): void {
  const rule = dr.object.object;
  const report = reporter(out, refOf(dr.object));
  const services = servicesMatching(inputs.registry, [dr.host]);
  if (services.length === 0) {
    report(
      CLUSTER_CODES.unknownHost,
      "warning",
      "spec.host",
      `no service in the registry matches host ${dr.host}; the rule has no effect`,
    );
  }
  const seen = new Set<string>();
  for (const [i, s] of (rule.spec.subsets ?? []).entries()) {
    if (seen.has(s.name)) {
      report(
        CLUSTER_CODES.duplicateSubset,
        "warning",
        `spec.subsets[${i}].name`,
        `subset ${s.name} is defined twice; the first definition wins`,
      );
      continue;
    }
    seen.add(s.name);
    const withEndpoints = services.filter((svc) => svc.resolution !== "NONE" && serviceEndpoints(svc).length > 0);
    if (
      withEndpoints.length > 0 &&
      withEndpoints.every((svc) => endpointsMatching(serviceEndpoints(svc), s.labels).length === 0)
    ) {
      report(
        CLUSTER_CODES.subsetSelectsNothing,
        "warning",
        `spec.subsets[${i}].labels`,
        `no endpoint of ${dr.host} has labels ${JSON.stringify(s.labels ?? {})}; requests routed to subset ${s.name} fail (no healthy upstream)`,
      );
    }
  }
  analyzeRulePolicies(rule, services, report);
}

function analyzeServiceEntry(inputs: TranslationInputs, se: SourcedObject<ServiceEntry>, out: Diagnostic[]): void {
  const spec = se.object.spec;
  const object = refOf(se);
  const report = reporter(out, object);
  const resolution = spec.resolution ?? "NONE";
  const isDns = resolution === "DNS" || resolution === "DNS_ROUND_ROBIN";
  if (resolution === "DYNAMIC_DNS") {
    report(
      CLUSTER_CODES.dynamicDnsUnsupported,
      "warning",
      "spec.resolution",
      "DYNAMIC_DNS (Envoy's dynamic forward proxy) is not implemented; no cluster is generated for these hosts",
    );
  }
  if (isDns && (spec.endpoints ?? []).length === 0 && !spec.workloadSelector) {
    for (const [i, h] of spec.hosts.entries()) {
      if (h.includes("*")) {
        report(
          CLUSTER_CODES.dnsWildcardWithoutEndpoints,
          "error",
          `spec.hosts[${i}]`,
          `resolution ${resolution} without endpoints resolves the host itself, and ${h} is a wildcard; no cluster is generated`,
        );
      }
    }
  }
  if (resolution === "DNS_ROUND_ROBIN" && (spec.endpoints ?? []).length > 1) {
    report(
      CLUSTER_CODES.roundRobinDnsEndpoints,
      "error",
      "spec.endpoints",
      `resolution DNS_ROUND_ROBIN takes at most one endpoint; only ${spec.endpoints?.[0]?.address} is used`,
    );
  }
  for (const [i, p] of (spec.ports ?? []).entries()) {
    if (p.protocol?.toUpperCase() === "UDP") {
      report(
        CLUSTER_CODES.udpPort,
        "info",
        `spec.ports[${i}]`,
        "UDP ports get no cluster (sidecars proxy TCP only), as in Istio",
      );
    }
  }
  for (const [i, e] of (spec.endpoints ?? []).entries()) {
    if (e.network) {
      report(
        CLUSTER_CODES.networkIgnored,
        "info",
        `spec.endpoints[${i}].network`,
        "Trellis has a single network: the endpoint is reached directly; network only feeds failoverPriority's topology.istio.io/network",
      );
    }
  }
  const own =
    servicesByOrigin(inputs.registry)
      .get(object.namespace ?? "default")
      ?.get(object.name) ?? [];
  if (resolution !== "DYNAMIC_DNS" && own.some((s) => serviceClusterType("proxyless-grpc", s) === undefined)) {
    const why =
      resolution === "NONE"
        ? "resolution NONE needs original-destination clusters, which gRPC does not have"
        : `gRPC resolves one DNS name per cluster (LOGICAL_DNS), and resolution ${resolution} here has several endpoints or none to resolve`;
    report(
      CLUSTER_CODES.proxylessServiceOmitted,
      "info",
      "spec.resolution",
      `${PROXYLESS} ${why}; the service is left out of their configuration`,
    );
  }
  if (spec.subjectAltNames?.length) {
    const verified = inputs.traffic.destinationRules.some((dr) => {
      if (!spec.hosts.some((h) => hostMatches(dr.host, h))) return false;
      const r = dr.object.object.spec;
      const policies = [r.trafficPolicy, ...(r.trafficPolicy?.portLevelSettings ?? [])];
      for (const s of r.subsets ?? []) policies.push(s.trafficPolicy, ...(s.trafficPolicy?.portLevelSettings ?? []));
      return policies.some((p) => originatesTls(p?.tls) || p?.tls?.mode === "ISTIO_MUTUAL");
    });
    // Auto mTLS checks them too, toward endpoints with a sidecar.
    const autoMtls = inputs.mesh.enableAutoMtls && spec.location === "MESH_INTERNAL";
    if (!verified && !autoMtls) {
      report(
        CLUSTER_CODES.subjectAltNamesUnused,
        "info",
        "spec.subjectAltNames",
        "verified only when a DestinationRule originates TLS (SIMPLE, MUTUAL, ISTIO_MUTUAL) to this host, or by auto mTLS toward a MESH_INTERNAL service; unused here",
      );
    }
  }
}

// Registry services by origin namespace and name, in registry order: looked up once per ServiceEntry.
const originIndexes = new WeakMap<ServiceRegistry, Map<string, Map<string | undefined, ServiceModel[]>>>();

function servicesByOrigin(registry: ServiceRegistry): Map<string, Map<string | undefined, ServiceModel[]>> {
  let index = originIndexes.get(registry);
  if (!index) {
    index = new Map();
    for (const s of registry.services) {
      const ns = s.origin.namespace ?? "default";
      let byName = index.get(ns);
      if (!byName) {
        byName = new Map();
        index.set(ns, byName);
      }
      const list = byName.get(s.origin.name);
      if (list) list.push(s);
      else byName.set(s.origin.name, [s]);
    }
    originIndexes.set(registry, index);
  }
  return index;
}

export function analyzeDestinationRules(inputs: TranslationInputs): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const dr of inputs.traffic.destinationRules) analyzeRule(inputs, dr, out);
  for (const se of objectsOfKind<ServiceEntry>(inputs.snapshot, "ServiceEntry")) analyzeServiceEntry(inputs, se, out);
  return out;
}
