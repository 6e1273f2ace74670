// Path normalisation, proven on the Envoy config: every HTTP connection
// manager of every sidecar golden output carries the normalisation that keeps
// `/a/../admin`, `//admin` and `/%2Fadmin` from walking past a DENY on
// `/admin*` (Envoy normalises before routing and before the RBAC filters see
// the path), and MeshConfig `pathNormalization` is honoured on both sides.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { DEFAULT_MESH_CONFIG, parseMeshConfig } from "../../config/mesh-config.js";
import { buildSnapshot } from "../../model/snapshot.js";
import { parseYamlFile } from "../../sources/file/parse-file.js";
import { prepare, translateProxy } from "../index.js";
import { pathNormalization } from "./path-normalization.js";

const OUT = join(dirname(fileURLToPath(import.meta.url)), "../testdata/out");
const HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

/** Every HttpConnectionManager config anywhere inside `v`. */
function hcms(v: unknown, out: Record<string, unknown>[] = []): Record<string, unknown>[] {
  if (Array.isArray(v)) for (const x of v) hcms(x, out);
  else if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o["@type"] === HCM) out.push(o);
    for (const x of Object.values(o)) hcms(x, out);
  }
  return out;
}

describe("path normalisation", () => {
  it("maps Istio's settings to Envoy's HCM fields, DEFAULT being DECODE_AND_MERGE_SLASHES", () => {
    expect(pathNormalization("NONE")).toEqual({
      normalize_path: { value: false },
      merge_slashes: false,
      path_with_escaped_slashes_action: "KEEP_UNCHANGED",
    });
    expect(pathNormalization("BASE")).toMatchObject({ normalize_path: { value: true }, merge_slashes: false });
    expect(pathNormalization("MERGE_SLASHES")).toMatchObject({
      merge_slashes: true,
      path_with_escaped_slashes_action: "KEEP_UNCHANGED",
    });
    const strict = {
      normalize_path: { value: true },
      merge_slashes: true,
      path_with_escaped_slashes_action: "UNESCAPE_AND_FORWARD",
    };
    expect(pathNormalization("DECODE_AND_MERGE_SLASHES")).toEqual(strict);
    expect(pathNormalization("DEFAULT")).toEqual(strict);
    expect(DEFAULT_MESH_CONFIG.pathNormalization.normalization).toBe("DEFAULT");
  });

  const sidecarOutputs = readdirSync(OUT).filter((f) => f.includes(".sidecar"));

  it("is on every HTTP connection manager of every sidecar golden output (inbound and outbound)", () => {
    let checked = 0;
    for (const file of sidecarOutputs) {
      const doc = YAML.parse(readFileSync(join(OUT, file), "utf8")) as { listeners: unknown[] };
      for (const hcm of hcms(doc.listeners)) {
        // proto3 JSON of the encoded bytes: merge_slashes true is written, the enum by name.
        expect(
          { n: hcm.normalize_path, m: hcm.merge_slashes, e: hcm.path_with_escaped_slashes_action },
          `${file} ${hcm.stat_prefix}`,
        ).toEqual({ n: true, m: true, e: "UNESCAPE_AND_FORWARD" });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  it("follows MeshConfig pathNormalization on inbound and outbound listeners", () => {
    const text = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: httpbin, namespace: foo }
spec:
  hosts: [httpbin.foo.svc.cluster.local]
  resolution: STATIC
  ports: [{ number: 8000, name: http, protocol: HTTP, targetPort: 80 }]
  workloadSelector: { labels: { app: httpbin } }
  endpoints: [{ address: 10.0.0.1 }]
`;
    const loaded = parseYamlFile("mesh.yaml", text);
    const snapshot = buildSnapshot(undefined, loaded.objects).snapshot;
    const seen = (normalization: string) => {
      const mesh = parseMeshConfig({ pathNormalization: { normalization } });
      if (!mesh.ok) throw new Error("bad mesh config");
      const { inputs } = prepare(snapshot, mesh.value);
      const t = translateProxy(inputs, { class: "sidecar", namespace: "foo", labels: { app: "httpbin" } });
      const found = hcms(t.listeners);
      expect(found.length).toBeGreaterThanOrEqual(2); // the inbound chain and the outbound listener
      return new Set(
        found.map((h) => JSON.stringify([h.normalize_path, h.merge_slashes, h.path_with_escaped_slashes_action])),
      );
    };
    expect(seen("BASE")).toEqual(new Set([JSON.stringify([{ value: true }, false, "KEEP_UNCHANGED"])]));
    expect(seen("MERGE_SLASHES")).toEqual(new Set([JSON.stringify([{ value: true }, true, "KEEP_UNCHANGED"])]));
    expect(seen("NONE")).toEqual(new Set([JSON.stringify([{ value: false }, false, "KEEP_UNCHANGED"])]));
    expect(parseMeshConfig({ pathNormalization: { normalization: "LAX" } }).ok).toBe(false);
  });
});
