// Behaviour of the cluster and endpoint translators beyond the golden files:
// grpc-js-xds's own resource validators accept every proxyless cluster and
// assignment Trellis generates; the route hash policies of consistentHash;
// what analyzeDestinationRules reports (and that Istio's documented examples
// and the founding document's rule produce nothing).
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ClusterResourceType } from "@grpc/grpc-js-xds/build/src/xds-resource-type/cluster-resource-type.js";
import { EndpointResourceType } from "@grpc/grpc-js-xds/build/src/xds-resource-type/endpoint-resource-type.js";
import type { XdsDecodeContext } from "@grpc/grpc-js-xds/build/src/xds-resource-type/xds-resource-type.js";
import { describe, expect, it } from "vitest";
import { DEFAULT_MESH_CONFIG } from "../../config/mesh-config.js";
import { CLUSTER, ENDPOINT } from "../../envoy/type-urls.js";
import { formatDiagnostic } from "../../model/diagnostic.js";
import { lookupService } from "../../model/services.js";
import { buildSnapshot } from "../../model/snapshot.js";
import { parseYamlFile } from "../../sources/file/parse-file.js";
import { encodeResource } from "../../xds/resource.js";
import { buildContext, type ProxyTarget } from "../context.js";
import { prepare, translateProxy } from "../index.js";
import { analyzeDestinationRules } from "./analyze.js";
import { hashPolicyFor } from "./consistent-hash.js";

const here = dirname(fileURLToPath(import.meta.url));
const CASES = join(here, "../testdata/in");

function load(file: string, text = readFileSync(join(CASES, file), "utf8")) {
  const loaded = parseYamlFile(file, text);
  expect(loaded.diagnostics.map(formatDiagnostic)).toEqual([]);
  return prepare(buildSnapshot(undefined, loaded.objects).snapshot, DEFAULT_MESH_CONFIG).inputs;
}

const proxyless: ProxyTarget = { class: "proxyless-grpc", namespace: "default", labels: {} };
const sidecar: ProxyTarget = { class: "sidecar", namespace: "default", labels: {} };

/**
 * What grpc-js-xds needs to decode resources: the certificate provider instance
 * `default` that `trellis bootstrap --grpc --cert-dir` declares (ISTIO_MUTUAL
 * clusters name it).
 */
const grpcContext = {
  bootstrap: {
    certificateProviders: {
      default: {
        pluginName: "file_watcher",
        config: { certificateFile: "c", privateKeyFile: "k", caCertificateFile: "r", refreshIntervalMs: 900_000 },
      },
    },
  },
  server: {},
} as unknown as XdsDecodeContext;

