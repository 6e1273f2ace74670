// Behaviour of the sidecar listeners beyond what the golden files show:
// invariants Envoy enforces on every golden case (a listener Envoy would
// refuse is a NACK for the whole proxy), the MeshConfig outbound traffic
// policy, and the diagnostics of analyzeSidecarsAndL4Routes for the
// listener/sidecar/tcp/tls cases.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEFAULT_MESH_CONFIG, type MeshConfig } from "../../config/mesh-config.js";
import type { Listener } from "../../envoy/generated/envoy/config/listener/v3/Listener.js";
import { buildSnapshot } from "../../model/snapshot.js";
import { parseYamlFile } from "../../sources/file/parse-file.js";
import { type ProxyTarget, prepare, translateProxy } from "../index.js";
import { analyzeSidecarsAndL4Routes } from "./analyze.js";
import { type ChainOpts, chainsOverlap, cidrRange } from "./filter-chains.js";

const IN = join(dirname(fileURLToPath(import.meta.url)), "../testdata/in");
const SIDECAR: ProxyTarget = { class: "sidecar", namespace: "default", labels: {} };

function load(text: string, name = "inline.yaml", mesh: MeshConfig = DEFAULT_MESH_CONFIG) {
  const loaded = parseYamlFile(name, text);
  const { snapshot } = buildSnapshot(undefined, loaded.objects, loaded.diagnostics);
  return prepare(snapshot, mesh).inputs;
}

function proxiesOf(text: string): ProxyTarget[] {
  const m = text.match(/^# proxies: (.*)$/m);
  return m?.[1]
    ? (JSON.parse(m[1]) as ProxyTarget[])
    : [{ class: "proxyless-grpc", namespace: "default", labels: {} }, SIDECAR];
}

/** What a typed_config refers to: tcp_proxy clusters, HCM route configuration or inline route clusters. */
function references(l: Listener): { clusters: string[]; routes: string[] } {
  const clusters: string[] = [];
  const routes: string[] = [];
  const chains = [...(l.filter_chains ?? []), ...(l.default_filter_chain ? [l.default_filter_chain] : [])];
  for (const c of chains) {
    for (const f of c.filters ?? []) {
      const tc = f.typed_config as Record<string, unknown> | undefined;
      if (typeof tc?.cluster === "string") clusters.push(tc.cluster);
      const weighted = tc?.weighted_clusters as { clusters: { name: string }[] } | undefined;
      for (const w of weighted?.clusters ?? []) clusters.push(w.name);
      const rds = tc?.rds as { route_config_name: string } | undefined;
      if (rds) routes.push(rds.route_config_name);
      const inline = tc?.route_config as { virtual_hosts: { routes: { route: { cluster: string } }[] }[] } | undefined;
      for (const vh of inline?.virtual_hosts ?? []) for (const r of vh.routes) clusters.push(r.route.cluster);
    }
  }
  return { clusters, routes };
}

const cases = readdirSync(IN).filter((f) => f.endsWith(".yaml"));

describe("every golden case gives Envoy listeners it accepts", () => {
  for (const file of cases) {
    const text = readFileSync(join(IN, file), "utf8");
    for (const proxy of proxiesOf(text).filter((p) => p.class === "sidecar")) {
      it(`${file} for ${proxy.namespace}/${JSON.stringify(proxy.labels)}`, () => {
        const t = translateProxy(load(text, file), proxy);
        const names = t.listeners.map((l) => l.name);
        expect(new Set(names).size, "listener names are unique").toBe(names.length);
        const addresses = t.listeners.map(
          (l) => `${l.address?.socket_address?.address}:${l.address?.socket_address?.port_value}`,
        );
        expect(new Set(addresses).size, "no two listeners share an address").toBe(addresses.length);
        for (const l of t.listeners) {
          const matches = (l.filter_chains ?? []).map((c) => JSON.stringify(c.filter_chain_match ?? {}));
          expect(new Set(matches).size, `${l.name}: filter chain matches are unique`).toBe(matches.length);
          expect((l.filter_chains ?? []).length, `${l.name} has a filter chain`).toBeGreaterThan(0);
        }
        const routeNames = new Set(t.routes.map((r) => r.name));
        for (const l of t.listeners) {
          for (const r of references(l).routes) expect(routeNames, `${l.name} → RDS ${r}`).toContain(r);
        }
      });
    }
  }
});

describe("cluster references line up with the clusters translator", () => {
  // Cases whose point is a broken reference (reported) are left out.
  const clean = [
    "listeners-outbound",
    "listeners-registry-only",
    "listeners-inbound",
    "listeners-conflicts",
    "sidecar-egress-scoping",
    "tcp-traffic-shifting",
    "tls-egress",
  ];
  for (const c of clean) {
    const text = readFileSync(join(IN, `${c}.yaml`), "utf8");
    for (const proxy of proxiesOf(text).filter((p) => p.class === "sidecar")) {
      it(`${c} for ${proxy.namespace}/${JSON.stringify(proxy.labels)}`, () => {
        const t = translateProxy(load(text, `${c}.yaml`), proxy);
        const clusterNames = new Set(t.clusters.map((x) => x.name));
        for (const l of t.listeners) {
          for (const name of references(l).clusters) expect(clusterNames, `${l.name} → ${name}`).toContain(name);
        }
      });
    }
  }
});

describe("outbound traffic policy", () => {
  const yaml = `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: open }
spec:
  outboundTrafficPolicy: { mode: ALLOW_ANY }
`;
  const registryOnly: MeshConfig = { ...DEFAULT_MESH_CONFIG, outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } };
  const catchAll = (ls: Listener[]) => {
    const vo = ls.find((l) => l.name === "virtualOutbound");
    return references({ ...vo, filter_chains: [] }).clusters;
  };

  it("sends unknown destinations to BlackHoleCluster when MeshConfig says REGISTRY_ONLY", () => {
    const t = translateProxy(load(yaml, "inline.yaml", registryOnly), SIDECAR);
    expect(catchAll(t.listeners)).toEqual(["BlackHoleCluster"]);
  });

  it("lets a Sidecar's own mode override MeshConfig", () => {
    const t = translateProxy(load(yaml, "inline.yaml", registryOnly), { ...SIDECAR, namespace: "open" });
    expect(catchAll(t.listeners)).toEqual(["PassthroughCluster"]);
  });

  it("passes unknown destinations through by default (ALLOW_ANY)", () => {
    expect(catchAll(translateProxy(load(""), SIDECAR).listeners)).toEqual(["PassthroughCluster"]);
  });
});

