import { describe, expect, it } from "vitest";
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from "../envoy/type-urls.js";
import { buildSnapshot } from "../model/snapshot.js";
import { parseYamlFile } from "../sources/file/parse-file.js";
import type { ProxyNode } from "../xds/proxy.js";
import { proxyClassOf, ViewCache } from "./views.js";

const mesh = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: echo, namespace: default }
spec:
  hosts: [echo.default.svc.cluster.local]
  resolution: STATIC
  ports: [{ number: 9090, name: grpc, protocol: GRPC }]
  endpoints: [{ address: 10.0.0.1 }]
`;

function node(id: string, extra: Partial<ProxyNode> = {}): ProxyNode {
  return {
    id,
    cluster: "",
    metadata: {},
    locality: {},
    userAgentName: "envoy",
    userAgentVersion: "",
    clientFeatures: [],
    ...extra,
  };
}

describe("ViewCache", () => {
  it("generates and encodes once per distinct view, sharing the same objects across proxies", () => {
    const loaded = parseYamlFile("mesh.yaml", mesh);
    const cache = new ViewCache();
    cache.setSnapshot(buildSnapshot(undefined, loaded.objects).snapshot);
    const a = cache.generate(node("sidecar-a"));
    const b = cache.generate(node("sidecar-b"));
    expect(a).toBe(b);
    const g1 = cache.generate(node("grpc-1", { userAgentName: "gRPC Node Pure JS" }));
    const g2 = cache.generate(node("grpc-2", { metadata: { GENERATOR: "grpc" } }));
    expect(g1).toBe(g2);
    expect(g1).not.toBe(a);
    // Sidecars get capture listeners, proxyless clients API listeners named host:port.
    expect([...(a?.get(LISTENER)?.keys() ?? [])]).toContain("virtualOutbound");
    expect([...(g1?.get(LISTENER)?.keys() ?? [])]).toEqual(["echo.default.svc.cluster.local:9090"]);
  });

  it("classifies proxyless gRPC by GENERATOR metadata or user agent, everything else as a sidecar", () => {
    expect(proxyClassOf(node("x", { metadata: { GENERATOR: "grpc" } }))).toBe("proxyless-grpc");
    expect(proxyClassOf(node("x", { userAgentName: "grpc-go" }))).toBe("proxyless-grpc");
    expect(proxyClassOf(node("x", { userAgentName: "envoy" }))).toBe("sidecar");
  });
});

describe("proxyTargetOf", () => {
  it("reads namespace, labels and locality from Istio-style node metadata and ids", async () => {
    const { proxyTargetOf } = await import("./views.js");
    expect(
      proxyTargetOf(
        node("sidecar~10.0.0.5~reviews-v1-abc.bookinfo~bookinfo.svc.cluster.local", {
          metadata: { LABELS: { app: "reviews", version: "v1", n: 3 } },
          locality: { region: "us-east1", zone: "us-east1-b" },
        }),
      ),
    ).toEqual({
      class: "sidecar",
      namespace: "bookinfo",
      labels: { app: "reviews", version: "v1" },
      locality: "us-east1/us-east1-b",
    });
    expect(proxyTargetOf(node("x", { metadata: { NAMESPACE: "web" } })).namespace).toBe("web");
  });
});

describe("ViewCache layers", () => {
  const kube = (ip: string, weight = 90) => `apiVersion: v1
