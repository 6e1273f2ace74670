// The proxyless route configurations of every VirtualService golden case, and
// the proxyless HTTP filter chain, checked by @grpc/grpc-js-xds's own resource
// validators — the code a real client runs on each RDS/LDS response — so a
// route grpc-js would NACK (a redirect, a fault without percentage, a zero
// weight split, a back-off without base interval…) fails here.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEFAULT_MESH_CONFIG } from "../../config/mesh-config.js";
import { httpConnectionManager } from "../../envoy/any.js";
import { LISTENER, ROUTE } from "../../envoy/type-urls.js";
import { buildSnapshot } from "../../model/snapshot.js";
import { parseYamlFile } from "../../sources/file/parse-file.js";
import { encodeResource } from "../../xds/resource.js";
import { httpFilters } from "../filters/http-filters.js";
import { type ProxyTarget, prepare, translateProxy } from "../index.js";

const require = createRequire(import.meta.url);
// Registers grpc-js-xds's HTTP filters (router, fault) with its validators, as a client does.
(require("@grpc/grpc-js-xds") as { register(): void }).register();
type Decoded = { name: string; error?: string };
type ResourceType = { decode(context: unknown, resource: { type_url: string; value: Uint8Array }): Decoded };
const { RouteConfigurationResourceType } =
  require("@grpc/grpc-js-xds/build/src/xds-resource-type/route-config-resource-type.js") as {
    RouteConfigurationResourceType: { get(): ResourceType };
  };
const { ListenerResourceType } = require("@grpc/grpc-js-xds/build/src/xds-resource-type/listener-resource-type.js") as {
  ListenerResourceType: { get(): ResourceType };
};

const IN = join(dirname(fileURLToPath(import.meta.url)), "../testdata/in");
const CONTEXT = { server: { serverUri: "trellis", serverFeatures: [] } };

function grpcDecode(type: ResourceType, typeUrl: string, name: string, resource: object): Decoded {
  const enc = encodeResource(typeUrl, name, resource);
  if (!enc.ok) throw new Error(enc.error);
  return type.decode(CONTEXT, { type_url: typeUrl, value: Buffer.from(enc.value.bytes) });
}

function proxiesOf(text: string): ProxyTarget[] {
  const m = text.match(/^# proxies: (.*)$/m);
  const listed = m?.[1] ? (JSON.parse(m[1]) as ProxyTarget[]) : [];
  const proxyless = listed.filter((p) => p.class === "proxyless-grpc");
  return proxyless.length > 0 ? proxyless : [{ class: "proxyless-grpc", namespace: "default", labels: {} }];
}

describe("grpc-js-xds accepts proxyless route configurations", () => {
  const cases = readdirSync(IN)
    .filter((f) => f.startsWith("vs-") && f.endsWith(".yaml"))
    .sort();
  for (const file of cases) {
    it(file, () => {
      const text = readFileSync(join(IN, file), "utf8");
      const loaded = parseYamlFile(file, text);
      const { snapshot } = buildSnapshot(undefined, loaded.objects, loaded.diagnostics);
      const { inputs } = prepare(snapshot, DEFAULT_MESH_CONFIG);
      for (const proxy of proxiesOf(text)) {
        const routes = translateProxy(inputs, proxy).routes;
        expect(routes.length).toBeGreaterThan(0);
        for (const rc of routes) {
          const decoded = grpcDecode(RouteConfigurationResourceType.get(), ROUTE, rc.name ?? "", rc);
          expect(decoded.error, `${rc.name}`).toBeUndefined();
        }
      }
    });
  }

  it("accepts the proxyless HTTP filter chain (fault, router)", () => {
    const listener = {
      name: "reviews.default.svc.cluster.local:9080",
      api_listener: {
        api_listener: httpConnectionManager({
          stat_prefix: "x",
          rds: { route_config_name: "x", config_source: { ads: {}, resource_api_version: "V3" } },
          http_filters: httpFilters("proxyless-grpc"),
        }),
      },
    };
    const decoded = grpcDecode(ListenerResourceType.get(), LISTENER, listener.name, listener);
    expect(decoded.error).toBeUndefined();
  });
});
