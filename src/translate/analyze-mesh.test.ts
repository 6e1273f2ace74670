// The cross-object checks `trellis analyze` adds (analyze-mesh.ts): Sidecar
// egress hosts, workload selectors, deprecations. The CLI tests cover one
// fixture per problem class; these pin the rules behind them.
import { describe, expect, it } from "vitest";
import { DEFAULT_MESH_CONFIG } from "../config/mesh-config.js";
import { type Diagnostic, formatDiagnostic } from "../model/diagnostic.js";
import { buildSnapshot, type SourcedObject } from "../model/snapshot.js";
import { parseYamlFile } from "../sources/file/parse-file.js";
import { ANALYZE_CODES } from "./analyze-codes.js";
import { analyzeMesh, type MeshAnalysisOptions } from "./analyze-mesh.js";
import { prepare } from "./index.js";

function analyze(yaml: string, options?: MeshAnalysisOptions & { noSource?: boolean }): Diagnostic[] {
  const loaded = parseYamlFile("mesh.yaml", yaml);
  expect(loaded.diagnostics.map(formatDiagnostic)).toEqual([]);
  const objects: SourcedObject[] = options?.noSource
    ? loaded.objects.map((o) => ({ object: o.object }))
    : loaded.objects;
  const { snapshot } = buildSnapshot(undefined, objects);
  return analyzeMesh(prepare(snapshot, DEFAULT_MESH_CONFIG).inputs, options);
}

const brief = (ds: Diagnostic[]) => ds.map((d) => `${d.code} ${d.object?.kind} ${d.object?.name} ${d.field}`);

const pod = (name: string, namespace: string, labels: Record<string, string>) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${namespace}, labels: ${JSON.stringify(labels)}}
`;

const policy = (kind: string, name: string, namespace: string, app: string) => `
apiVersion: security.istio.io/v1
kind: ${kind}
metadata: {name: ${name}, namespace: ${namespace}}
spec:
  selector:
    matchLabels: {app: ${app}}
`;

const docs = (...d: string[]) => d.join("\n---\n");

describe("workload selectors", () => {
  it("lets a root-namespace policy select workloads in any namespace, and says so when it selects none", () => {
    const yaml = docs(
      pod("web-1", "shop", { app: "web" }),
      policy("AuthorizationPolicy", "web", "istio-system", "web"),
      policy("PeerAuthentication", "nothing", "istio-system", "nothing"),
    );
    const ds = analyze(yaml);
    expect(brief(ds)).toEqual(["TRL3502 PeerAuthentication nothing spec.selector.matchLabels"]);
    expect(ds[0]?.message).toContain("in any namespace (istio-system is the root namespace)");
  });

  it("does not let a Sidecar or DestinationRule selector reach outside its namespace", () => {
    const yaml = docs(
      pod("web-1", "shop", { app: "web" }),
      pod("other-1", "ops", { app: "other" }),
      `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: web, namespace: ops}
spec:
  workloadSelector: {labels: {app: web}}
`,
      `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: ops}
spec:
  host: web.shop.svc.cluster.local
  workloadSelector: {matchLabels: {app: web}}
`,
    );
    expect(brief(analyze(yaml))).toEqual([
      "TRL3502 Sidecar web spec.workloadSelector.labels",
      "TRL3502 DestinationRule web spec.workloadSelector.matchLabels",
    ]);
  });

  it("counts WorkloadEntries as workloads, with their spec labels", () => {
    const yaml = docs(
      `
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: shop, labels: {team: a}}
spec: {address: 10.0.0.9, labels: {app: billing}}
`,
      policy("RequestAuthentication", "billing", "shop", "billing"),
      policy("Telemetry", "nobody", "shop", "nobody").replace("security.istio.io/v1", "telemetry.istio.io/v1"),
    );
    expect(brief(analyze(yaml))).toEqual(["TRL3502 Telemetry nobody spec.selector.matchLabels"]);
  });

  it("checks namespaces without workloads only for a live cluster", () => {
    const yaml = docs(pod("web-1", "shop", { app: "web" }), policy("AuthorizationPolicy", "api", "empty", "api"));
    expect(analyze(yaml)).toEqual([]);
    expect(brief(analyze(yaml, { liveCluster: true }))).toEqual([
      "TRL3502 AuthorizationPolicy api spec.selector.matchLabels",
    ]);
  });

  it("ignores empty selectors, which select every workload", () => {
    const yaml = docs(
      pod("web-1", "shop", { app: "web" }),
      `
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: all, namespace: shop}
spec:
  selector: {matchLabels: {}}
`,
    );
    expect(analyze(yaml)).toEqual([]);
  });
});

describe("Sidecar egress hosts", () => {
  const services = `
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo}
spec:
  ports: [{name: http, port: 9080}]
