// Mutual TLS beyond the golden files: PeerAuthentication precedence and
// inheritance as Istio composes them, and grpc-js-xds's own validators (the
// code a proxyless client or XdsServer runs on every LDS/CDS response)
// accepting the listeners and clusters Trellis sends proxyless gRPC in every
// mTLS golden case.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEFAULT_MESH_CONFIG, type MeshConfig, parseMeshConfig } from "../../config/mesh-config.js";
import { CLUSTER, LISTENER } from "../../envoy/type-urls.js";
import { buildSnapshot } from "../../model/snapshot.js";
import { parseYamlFile } from "../../sources/file/parse-file.js";
import { encodeResource } from "../../xds/resource.js";
import { type ProxyTarget, prepare, translateProxy } from "../index.js";
import { grpcServerMode } from "../listeners/grpc-server.js";
import { namespaceMtlsMode, workloadMtls } from "./peer-authentication.js";

const require = createRequire(import.meta.url);
(require("@grpc/grpc-js-xds") as { register(): void }).register();
type Decoded = { name: string; error?: string };
type ResourceType = { decode(context: unknown, resource: { type_url: string; value: Uint8Array }): Decoded };
const { ListenerResourceType } = require("@grpc/grpc-js-xds/build/src/xds-resource-type/listener-resource-type.js") as {
  ListenerResourceType: { get(): ResourceType };
};
const { ClusterResourceType } = require("@grpc/grpc-js-xds/build/src/xds-resource-type/cluster-resource-type.js") as {
  ClusterResourceType: { get(): ResourceType };
};

const IN = join(dirname(fileURLToPath(import.meta.url)), "../testdata/in");

/** A bootstrap made by `trellis bootstrap --grpc --cert-dir`: provider instance `default`. */
const CONTEXT = {
  server: { serverUri: "trellis", serverFeatures: [] },
  bootstrap: {
    certificateProviders: {
      default: {
        pluginName: "file_watcher",
        config: { certificateFile: "c", privateKeyFile: "k", caCertificateFile: "r", refreshIntervalMs: 900_000 },
      },
    },
  },
};

function decode(type: ResourceType, typeUrl: string, name: string, resource: object): Decoded {
  const enc = encodeResource(typeUrl, name, resource);
  if (!enc.ok) throw new Error(enc.error);
  return type.decode(CONTEXT, { type_url: typeUrl, value: Buffer.from(enc.value.bytes) });
}

function inputsOf(text: string, file = "inline.yaml", mesh: MeshConfig = DEFAULT_MESH_CONFIG) {
  const loaded = parseYamlFile(file, text);
  expect(loaded.diagnostics).toEqual([]);
  return prepare(buildSnapshot(undefined, loaded.objects).snapshot, mesh).inputs;
}

const pa = (name: string, ns: string, spec: string, meta = "") =>
  `apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: ${name}, namespace: ${ns}${meta} }\nspec: ${spec}\n---\n`;

