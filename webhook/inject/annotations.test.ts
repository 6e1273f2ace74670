import { describe, expect, it } from "vitest";
import { DEFAULT_MESH_CONFIG } from "../../src/config/mesh-config.js";
import { podSettings, quantityValue } from "./annotations.js";
import type { Pod } from "./pod.js";
import { canonicalName, canonicalRevision, workloadName } from "./workload.js";

const withAnnotations = (annotations: Record<string, string>): Pod => ({ metadata: { annotations }, spec: {} });
const problemsOf = (annotations: Record<string, string>) => {
  const r = podSettings(withAnnotations(annotations), DEFAULT_MESH_CONFIG);
  return r.ok ? [] : r.problems.map((p) => p.message);
};

describe("podSettings", () => {
  it("accepts Istio's list syntax: spaces, empty items, IPv4 and IPv6, single addresses", () => {
    const r = podSettings(
      withAnnotations({
        "traffic.sidecar.istio.io/includeInboundPorts": " 80 , 443,,",
        "traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.0.0.0/8, fd00::/8 ,192.168.1.1,::1/128",
        "traffic.sidecar.istio.io/excludeOutboundPorts": "5432,5432",
        "traffic.sidecar.istio.io/includeOutboundIPRanges": " * ",
      }),
      DEFAULT_MESH_CONFIG,
    );
    expect(r.ok && r.value.capture).toEqual({
      inboundPorts: "80,443",
      excludeInboundPorts: "15090,15021,15020",
      outboundIpRanges: "*",
      excludeOutboundIpRanges: "10.0.0.0/8,fd00::/8,192.168.1.1,::1/128",
      excludeOutboundPorts: "5432",
    });
  });

  it("names each bad item, and where a wildcard may not go", () => {
    expect(
      problemsOf({
        "traffic.sidecar.istio.io/includeInboundPorts": "80,*",
        "traffic.sidecar.istio.io/excludeInboundPorts": "*",
        "traffic.sidecar.istio.io/excludeOutboundPorts": "0,65536,http",
        "traffic.sidecar.istio.io/includeOutboundIPRanges": "10.0.0.0/8,fe80::1%eth0,300.1.1.1/8",
        "traffic.sidecar.istio.io/excludeOutboundIPRanges": "fd00::/129,10.0.0.0/x",
      }),
    ).toEqual([
      '"*" is only valid as the whole value ("*" alone)',
      '"*" is not allowed in an exclude list',
      '"fe80::1%eth0" is not a CIDR (like 10.0.0.0/8 or fd00::/8)',
      '"300.1.1.1/8" is not a CIDR (like 10.0.0.0/8 or fd00::/8)',
      '"fd00::/129" has a prefix length that is not 0-128',
      '"10.0.0.0/x" has a prefix length that is not 0-32',
      '"0" is not a port (1-65535)',
      '"65536" is not a port (1-65535)',
      '"http" is not a port (1-65535)',
    ]);
  });

  it("checks the log level and booleans", () => {
    expect(problemsOf({ "sidecar.istio.io/logLevel": "loud", "sidecar.istio.io/nativeSidecar": "yes" })).toEqual([
      '"yes" is not "true" or "false"',
      '"loud" is not one of trace, debug, info, warning, warn, error, critical, off',
    ]);
    const r = podSettings(withAnnotations({ "sidecar.istio.io/logLevel": "DEBUG" }), DEFAULT_MESH_CONFIG);
    expect(r.ok && r.value.logLevel).toBe("debug");
    expect(problemsOf({ "proxy.istio.io/config": "[1, 2]" })).toEqual([
      'must be a ProxyConfig object, like {"holdApplicationUntilProxyStarts": true}',
    ]);
    expect(problemsOf({ "proxy.istio.io/config": "{unclosed" })[0]).toMatch(/^is not JSON or YAML: /);
  });
});

describe("quantityValue", () => {
  it("reads Kubernetes quantities for comparison", () => {
    expect(quantityValue("100m")).toBeCloseTo(0.1);
    expect(quantityValue("2")).toBe(2);
    expect(quantityValue("1.5")).toBe(1.5);
    expect(quantityValue("128Mi")).toBe(128 * 2 ** 20);
    expect(quantityValue("1G")).toBe(1e9);
    expect(quantityValue("1e3")).toBe(1000);
    expect(quantityValue("1Gi") > quantityValue("1000M")).toBe(true);
    expect(quantityValue("lots")).toBeNaN();
  });
});

describe("workload names", () => {
  const owned = (generateName: string, kind: string, name: string, labels: Record<string, string> = {}): Pod => ({
    metadata: { generateName, labels, ownerReferences: [{ kind, name, controller: true }] },
  });

  it("finds the Deployment, CronJob or controller behind a pod, else the pod", () => {
    expect(
      workloadName(owned("web-6b8f9c7d5-", "ReplicaSet", "web-6b8f9c7d5", { "pod-template-hash": "6b8f9c7d5" })),
    ).toBe("web");
    expect(workloadName(owned("rs-", "ReplicaSet", "rs"))).toBe("rs");
    expect(workloadName(owned("report-28533120-", "Job", "report-28533120"))).toBe("report");
    expect(workloadName(owned("migrate-", "Job", "migrate"))).toBe("migrate");
    expect(workloadName(owned("db-", "StatefulSet", "db"))).toBe("db");
    expect(workloadName({ metadata: { name: "debug" } })).toBe("debug");
    expect(workloadName({ metadata: { generateName: "adhoc-" } })).toBe("adhoc");
  });

  it("derives Istio's canonical service name and revision", () => {
    expect(canonicalName({ "app.kubernetes.io/name": "a", app: "b" }, "w")).toBe("a");
    expect(canonicalName({ app: "b" }, "w")).toBe("b");
    expect(canonicalName({}, "w")).toBe("w");
    expect(canonicalName({ "service.istio.io/canonical-name": "c", app: "b" }, "w")).toBe("c");
    expect(canonicalRevision({ version: "v2" })).toBe("v2");
    expect(canonicalRevision({})).toBe("latest");
  });
});
