// Golden tests for translate/: testdata/in/<case>.yaml → testdata/out/<case>.<class>.yaml
// for each proxy class. Outputs are canonical proto3 JSON decoded from the
// encoded bytes, with sorted keys; every resource is also checked strictly
// against Envoy's protos (no unknown field). UPDATE_GOLDEN=1 rewrites the
// outputs and deletes orphans.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { toProtoJson } from "../envoy/proto-json.js";
import { checkProtoObject } from "../envoy/proto-object.js";
import { CLUSTER, ENDPOINT, LISTENER, messageNameOf, ROUTE } from "../envoy/type-urls.js";
import { formatDiagnostic } from "../model/diagnostic.js";
import { buildSnapshot } from "../model/snapshot.js";
import { parseYamlFile } from "../sources/file/parse-file.js";
import { encodeResource } from "../xds/resource.js";
import { type ProxyClass, translateSnapshot } from "./index.js";

const here = dirname(fileURLToPath(import.meta.url));
const IN = join(here, "testdata/in");
const OUT = join(here, "testdata/out");
const UPDATE = process.env.UPDATE_GOLDEN === "1";
const CLASSES: ProxyClass[] = ["proxyless-grpc", "sidecar"];

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

function render(caseName: string, cls: ProxyClass): string {
  const file = `${caseName}.yaml`;
  const loaded = parseYamlFile(file, readFileSync(join(IN, file), "utf8"));
  const { snapshot } = buildSnapshot(undefined, loaded.objects, loaded.diagnostics);
  const t = translateSnapshot(snapshot, cls);
  const section = (typeUrl: string, items: object[], nameOf: (o: never) => string) =>
    items.map((item) => {
      const name = nameOf(item as never);
      // Every field the translator writes must be known to Envoy's schema.
      const problems = checkProtoObject(messageNameOf(typeUrl), item);
      if (problems.length > 0) throw new Error(`${name}: ${problems.join("; ")}`);
      const enc = encodeResource(typeUrl, name, item);
      if (!enc.ok) throw new Error(enc.error);
      return toProtoJson(messageNameOf(typeUrl), enc.value.bytes);
    });
  const doc = {
    clusters: section(CLUSTER, t.clusters, (c: { name: string }) => c.name),
    endpoints: section(ENDPOINT, t.endpoints, (c: { cluster_name: string }) => c.cluster_name),
    listeners: section(LISTENER, t.listeners, (c: { name: string }) => c.name),
    routes: section(ROUTE, t.routes, (c: { name: string }) => c.name),
    diagnostics: [...loaded.diagnostics, ...t.diagnostics].map(formatDiagnostic),
  };
  return YAML.stringify(sortKeys(doc), { lineWidth: 0 });
}

const cases = readdirSync(IN)
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => f.slice(0, -".yaml".length))
  .sort();
const expected = new Set(cases.flatMap((c) => CLASSES.map((cls) => `${c}.${cls}.yaml`)));

describe("translate golden files", () => {
  for (const c of cases) {
    for (const cls of CLASSES) {
      it(`${c} for ${cls}`, () => {
        const out = join(OUT, `${c}.${cls}.yaml`);
        const actual = render(c, cls);
        if (UPDATE) writeFileSync(out, actual);
        expect(existsSync(out), `${out} missing; run with UPDATE_GOLDEN=1`).toBe(true);
        expect(actual).toBe(readFileSync(out, "utf8"));
      });
    }
  }

  it("has no orphaned golden outputs", () => {
    const orphans = readdirSync(OUT).filter((f) => !expected.has(f));
    if (UPDATE) for (const f of orphans) rmSync(join(OUT, f));
    else expect(orphans).toEqual([]);
  });
});
