import { describe, expect, it } from "vitest";
import { DEFAULT_MESH_CONFIG, parseMeshConfig } from "./index.js";

describe("MeshConfig", () => {
  it("fills every default from an empty document", () => {
    expect(parseMeshConfig(undefined)).toEqual({ ok: true, value: DEFAULT_MESH_CONFIG });
    expect(DEFAULT_MESH_CONFIG).toMatchObject({
      trustDomain: "cluster.local",
      rootNamespace: "istio-system",
      clusterDomain: "cluster.local",
      outboundTrafficPolicy: { mode: "ALLOW_ANY" },
      pushDebounce: { quietMs: 100, maxMs: 1000 },
      defaultConfig: { proxy: { resources: { requests: { cpu: "100m", memory: "128Mi" } } } },
    });
    expect(DEFAULT_MESH_CONFIG.defaultConfig.proxy.image).toMatch(/envoy/);
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