describe("PeerAuthentication precedence", () => {
  it("defaults to PERMISSIVE without any policy", () => {
    const inputs = inputsOf("");
    expect(workloadMtls(inputs.peerAuthentication, "default", {})).toEqual({ mode: "PERMISSIVE", ports: new Map() });
  });

  it("takes the narrowest level that sets a mode: workload, then namespace, then mesh", () => {
    const inputs = inputsOf(
      pa("mesh", "istio-system", "{ mtls: { mode: STRICT } }") +
        pa("ns", "a", "{ mtls: { mode: DISABLE } }") +
        pa("wl", "a", "{ selector: { matchLabels: { app: x } }, mtls: { mode: PERMISSIVE } }"),
    );
    const idx = inputs.peerAuthentication;
    expect(workloadMtls(idx, "a", { app: "x" }).mode).toBe("PERMISSIVE");
    expect(workloadMtls(idx, "a", { app: "y" }).mode).toBe("DISABLE");
    expect(workloadMtls(idx, "b", { app: "x" }).mode).toBe("STRICT");
    expect(namespaceMtlsMode(idx, "a")).toBe("DISABLE");
  });

  it("inherits through UNSET at every level, and port-level UNSET takes the workload's mode", () => {
    const inputs = inputsOf(
      pa("mesh", "istio-system", "{ mtls: { mode: STRICT } }") +
        pa("ns", "a", "{ mtls: { mode: UNSET } }") +
        pa(
          "wl",
          "a",
          '{ selector: { matchLabels: { app: x } }, portLevelMtls: { "80": { mode: UNSET }, "81": { mode: DISABLE } } }',
        ),
    );
    expect(workloadMtls(inputs.peerAuthentication, "a", { app: "x" })).toEqual({
      mode: "STRICT",
      ports: new Map([
        [80, "STRICT"],
        [81, "DISABLE"],
      ]),
    });
  });

  it("uses the oldest policy of a level by creationTimestamp, and name order without timestamps", () => {
    const inputs = inputsOf(
      pa("a", "ns1", "{ mtls: { mode: STRICT } }", ', creationTimestamp: "2026-02-01T00:00:00Z"') +
        pa("b", "ns1", "{ mtls: { mode: DISABLE } }", ', creationTimestamp: "2026-01-01T00:00:00Z"') +
        pa("a", "ns2", "{ mtls: { mode: STRICT } }") +
        pa("b", "ns2", "{ mtls: { mode: DISABLE } }"),
    );
    expect(namespaceMtlsMode(inputs.peerAuthentication, "ns1")).toBe("DISABLE");
    expect(namespaceMtlsMode(inputs.peerAuthentication, "ns2")).toBe("STRICT");
  });

  it("ignores selector policies in the root namespace and portLevelMtls without a selector, as Istio does", () => {
    const inputs = inputsOf(
      pa("root-wl", "istio-system", "{ selector: { matchLabels: { app: x } }, mtls: { mode: STRICT } }") +
        pa("ns", "a", '{ mtls: { mode: DISABLE }, portLevelMtls: { "80": { mode: STRICT } } }'),
    );
    expect(workloadMtls(inputs.peerAuthentication, "a", { app: "x" })).toEqual({ mode: "DISABLE", ports: new Map() });
    expect(workloadMtls(inputs.peerAuthentication, "istio-system", { app: "x" }).mode).toBe("PERMISSIVE");
  });

  it("treats an empty matchLabels as namespace-wide", () => {
    const inputs = inputsOf(pa("ns", "a", "{ selector: { matchLabels: {} }, mtls: { mode: STRICT } }"));
    expect(namespaceMtlsMode(inputs.peerAuthentication, "a")).toBe("STRICT");
  });

  it("gives gRPC servers a mode they can apply: PERMISSIVE is STRICT with a sidecar label, else DISABLE", () => {
    expect(grpcServerMode("PERMISSIVE", { "security.istio.io/tlsMode": "istio" })).toBe("STRICT");
    expect(grpcServerMode("PERMISSIVE", {})).toBe("DISABLE");
    expect(grpcServerMode("STRICT", {})).toBe("STRICT");
    expect(grpcServerMode("DISABLE", { "security.istio.io/tlsMode": "istio" })).toBe("DISABLE");
  });
});

function proxylessTargets(text: string): ProxyTarget[] {
  const m = text.match(/^# proxies: (.*)$/m);
  const listed = m?.[1] ? (JSON.parse(m[1]) as ProxyTarget[]) : [];
  const proxyless = listed.filter((p) => p.class === "proxyless-grpc");
  return proxyless.length > 0 ? proxyless : [{ class: "proxyless-grpc", namespace: "default", labels: {} }];
}

function meshOf(text: string): MeshConfig {
  const m = text.match(/^# mesh: (.*)$/m);
  if (!m?.[1]) return DEFAULT_MESH_CONFIG;
  const parsed = parseMeshConfig(JSON.parse(m[1]));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.value;
}

describe("grpc-js-xds accepts what proxyless gRPC gets in the mTLS cases", () => {
  const cases = readdirSync(IN)
    .filter((f) => (f.startsWith("mtls-") || f.startsWith("pa-")) && f.endsWith(".yaml"))
    .sort();
  for (const file of cases) {
    it(file, () => {
      const text = readFileSync(join(IN, file), "utf8");
      const inputs = inputsOf(text, file, meshOf(text));
      for (const proxy of proxylessTargets(text)) {
        const t = translateProxy(inputs, proxy);
        for (const l of t.listeners) {
          expect(decode(ListenerResourceType.get(), LISTENER, l.name ?? "", l).error, l.name).toBeUndefined();
        }
        for (const c of t.clusters) {
          expect(decode(ClusterResourceType.get(), CLUSTER, c.name ?? "", c).error, c.name).toBeUndefined();
        }
      }
    });
  }

  it("serves server listeners only to workloads a service selects, on both wildcard binds", () => {
    const text = readFileSync(join(IN, "mtls-proxyless-server.yaml"), "utf8");
    const inputs = inputsOf(text, "mtls-proxyless-server.yaml");
    const names = (labels: Record<string, string>) =>
      translateProxy(inputs, { class: "proxyless-grpc", namespace: "default", labels })
        .listeners.map((l) => l.name ?? "")
        .filter((n) => n.startsWith("grpc/server"));
    expect(names({})).toEqual([]);
    expect(names({ app: "echo-mesh" })).toEqual([
      "grpc/server?xds.resource.listening_address=0.0.0.0:50051",
      "grpc/server?xds.resource.listening_address=[::]:50051",
    ]);
  });
});