function proxiesOf(text: string): ProxyTarget[] {
  const m = text.match(/^# proxies: (.*)$/m);
  return m?.[1] ? (JSON.parse(m[1]) as ProxyTarget[]) : [proxyless, sidecar];
}

describe("proxyless gRPC clusters and endpoints", () => {
  const files = readdirSync(CASES).filter((f) => f.endsWith(".yaml"));
  for (const file of files) {
    const text = readFileSync(join(CASES, file), "utf8");
    const targets = proxiesOf(text).filter((p) => p.class === "proxyless-grpc");
    for (const target of targets.length > 0
      ? targets
      : [{ ...proxyless, namespace: proxiesOf(text)[0]?.namespace ?? "default" }]) {
      it(`${file}: grpc-js-xds accepts every cluster and assignment`, () => {
        const t = translateProxy(load(file, text), target);
        for (const c of t.clusters) {
          const enc = encodeResource(CLUSTER, c.name ?? "", c);
          if (!enc.ok) throw new Error(enc.error);
          const r = ClusterResourceType.get().decode(grpcContext, {
            type_url: CLUSTER,
            value: Buffer.from(enc.value.bytes),
          });
          expect(r.error, c.name).toBeUndefined();
        }
        for (const cla of t.endpoints) {
          const enc = encodeResource(ENDPOINT, cla.cluster_name ?? "", cla);
          if (!enc.ok) throw new Error(enc.error);
          const r = EndpointResourceType.get().decode(grpcContext, {
            type_url: ENDPOINT,
            value: Buffer.from(enc.value.bytes),
          });
          expect(r.error, cla.cluster_name).toBeUndefined();
          // gRPC drops a locality without weight silently, which the validator does not report.
          for (const l of cla.endpoints ?? [])
            expect(l.load_balancing_weight?.value, cla.cluster_name).toBeGreaterThan(0);
          const priorities = [...new Set((cla.endpoints ?? []).map((l) => l.priority ?? 0))].sort();
          expect(priorities, cla.cluster_name).toEqual(priorities.map((_, i) => i));
        }
      });
    }
  }
});

describe("hashPolicyFor", () => {
  const inputs = load("dr-consistent-hash.yaml");
  const policies = (target: ProxyTarget, host: string) => {
    const ctx = buildContext(inputs, target);
    const svc = lookupService(inputs.registry, `${host}.default.svc.cluster.local`, "default");
    if (!svc) throw new Error(`no ${host}`);
    return hashPolicyFor(ctx, svc, 8080);
  };

  it("gives sidecars a policy for each hash key", () => {
    expect(policies(sidecar, "cart")).toEqual([{ header: { header_name: "x-user" } }]);
    expect(policies(sidecar, "session")).toEqual([
      { cookie: { name: "session-id", path: "/", ttl: { seconds: "3600", nanos: 0 } } },
    ]);
    expect(policies(sidecar, "sticky")).toEqual([{ connection_properties: { source_ip: true } }]);
    expect(policies(sidecar, "search")).toEqual([{ query_parameter: { name: "q" } }]);
  });

  it("gives proxyless clients header hashing only", () => {
    expect(policies(proxyless, "cart")).toEqual([{ header: { header_name: "x-user" } }]);
    expect(policies(proxyless, "session")).toEqual([]);
    expect(policies(proxyless, "sticky")).toEqual([]);
  });

  it("follows the policy merged for the subset and port, and is empty without a rule or for an unknown subset", () => {
    const merged = load(
      "inline.yaml",
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: a, namespace: default }
spec:
  hosts: [a.default.svc.cluster.local, b.default.svc.cluster.local]
  resolution: STATIC
  ports:
  - { number: 80, name: http, protocol: HTTP }
  - { number: 81, name: http-alt, protocol: HTTP }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: a, namespace: default }
spec:
  host: a
  trafficPolicy:
    loadBalancer: { consistentHash: { httpHeaderName: top } }
    portLevelSettings:
    - port: { number: 81 }
      connectionPool: { tcp: { maxConnections: 1 } }
  subsets:
  - name: s
    trafficPolicy:
      loadBalancer: { consistentHash: { httpHeaderName: sub } }
`,
    );
    const ctx = buildContext(merged, sidecar);
    const a = lookupService(merged.registry, "a.default.svc.cluster.local", "default");
    const b = lookupService(merged.registry, "b.default.svc.cluster.local", "default");
    if (!a || !b) throw new Error("services missing");
    expect(hashPolicyFor(ctx, a, 80)).toEqual([{ header: { header_name: "top" } }]);
    expect(hashPolicyFor(ctx, a, 80, "s")).toEqual([{ header: { header_name: "sub" } }]);
    // A port-level entry replaces the load balancer too (here: with none).
    expect(hashPolicyFor(ctx, a, 81)).toEqual([]);
    expect(hashPolicyFor(ctx, a, 81, "s")).toEqual([{ header: { header_name: "sub" } }]);
    expect(hashPolicyFor(ctx, a, 80, "nope")).toEqual([]);
    expect(hashPolicyFor(ctx, b, 80)).toEqual([]);
  });
});

describe("subset clusters", () => {
  it("carry only the endpoints whose labels match the subset", () => {
    const t = translateProxy(load("dr-subsets.yaml"), sidecar);
    const addresses = (name: string) =>
      t.endpoints
        .find((e) => e.cluster_name === name)
        ?.endpoints?.flatMap((l) => l.lb_endpoints?.map((e) => e.endpoint?.address?.socket_address?.address));
    expect(addresses("outbound|9080|v3|reviews.default.svc.cluster.local")).toEqual(["10.0.1.3", "10.0.1.4"]);
    expect(addresses("outbound|9080|v1|reviews.default.svc.cluster.local")).toEqual(["10.0.1.1"]);
    expect(addresses("outbound|9080||reviews.default.svc.cluster.local")).toHaveLength(4);
  });
});

describe("analyzeDestinationRules", () => {
  const diagnostics = (file: string) => analyzeDestinationRules(load(file)).map(formatDiagnostic);

  it("reports nothing for the founding document's rule and Istio's circuit-breaking task", () => {
    expect(diagnostics("dr-founding-circuit-breaker.yaml")).toEqual([]);
    expect(diagnostics("dr-circuit-breaking-task.yaml")).toEqual([]);
    expect(diagnostics("dr-subsets.yaml").filter((d) => !d.startsWith("info"))).toEqual([]);
  });

  it("reports only what proxyless clients lose for Istio's egress TLS origination task", () => {
    expect(diagnostics("dr-tls-simple.yaml")).toEqual([
      "info TRL3207 DestinationRule default/edition-cnn-com (dr-tls-simple.yaml document 1) spec.trafficPolicy.portLevelSettings[0].tls: proxyless gRPC clients: gRPC takes TLS only from certificate providers in its bootstrap; this cluster is not served to them",
    ]);
  });

  it("names the missing host, subset, port and duplicate with their field paths", () => {
    const d = diagnostics("dr-missing-references.yaml");
    const at = (s: string) => d.filter((x) => x.includes(s));
    expect(at("TRL3201")).toEqual([
      "warning TRL3201 DestinationRule default/ghost (dr-missing-references.yaml document 2) spec.host: no service in the registry matches host ghost.default.svc.cluster.local; the rule has no effect",
    ]);
    expect(at("TRL3202")).toEqual([
      'warning TRL3202 DestinationRule default/reviews (dr-missing-references.yaml document 1) spec.subsets[1].labels: no endpoint of reviews.default.svc.cluster.local has labels {"version":"v2"}; requests routed to subset v2 fail (no healthy upstream)',
    ]);
    expect(at("TRL3204")).toEqual([
      "warning TRL3204 DestinationRule default/reviews (dr-missing-references.yaml document 1) spec.subsets[2].name: subset v1 is defined twice; the first definition wins",
    ]);
    expect(at("TRL3203").map((x) => x.slice(x.indexOf("spec.")))).toEqual([
      "spec.trafficPolicy.portLevelSettings[0].port.number: no service of host reviews has port 9999; ignored",
      "spec.trafficPolicy.portLevelSettings[1].port: a port-level setting needs port.number; ignored",
    ]);
  });

  it("reports every unsupported field once, with what happens instead", () => {
    const codes = analyzeDestinationRules(load("dr-unsupported.yaml")).map((x) => `${x.code} ${x.field}`);
    expect(codes).toEqual([
      "TRL3207 spec.trafficPolicy.loadBalancer.simple",
      "TRL3205 spec.trafficPolicy.loadBalancer.zoneAwareLbSetting",
      "TRL3205 spec.trafficPolicy.outlierDetection.outlierDetectionHttpErrorCodes",
      "TRL3205 spec.trafficPolicy.tunnel",
      "TRL3207 spec.trafficPolicy.proxyProtocol",
      "TRL3205 spec.trafficPolicy.retryBudget.budgetInterval",
      "TRL3207 spec.subsets[0].trafficPolicy.loadBalancer.consistentHash.maglev",
      "TRL3207 spec.subsets[0].trafficPolicy.loadBalancer.consistentHash.httpCookie",
      "TRL3221 spec.endpoints[0].network",
      "TRL3209 spec.resolution",
    ]);
  });

  it("reports ServiceEntries proxyless clients cannot use and DNS entries Envoy cannot resolve", () => {
    const d = analyzeDestinationRules(load("se-dns.yaml")).map(
      (x) => `${x.severity} ${x.code} ${x.object?.name} ${x.field}`,
    );
    expect(d).toEqual([
      "info TRL3208 external-db spec.resolution",
      "error TRL3210 wildcard-dns spec.hosts[0]",
      "info TRL3208 wildcard-dns spec.resolution",
    ]);
  });

  it("reports the deprecated consecutiveErrors only where a replacement is also set", () => {
    const d = analyzeDestinationRules(
      load(
        "inline.yaml",
        `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: a, namespace: default }
spec:
  hosts: [a.default.svc.cluster.local]
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: a, namespace: default }
spec:
  host: a
  trafficPolicy:
    outlierDetection: { consecutiveErrors: 3, consecutive5xxErrors: 2 }
    loadBalancer:
      localityLbSetting: { failover: [{ from: a, to: b }], distribute: [{ from: "a/*", to: { "a/*": 100 } }] }
    connectionPool: { http: { h2UpgradePolicy: UPGRADE, useClientProtocol: true } }
    portLevelSettings:
    - port: { number: 80 }
      loadBalancer: { localityLbSetting: { failover: [{ from: a, to: b }] } }
      outlierDetection: { consecutiveLocalOriginFailures: 2 }
      tls: { mode: MUTUAL }
`,
      ),
    ).map((x) => `${x.code} ${x.field}`);
    expect(d).toEqual([
      "TRL3216 spec.trafficPolicy.loadBalancer.localityLbSetting",
      "TRL3217 spec.trafficPolicy.connectionPool.http.useClientProtocol",
      "TRL3211 spec.trafficPolicy.outlierDetection.consecutiveErrors",
      "TRL3218 spec.trafficPolicy.portLevelSettings[0].outlierDetection.consecutiveLocalOriginFailures",
      "TRL3213 spec.trafficPolicy.portLevelSettings[0].tls",
    ]);
  });
});
