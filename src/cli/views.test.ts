import { describe, expect, it } from "vitest";
import { LISTENER } from "../envoy/type-urls.js";
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