kind: Service
metadata: { name: web, namespace: default }
spec: { selector: { app: web }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: web-1, namespace: default, labels: { kubernetes.io/service-name: web } }
addressType: IPv4
endpoints: [{ addresses: ["${ip}"], conditions: { ready: true } }]
ports: [{ name: http, port: 8080 }]
---
apiVersion: v1
kind: Service
metadata: { name: api, namespace: default }
spec: { selector: { app: api }, ports: [{ name: http, port: 80, targetPort: 8080 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: api-1, namespace: default, labels: { kubernetes.io/service-name: api } }
addressType: IPv4
endpoints: [{ addresses: ["10.0.0.9"], conditions: { ready: true } }]
ports: [{ name: http, port: 8080 }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: default }
spec:
  hosts: [web.default.svc.cluster.local]
  http: [{ route: [{ destination: { host: web.default.svc.cluster.local }, weight: ${weight} }, { destination: { host: api.default.svc.cluster.local }, weight: ${100 - weight} }] }]
`;
  const snapshotOf = (text: string, prev?: ReturnType<typeof buildSnapshot>["snapshot"]) =>
    buildSnapshot(prev, parseYamlFile("mesh.yaml", text).objects).snapshot;
  const sidecar = (id: string, app: string) =>
    node(id, { metadata: { NAMESPACE: "default", LABELS: { app, "pod-template-hash": id } } });
  const versionsOf = (v: ReturnType<ViewCache["generate"]>, type: string) =>
    Object.fromEntries([...(v?.get(type)?.values() ?? [])].map((r) => [r.name, r.version]));

  it("shares the outbound layer between workloads with different labels in one namespace", () => {
    const cache = new ViewCache();
    cache.setSnapshot(snapshotOf(kube("10.0.0.1")));
    const web = cache.generate(sidecar("w1", "web"));
    const api = cache.generate(sidecar("a1", "api"));
    expect(web).not.toBe(api); // different inbound listeners
    expect(web?.get(ROUTE)).toBe(api?.get(ROUTE));
    expect(web?.get(ENDPOINT)).toBe(api?.get(ENDPOINT));
    expect(cache.translations).toMatchObject({ outbound: 1, inbound: 2, endpoints: 1 });
  });

  it("re-translates only the moved service's endpoints on an endpoint-only change", () => {
    const cache = new ViewCache();
    const first = snapshotOf(kube("10.0.0.1"));
    cache.setSnapshot(first);
    const before = cache.generate(sidecar("w1", "web"));
    const moved = snapshotOf(kube("10.0.0.2"), first);
    cache.setSnapshot(moved);
    const after = cache.generate(sidecar("w1", "web"));
    // Clusters, listeners and routes: the very same objects, so streams send nothing for them.
    for (const type of [CLUSTER, LISTENER, ROUTE]) expect(after?.get(type)).toBe(before?.get(type));
    expect(cache.translations).toMatchObject({ outbound: 1, inbound: 1, endpoints: 1, endpointsIncremental: 1 });
    const webCla = "outbound|80||web.default.svc.cluster.local";
    const apiCla = "outbound|80||api.default.svc.cluster.local";
    expect(after?.get(ENDPOINT)?.get(webCla)).not.toBe(before?.get(ENDPOINT)?.get(webCla));
    expect(after?.get(ENDPOINT)?.get(apiCla)).toBe(before?.get(ENDPOINT)?.get(apiCla));
    // And the result is what a cache starting from the new snapshot produces.
    const fresh = new ViewCache();
    fresh.setSnapshot(moved);
    const expected = fresh.generate(sidecar("w1", "web"));
    for (const type of [CLUSTER, ENDPOINT, LISTENER, ROUTE])
      expect(versionsOf(after, type)).toEqual(versionsOf(expected, type));
  });

  it("re-translates the outbound layer, and only that, when a VirtualService changes", () => {
    const cache = new ViewCache();
    const first = snapshotOf(kube("10.0.0.1"));
    cache.setSnapshot(first);
    const before = cache.generate(sidecar("w1", "web"));
    cache.setSnapshot(snapshotOf(kube("10.0.0.1", 50), first));
    const after = cache.generate(sidecar("w1", "web"));
    // A VirtualService touches neither inbound listeners nor endpoints (translate/changes.ts).
    expect(cache.translations).toMatchObject({ outbound: 2, inbound: 1, endpoints: 1, endpointsIncremental: 0 });
    expect(versionsOf(after, ROUTE)).not.toEqual(versionsOf(before, ROUTE));
  });
});