describe("filter chain matching", () => {
  it("masks CIDR addresses to their prefix and rejects malformed ones", () => {
    expect(cidrRange("10.1.2.3/8")).toEqual({ address_prefix: "10.0.0.0", prefix_len: { value: 8 } });
    expect(cidrRange("192.0.2.7")).toEqual({ address_prefix: "192.0.2.7", prefix_len: { value: 32 } });
    expect(cidrRange("2001:db8::/32")).toEqual({ address_prefix: "2001:db8::", prefix_len: { value: 32 } });
    expect(cidrRange("10.0.0.0/33")).toBeUndefined();
    expect(cidrRange("not-a-cidr")).toBeUndefined();
  });

  it("treats chains sharing a value on every match level as overlapping, as Envoy does", () => {
    const c = (o: Partial<ChainOpts>): ChainOpts => ({ filters: [], ...o });
    expect(chainsOverlap(c({ sniHosts: ["a", "b"] }), c({ sniHosts: ["b"] }))).toBe(true);
    expect(chainsOverlap(c({ sniHosts: ["a"] }), c({ sniHosts: ["b"] }))).toBe(false);
    expect(chainsOverlap(c({}), c({ sniHosts: ["a"] }))).toBe(false);
    expect(chainsOverlap(c({ destinationCidrs: ["10.1.0.0/16"] }), c({ destinationCidrs: ["10.1.9.9/16"] }))).toBe(
      true,
    );
    expect(chainsOverlap(c({}), c({ applicationProtocols: ["h2c"], transportProtocol: "raw_buffer" }))).toBe(false);
  });
});

