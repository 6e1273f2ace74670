// The layered translation (layers.ts) must equal translateProxy for every
// golden case and proxy — also for proxies carrying labels and a locality that
// no rule selects on, which the layers cut away: whatever a proxy's layers
// share with another proxy's, it would have got on its own.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEFAULT_MESH_CONFIG, type MeshConfig, parseMeshConfig } from "../config/mesh-config.js";
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from "../envoy/type-urls.js";
import { buildSnapshot } from "../model/snapshot.js";
import { parseYamlFile } from "../sources/file/parse-file.js";
import { encodeResource } from "../xds/resource.js";
import {
  combineListeners,
  layerTargets,
  type ProxyTarget,
  prepare,
  translateEndpoints,
  translateInbound,
  translateOutbound,
  translateProxy,
} from "./index.js";

const IN = join(dirname(fileURLToPath(import.meta.url)), "testdata/in");

function meshOf(text: string): MeshConfig {
  const m = text.match(/^# mesh: (.*)$/m);
  if (!m?.[1]) return DEFAULT_MESH_CONFIG;
  const parsed = parseMeshConfig(JSON.parse(m[1]));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
}

function proxiesOf(text: string): ProxyTarget[] {
  const m = text.match(/^# proxies: (.*)$/m);
  const listed: ProxyTarget[] = m?.[1]
    ? JSON.parse(m[1])
    : [
        { class: "proxyless-grpc", namespace: "default", labels: {} },
        { class: "sidecar", namespace: "default", labels: {} },
      ];
  // The same proxies with labels no rule names and a locality, as real pods have.
  const noisy = listed.map((p) => ({
    ...p,
    labels: { ...p.labels, "pod-template-hash": "7f9c", "app.kubernetes.io/instance": "x" },
    locality: "us-east1/us-east1-b",
  }));
  return [...listed, ...noisy];
}

/** Resources by type as name → encoded content version. */
function versions(t: { clusters: object[]; endpoints: object[]; listeners: object[]; routes: object[] }) {
  const of = (typeUrl: string, items: object[], nameOf: (o: never) => string) =>
    Object.fromEntries(
      items
        .map((item) => {
          const name = nameOf(item as never);
          const enc = encodeResource(typeUrl, name, item);
          if (!enc.ok) throw new Error(enc.error);
          return [name, enc.value.version] as const;
        })
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
  return {
    clusters: of(CLUSTER, t.clusters, (c: { name: string }) => c.name),
    endpoints: of(ENDPOINT, t.endpoints, (c: { cluster_name: string }) => c.cluster_name),
    listeners: of(LISTENER, t.listeners, (c: { name: string }) => c.name),
    routes: of(ROUTE, t.routes, (c: { name: string }) => c.name),
  };
}

const cases = readdirSync(IN)
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => f.slice(0, -".yaml".length))
  .sort();

describe("layered translation", () => {
  for (const c of cases) {
    it(`${c}: the three layers assemble to exactly what translateProxy gives each proxy`, () => {
      const text = readFileSync(join(IN, `${c}.yaml`), "utf8");
      const loaded = parseYamlFile(`${c}.yaml`, text);
      const { inputs } = prepare(buildSnapshot(undefined, loaded.objects).snapshot, meshOf(text));
      for (const proxy of proxiesOf(text)) {
        const targets = layerTargets(inputs, proxy);
        const out = translateOutbound(inputs, targets.outbound);
        const inb = translateInbound(inputs, targets.inbound);
        const layered = {
          clusters: [...out.clusters, ...inb.clusters],
          endpoints: translateEndpoints(inputs, targets.endpoints),
          listeners: combineListeners(proxy.class, out.listeners, inb.listeners),
          routes: out.routes,
        };
        expect(versions(layered), JSON.stringify(proxy)).toEqual(versions(translateProxy(inputs, proxy)));
      }
    });
  }

  for (const c of cases) {
    it(`${c}: neither inbound nor endpoint layers depend on VirtualServices (changes.ts)`, () => {
      const text = readFileSync(join(IN, `${c}.yaml`), "utf8");
      const loaded = parseYamlFile(`${c}.yaml`, text);
      if (loaded.objects.some((o) => o.object.kind === "Sidecar")) return; // reusableAfterRoutingChange excludes them
      const mesh = meshOf(text);
      const all = prepare(buildSnapshot(undefined, loaded.objects).snapshot, mesh).inputs;
      const noVs = loaded.objects.filter((o) => o.object.kind !== "VirtualService");
      const withoutVs = prepare(buildSnapshot(undefined, noVs).snapshot, mesh).inputs;
      for (const proxy of proxiesOf(text)) {
        const inbound = (inputs: typeof all) => {
          const t = translateInbound(inputs, layerTargets(inputs, proxy).inbound);
          return versions({ clusters: t.clusters, listeners: t.listeners, endpoints: [], routes: [] });
        };
        const eds = (inputs: typeof all) =>
          versions({
            clusters: [],
            listeners: [],
            routes: [],
            endpoints: translateEndpoints(inputs, layerTargets(all, proxy).endpoints),
          });
        expect(inbound(withoutVs), JSON.stringify(proxy)).toEqual(inbound(all));
        expect(eds(withoutVs), JSON.stringify(proxy)).toEqual(eds(all));
      }
    });
  }

  it("cuts labels no rule selects on out of every layer key, so pods of one deployment share layers", () => {
    const text = readFileSync(join(IN, `${cases[0]}.yaml`), "utf8");
    const loaded = parseYamlFile("x.yaml", text);
    const { inputs } = prepare(buildSnapshot(undefined, loaded.objects).snapshot, DEFAULT_MESH_CONFIG);
    const a = layerTargets(inputs, { class: "sidecar", namespace: "default", labels: { "pod-template-hash": "a" } });
    const b = layerTargets(inputs, { class: "sidecar", namespace: "default", labels: { "pod-template-hash": "b" } });
    expect(a.keys).toEqual(b.keys);
  });
});
