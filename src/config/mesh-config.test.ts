import { describe, expect, it } from "vitest";
import { DEFAULT_MESH_CONFIG, parseMeshConfig } from "./index.js";

describe("MeshConfig", () => {
  it("fills every default from an empty document", () => {
    expect(parseMeshConfig(undefined)).toEqual({ ok: true, value: DEFAULT_MESH_CONFIG });
    expect(DEFAULT_MESH_CONFIG).toMatchObject({
      trustDomain: "cluster.local",
      rootNamespace: "istio-system",
      clusterDomain: "cluster.local",
      enableAutoMtls: true,
      outboundTrafficPolicy: { mode: "ALLOW_ANY" },
      pushDebounce: { quietMs: 100, maxMs: 1000 },
      defaultConfig: {
        discoveryAddress: "trellis.trellis-system.svc:15012",
        holdApplicationUntilProxyStarts: false,
        proxy: { resources: { requests: { cpu: "100m", memory: "128Mi" } } },
      },
      injection: { nativeSidecars: false },
    });
    expect(DEFAULT_MESH_CONFIG.defaultConfig.proxy.image).toMatch(/envoy/);
    expect(DEFAULT_MESH_CONFIG.injection.initImage).toMatch(/trellis-init/);
  });

  it("keeps what the user set and defaults the rest", () => {
    const result = parseMeshConfig({
      trustDomain: "example.org",
      outboundTrafficPolicy: { mode: "REGISTRY_ONLY" },
      defaultConfig: { proxy: { image: "registry.local/envoy:1", resources: { limits: { cpu: 1, memory: "512Mi" } } } },
      pushDebounce: { quietMs: 20 },
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.trustDomain).toBe("example.org");
    expect(result.value.clusterDomain).toBe("cluster.local");
    expect(result.value.outboundTrafficPolicy.mode).toBe("REGISTRY_ONLY");
    expect(result.value.defaultConfig.proxy).toEqual({
      image: "registry.local/envoy:1",
      resources: { limits: { cpu: 1, memory: "512Mi" } },
    });
    expect(result.value.pushDebounce).toEqual({ quietMs: 20, maxMs: 1000 });
  });

  it("keeps the injection settings the user set", () => {
    const result = parseMeshConfig({
      defaultConfig: { discoveryAddress: "[fd00::10]:15012", holdApplicationUntilProxyStarts: true },
      injection: { initImage: "registry.local/trellis-init:1", nativeSidecars: true },
    });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.defaultConfig).toMatchObject({
      discoveryAddress: "[fd00::10]:15012",
      holdApplicationUntilProxyStarts: true,
    });
    expect(result.value.injection).toEqual({ initImage: "registry.local/trellis-init:1", nativeSidecars: true });
  });

  it("rejects a discovery address that is not host:port", () => {
    for (const bad of ["trellis", "trellis:0", "trellis:65536", ":15010", "a b:1"]) {
      const result = parseMeshConfig({ defaultConfig: { discoveryAddress: bad } });
      expect(result, bad).toEqual({
        ok: false,
        errors: [
          {
            field: "defaultConfig.discoveryAddress",
            message: `expected host:port (use [addr]:port for IPv6), got ${JSON.stringify(bad)}`,
          },
        ],
      });
    }
    expect(parseMeshConfig({ defaultConfig: { discoveryAddress: "10.0.0.1:65535" } }).ok).toBe(true);
  });

  it("rejects unknown fields, bad enums, bad quantities and an inverted debounce window", () => {
    expect(parseMeshConfig({ trustDomian: "x" })).toEqual({
      ok: false,
      errors: [{ field: "trustDomian", message: 'unknown field "trustDomian" (did you mean "trustDomain"?)' }],
    });
    expect(parseMeshConfig({ outboundTrafficPolicy: { mode: "DENY" } })).toEqual({
      ok: false,
      errors: [
        { field: "outboundTrafficPolicy.mode", message: 'expected one of REGISTRY_ONLY, ALLOW_ANY, got "DENY"' },
      ],
    });
    expect(parseMeshConfig({ defaultConfig: { proxy: { resources: { requests: { memory: "lots" } } } } })).toEqual({
      ok: false,
      errors: [
        {
          field: "defaultConfig.proxy.resources.requests.memory",
          message: 'expected a Kubernetes quantity such as "100m" or "128Mi", got "lots"',
        },
      ],
    });
    expect(parseMeshConfig({ pushDebounce: { quietMs: 500, maxMs: 100 } })).toEqual({
      ok: false,
      errors: [{ field: "pushDebounce.maxMs", message: "must be at least quietMs (500), got 100" }],
    });
  });
});
