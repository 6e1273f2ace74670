// analyzeVirtualServices over every VirtualService golden case
// (../testdata/in/vs-*.yaml): the diagnostics are reviewed in
// testdata/analyze-vs.txt (rewrite with `vitest -u`), next to the translation
// goldens they explain.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DEFAULT_MESH_CONFIG } from "../../config/mesh-config.js";
import { formatDiagnostic } from "../../model/diagnostic.js";
import { buildSnapshot } from "../../model/snapshot.js";
import { parseYamlFile } from "../../sources/file/parse-file.js";
import { prepare } from "../index.js";
import { analyzeVirtualServices } from "./analyze.js";
import { ROUTE_CODES } from "./codes.js";

const IN = join(dirname(fileURLToPath(import.meta.url)), "../testdata/in");

function analyze(file: string, text = readFileSync(join(IN, file), "utf8")) {
  const loaded = parseYamlFile(file, text);
  const { snapshot } = buildSnapshot(undefined, loaded.objects, loaded.diagnostics);
  const { inputs } = prepare(snapshot, DEFAULT_MESH_CONFIG);
  return { source: loaded.diagnostics, diagnostics: analyzeVirtualServices(inputs) };
}

describe("analyzeVirtualServices", () => {
  it("reports what each VirtualService case leaves out or references in vain", async () => {
    const cases = readdirSync(IN)
      .filter((f) => f.startsWith("vs-") && f.endsWith(".yaml"))
      .sort();
    const text = cases
      .map((f) => {
        const { source, diagnostics } = analyze(f);
        expect(source, `${f} must load without source diagnostics`).toEqual([]);
        return [`== ${f}`, ...diagnostics.map(formatDiagnostic)].join("\n");
      })
      .join("\n\n");
    await expect(`${text}\n`).toMatchFileSnapshot("./testdata/analyze-vs.txt");
  });

  it("has nothing to say about Istio's documented traffic-management examples", () => {
    for (const f of [
      "vs-canary.yaml",
      "vs-request-routing.yaml",
      "vs-fault-delay.yaml",
      "vs-fault-abort.yaml",
      "vs-traffic-shifting.yaml",
      "vs-timeouts.yaml",
      "vs-mirroring.yaml",
    ]) {
      expect(analyze(f).diagnostics, f).toEqual([]);
    }
  });

  it("uses only its own code range", () => {
    for (const code of Object.values(ROUTE_CODES)) expect(code).toMatch(/^TRL31\d\d$/);
    expect(new Set(Object.values(ROUTE_CODES)).size).toBe(Object.values(ROUTE_CODES).length);
  });

  it("reports a delegate naming a VirtualService in the root's namespace by default", () => {
    const { diagnostics } = analyze(
      "inline.yaml",
      `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: web, namespace: shop }
spec:
  hosts: [web.shop.svc.cluster.local]
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: web, namespace: shop }
spec:
  hosts: [web]
  http:
  - delegate: { name: web-routes }
`,
    );
    expect(diagnostics.map((d) => [d.code, d.field])).toEqual([
      [ROUTE_CODES.delegateNotFound, "spec.http[0].delegate"],
    ]);
    expect(diagnostics[0]?.message).toContain("shop/web-routes");
  });
});
