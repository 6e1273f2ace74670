// Golden tests for translate/: testdata/in/<case>.yaml → testdata/out/<case>.<class>.yaml
// for each proxy class. Outputs are canonical proto3 JSON decoded from the
// encoded bytes, with sorted keys; every resource is also checked strictly
// against Envoy's protos (no unknown field) and its PGV rules. UPDATE_GOLDEN=1 rewrites the
// outputs and deletes orphans.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { DEFAULT_MESH_CONFIG, type MeshConfig, parseMeshConfig } from "../config/mesh-config.js";
import { validateEnvoyMessage } from "../envoy/pgv.js";
import { toProtoJson } from "../envoy/proto-json.js";
import { checkProtoObject } from "../envoy/proto-object.js";
import { CLUSTER, ENDPOINT, LISTENER, messageNameOf, ROUTE } from "../envoy/type-urls.js";
import { formatDiagnostic } from "../model/diagnostic.js";
import { buildSnapshot } from "../model/snapshot.js";
import { parseYamlFile } from "../sources/file/parse-file.js";
import { encodeResource } from "../xds/resource.js";
import { type ProxyTarget, prepare, translateProxy } from "./index.js";

const here = dirname(fileURLToPath(import.meta.url));
const IN = join(here, "testdata/in");
const OUT = join(here, "testdata/out");
const UPDATE = process.env.UPDATE_GOLDEN === "1";
/**
 * The proxies a case is translated for: by default a proxyless client and a
 * sidecar in `default`; a case may list its own in a first-line comment
 * `# proxies: [{"class": "sidecar", "namespace": "web", "labels": {"app": "x"}}]`,
 * and MeshConfig settings in `# mesh: {...}`.
 */
const DEFAULT_PROXIES: ProxyTarget[] = [
  { class: "proxyless-grpc", namespace: "default", labels: {} },
  { class: "sidecar", namespace: "default", labels: {} },
];

/** MeshConfig overrides of a case, from a comment line `# mesh: {"enableAutoMtls": false}`; defaults otherwise. */
function meshOf(text: string): MeshConfig {
  const m = text.match(/^# mesh: (.*)$/m);
  if (!m?.[1]) return DEFAULT_MESH_CONFIG;
  const parsed = parseMeshConfig(JSON.parse(m[1]));
  if (!parsed.ok) throw new Error(`# mesh: ${JSON.stringify(parsed.errors)}`);
  return parsed.value;
}

function proxiesOf(text: string): ProxyTarget[] {
  const m = text.match(/^# proxies: (.*)$/m);
  return m?.[1] ? (JSON.parse(m[1]) as ProxyTarget[]) : DEFAULT_PROXIES;
}

function outputName(caseName: string, p: ProxyTarget): string {
  const labels = Object.entries(p.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  const extra = p.namespace === "default" && !labels ? "" : `.${p.namespace}${labels ? `.${labels}` : ""}`;
  // Label keys may have a prefix (`security.istio.io/tlsMode`): no directories in file names.
  return `${caseName}.${p.class}${extra.replaceAll("/", "_")}.yaml`;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}

function render(caseName: string, proxy: ProxyTarget): string {
  const file = `${caseName}.yaml`;
  const text = readFileSync(join(IN, file), "utf8");
  const loaded = parseYamlFile(file, text);
  const { snapshot } = buildSnapshot(undefined, loaded.objects, loaded.diagnostics);
  const { inputs, diagnostics } = prepare(snapshot, meshOf(text));
  const t = translateProxy(inputs, proxy);
  const section = (typeUrl: string, items: object[], nameOf: (o: never) => string) =>
    items.map((item) => {
      const name = nameOf(item as never);
      // Every field the translator writes must be known to Envoy's schema.
      const problems = checkProtoObject(messageNameOf(typeUrl), item);
      if (problems.length > 0) throw new Error(`${name}: ${problems.join("; ")}`);
      const enc = encodeResource(typeUrl, name, item);
      if (!enc.ok) throw new Error(enc.error);
      // ... and satisfy the PGV rules Envoy validates it with.
      const violations = validateEnvoyMessage(messageNameOf(typeUrl), enc.value.bytes);
      if (violations.length > 0) {
        throw new Error(`${name}: ${violations.map((v) => `${v.path} ${v.rule}: ${v.message}`).join("; ")}`);
      }
      return toProtoJson(messageNameOf(typeUrl), enc.value.bytes);
    });
  const doc = {
    clusters: section(CLUSTER, t.clusters, (c: { name: string }) => c.name),
    endpoints: section(ENDPOINT, t.endpoints, (c: { cluster_name: string }) => c.cluster_name),
    listeners: section(LISTENER, t.listeners, (c: { name: string }) => c.name),
    routes: section(ROUTE, t.routes, (c: { name: string }) => c.name),
    diagnostics: [...loaded.diagnostics, ...diagnostics].map(formatDiagnostic),
  };
  return YAML.stringify(sortKeys(doc), { lineWidth: 0 });
}

const cases = readdirSync(IN)
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => f.slice(0, -".yaml".length))
  .sort();
const plan = cases.flatMap((c) =>
  proxiesOf(readFileSync(join(IN, `${c}.yaml`), "utf8")).map((p) => ({ c, p, out: outputName(c, p) })),
);
const expected = new Set(plan.map((x) => x.out));

describe("translate golden files", () => {
  for (const { c, p, out } of plan) {
    it(`${c} → ${out}`, () => {
      const path = join(OUT, out);
      const actual = render(c, p);
      if (UPDATE) writeFileSync(path, actual);
      expect(existsSync(path), `${path} missing; run with UPDATE_GOLDEN=1`).toBe(true);
      expect(actual).toBe(readFileSync(path, "utf8"));
    });
  }

  it("has no orphaned golden outputs", () => {
    const orphans = readdirSync(OUT).filter((f) => !expected.has(f));
    if (UPDATE) for (const f of orphans) rmSync(join(OUT, f));
    else expect(orphans).toEqual([]);
  });
});