`;
  const sidecar = (namespace: string, hosts: string[], selector = false) => `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: scope, namespace: ${namespace}}
spec:
  ${selector ? "workloadSelector: {labels: {app: x}}" : ""}
  egress:
  - hosts: ${JSON.stringify(hosts)}
`;

  it("accepts hosts declared in the named namespace, in any namespace for *, and wildcards", () => {
    const hosts = [
      "bookinfo/reviews.bookinfo.svc.cluster.local",
      "*/reviews.bookinfo.svc.cluster.local",
      "./*",
      "*/*.example.com",
      "~/*",
    ];
    expect(analyze(docs(services, sidecar("bookinfo", hosts)))).toEqual([]);
  });

  it("names the namespace that does declare the host", () => {
    const ds = analyze(docs(services, sidecar("web", ["./reviews.bookinfo.svc.cluster.local"])));
    expect(brief(ds)).toEqual(["TRL3501 Sidecar scope spec.egress[0].hosts[0]"]);
    expect(ds[0]?.message).toContain("it is declared in namespace bookinfo");
  });

  it("suggests the FQDN for a short name", () => {
    const ds = analyze(docs(services, sidecar("bookinfo", ["./reviews"])));
    expect(ds[0]?.message).toContain("write ./reviews.bookinfo.svc.cluster.local");
  });

  it("reads `.` in the root namespace's default Sidecar as any namespace", () => {
    const host = "./reviews.bookinfo.svc.cluster.local";
    expect(analyze(docs(services, sidecar("istio-system", [host])))).toEqual([]);
    expect(brief(analyze(docs(services, sidecar("istio-system", [host], true))))).toEqual([
      "TRL3501 Sidecar scope spec.egress[0].hosts[0]",
    ]);
  });
});

describe("deprecations", () => {
  it("reports deprecated DestinationRule fields at every level of traffic policy", () => {
    const ds = analyze(`
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: r, namespace: default}
spec:
  host: r.example.com
  trafficPolicy:
    loadBalancer: {warmupDurationSecs: 10s}
    outlierDetection: {consecutiveErrors: 7, consecutive5xxErrors: 3}
  subsets:
  - name: v1
    trafficPolicy:
      portLevelSettings:
      - port: {number: 80}
        loadBalancer:
          consistentHash: {httpHeaderName: x-user, minimumRingSize: 1024}
        outlierDetection: {consecutiveErrors: 5}
`).filter((d) => d.code === ANALYZE_CODES.deprecatedField);
    // consecutiveErrors next to consecutive5xxErrors is ignored: TRL3211 reports that, not this.
    expect(ds.map((d) => d.field)).toEqual([
      "spec.trafficPolicy.loadBalancer.warmupDurationSecs",
      "spec.subsets[0].trafficPolicy.portLevelSettings[0].loadBalancer.consistentHash.minimumRingSize",
      "spec.subsets[0].trafficPolicy.portLevelSettings[0].outlierDetection.consecutiveErrors",
    ]);
  });

  it("reports deprecated VirtualService and Gateway fields", () => {
    const ds = analyze(
      docs(
        `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: v, namespace: default}
spec:
  hosts: [v.example.com]
  http:
  - fault:
      delay: {percent: 5, fixedDelay: 1s}
    corsPolicy:
      allowOrigin: ["https://example.com"]
    route:
    - destination: {host: v.example.com}
`,
        `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: g, namespace: default}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP, targetPort: 8080}
    hosts: ["*"]
`,
      ),
    ).filter((d) => d.code === ANALYZE_CODES.deprecatedField);
    expect(ds.map((d) => `${d.object?.kind} ${d.field}`)).toEqual([
      "VirtualService spec.http[0].fault.delay.percent",
      "VirtualService spec.http[0].corsPolicy.allowOrigin",
      "Gateway spec.servers[0].port.targetPort",
    ]);
  });

  it("reports older API versions only for objects read from files", () => {
    const yaml = `
apiVersion: telemetry.istio.io/v1alpha1
kind: Telemetry
metadata: {name: t, namespace: default}
spec: {}
`;
    expect(brief(analyze(yaml))).toEqual(["TRL3504 Telemetry t apiVersion"]);
    // From the Kubernetes API the version is the one Trellis asked for, not the one applied.
    expect(analyze(yaml, { noSource: true })).toEqual([]);
  });
});

it("uses only its own code range, each code once", () => {
  const codes = Object.values(ANALYZE_CODES);
  for (const code of codes) expect(code).toMatch(/^TRL35\d\d$/);
  expect(new Set(codes).size).toBe(codes.length);
});
