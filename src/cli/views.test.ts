import { describe, expect, it } from "vitest";
import { CLUSTER, LISTENER } from "../envoy/type-urls.js";
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
  it("generates and encodes once per proxy class, sharing the same objects across proxies", () => {
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
    // The cluster is identical for both classes: one encoded object, one set of bytes.
    const name = "outbound|9090||echo.default.svc.cluster.local";
    expect(g1?.get(CLUSTER)?.get(name)?.bytes).toBe(a?.get(CLUSTER)?.get(name)?.bytes ?? "missing");
    expect(a?.get(LISTENER)?.size).toBe(0);
    expect([...(g1?.get(LISTENER)?.keys() ?? [])]).toEqual(["echo.default.svc.cluster.local:9090"]);
  });

  it("classifies proxyless gRPC by GENERATOR metadata or user agent, everything else as a sidecar", () => {
    expect(proxyClassOf(node("x", { metadata: { GENERATOR: "grpc" } }))).toBe("proxyless-grpc");
    expect(proxyClassOf(node("x", { userAgentName: "grpc-go" }))).toBe("proxyless-grpc");
    expect(proxyClassOf(node("x", { userAgentName: "envoy" }))).toBe("sidecar");
  });
});