describe("analyzeSidecarsAndL4Routes", () => {
  const diagnose = (c: string) =>
    analyzeSidecarsAndL4Routes(load(readFileSync(join(IN, `${c}.yaml`), "utf8"), `${c}.yaml`)).map(
      (d) => `${d.code} ${d.severity} ${d.object?.kind} ${d.object?.namespace}/${d.object?.name} ${d.field ?? ""}`,
    );

  it("finds nothing to report in Istio's TCP traffic-shifting task", () => {
    expect(diagnose("tcp-traffic-shifting")).toEqual([]);
  });

  it("finds nothing to report in plain egress scoping and outbound traffic policies", () => {
    expect(diagnose("sidecar-egress-scoping")).toEqual([]);
    expect(diagnose("sidecar-root-default")).toEqual([]);
    expect(diagnose("listeners-registry-only")).toEqual([]);
  });

  it("reports ports without a protocol (UDP ports are reported by the clusters translator)", () => {
    expect(diagnose("listeners-outbound")).toEqual(["TRL3322 warning ServiceEntry default/metrics-push spec.ports[2]"]);
  });

  it("reports a workload port that is one of the sidecar's own, and its outbound port", () => {
    expect(diagnose("listeners-inbound")).toEqual([
      "TRL3324 warning ServiceEntry default/reviews spec.ports[4]",
      "TRL3323 warning ServiceEntry default/reviews spec.ports[4]",
    ]);
  });

  it("reports wildcard port collisions", () => {
    expect(diagnose("listeners-conflicts")).toEqual([
      "TRL3320 warning ServiceEntry default/b-queue spec.ports",
      "TRL3320 info ServiceEntry default/d-other spec.ports",
    ]);
  });

  it("reports what a Sidecar asks for that is not honoured", () => {
    expect(diagnose("sidecar-listeners")).toEqual([
      "TRL3304 warning Sidecar shop/cart spec.egress[2].bind",
      "TRL3308 warning Sidecar shop/cart spec.ingress[0].defaultEndpoint",
      "TRL3308 warning Sidecar shop/cart spec.ingress[1].defaultEndpoint",
      "TRL3305 warning Sidecar shop/cart spec.inboundConnectionPool",
      "TRL3305 warning Sidecar shop/cart spec.outboundTrafficPolicy.egressProxy",
    ]);
  });

  it("reports broken tcp route references with their field paths", () => {
    expect(diagnose("tcp-routes")).toEqual([
      "TRL3314 warning VirtualService default/archive spec.tcp[0].match[0].sourceSubnet",
      "TRL3316 warning VirtualService default/archive spec.tcp[0].route",
      "TRL3311 warning VirtualService default/archive spec.tcp[0].route[0].destination.subset",
      "TRL3310 warning VirtualService default/archive spec.tcp[0].route[1].destination.host",
      "TRL3312 warning VirtualService default/archive spec.tcp[1].route[0].destination.port.number",
      "TRL3313 error VirtualService default/db spec.tcp[1].match[0].destinationSubnets[1]",
    ]);
  });

  it("reports a TLS match that only applies to a gateway", () => {
    expect(diagnose("tls-egress")).toEqual([
      "TRL3315 info VirtualService default/direct-cnn-through-egress-gateway spec.tls[1].match[0].gateways",
    ]);
  });

  it("reports malformed Sidecar hosts, listener order and duplicate ports", () => {
    const yaml = `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: a, namespace: web }
spec:
  egress:
  - hosts: ["web", "./*"]
  - port: { number: 80, protocol: HTTP, name: http }
    hosts: ["./*"]
  - port: { number: 80, protocol: HTTP, name: http }
    bind: not-an-ip
    hosts: ["./*"]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: b, namespace: web }
spec: {}
`;
    expect(analyzeSidecarsAndL4Routes(load(yaml)).map((d) => `${d.code} ${d.object?.name} ${d.field ?? ""}`)).toEqual([
      "TRL3301 a spec.egress[0].hosts[0]",
      "TRL3302 a spec.egress[0]",
      "TRL3303 a spec.egress[2].port.number",
      "TRL3306 a spec.egress[2].bind",
      "TRL3307 b ",
    ]);
  });
});
