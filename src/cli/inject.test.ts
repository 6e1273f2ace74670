// `trellis inject`: golden files webhook/testdata/inject/<case>.yaml →
// <case>.out.yaml (the command's stdout; a line `# mesh: {...}` in the input
// sets MeshConfig; UPDATE_GOLDEN=1 rewrites outputs and deletes orphans), then
// the command as a user runs it: files, stdin, -o, errors with file and
// document index, and one run of the built CLI (`npm run build` first, as
// `npm test` does).

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { type CommandRun, runCommand } from "../../test/support/run-command.js";
import { REPO, runTrellis } from "../../test/support/trellis-process.js";
import { defaultInjectionConfig, type InjectionConfig, JOB_WARNING, type Pod } from "../../webhook/inject/index.js";
import { parseMeshConfig } from "../config/mesh-config.js";
import { checkProtoJson } from "../envoy/proto-json.js";
import { injectCommand, injectManifests } from "./inject.js";

const DIR = join(REPO, "webhook/testdata/inject");
const UPDATE = process.env.UPDATE_GOLDEN === "1";
const cfg = defaultInjectionConfig();

function configOf(text: string): InjectionConfig {
  const mesh = parseMeshConfig(JSON.parse(text.match(/^# mesh: (.*)$/m)?.[1] ?? "{}"));
  if (!mesh.ok) throw new Error(JSON.stringify(mesh.errors));
  return defaultInjectionConfig(mesh.value);
}

/** Every pod (template) in a manifest stream that has the proxy. */
function injectedPods(yaml: string): Pod[] {
  const pods: Pod[] = [];
  const visit = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      const spec = o.spec as Pod["spec"] | undefined;
      // Pods injected by this run (the left-alone case has one whose proxy is a stand-in).
      const all = [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])];
      if (all.some((c) => c.name === "trellis-proxy" && Array.isArray(c.args))) {
        pods.push(o as Pod);
      }
      Object.values(o).forEach(visit);
    }
  };
  for (const doc of YAML.parseAllDocuments(yaml)) visit(doc.toJS());
  return pods;
}

const cases = readdirSync(DIR)
  .filter((f) => f.endsWith(".yaml") && !f.endsWith(".out.yaml"))
  .map((f) => f.slice(0, -".yaml".length))
  .sort();

describe("trellis inject golden files", () => {
  for (const name of cases) {
    it(`${name} → ${name}.out.yaml`, () => {
      const input = readFileSync(join(DIR, `${name}.yaml`), "utf8");
      const result = injectManifests(input, `${name}.yaml`, configOf(input));
      if (!result.ok) throw new Error(result.errors.join("\n"));
      const path = join(DIR, `${name}.out.yaml`);
      if (UPDATE) writeFileSync(path, result.output);
      expect(existsSync(path), `${path} missing; run with UPDATE_GOLDEN=1`).toBe(true);
      expect(result.output).toBe(readFileSync(path, "utf8"));

      // Injecting the output again changes nothing, and every bootstrap is an Envoy Bootstrap.
      const again = injectManifests(result.output, `${name}.out.yaml`, configOf(input));
      expect(again.ok && again.output).toBe(result.output);
      for (const pod of injectedPods(result.output)) {
        const proxy = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find(
          (c) => c.name === "trellis-proxy",
        );
        const args = proxy?.args as string[];
        const json = (args[args.indexOf("--config-yaml") + 1] as string).replace(/\$\(([A-Z_]+)\)/g, "x");
        const checked = checkProtoJson("envoy.config.bootstrap.v3.Bootstrap", JSON.parse(json));
        expect(checked.ok ? [] : checked.errors).toEqual([]);
      }
    });
  }

  it("has no orphaned golden outputs", () => {
    const expected = new Set(cases.flatMap((c) => [`${c}.yaml`, `${c}.out.yaml`]));
    const orphans = readdirSync(DIR).filter((f) => !expected.has(f));
    if (UPDATE) for (const f of orphans) rmSync(join(DIR, f));
    else expect(orphans).toEqual([]);
  });
});

describe("injectManifests", () => {
  const read = (name: string) => readFileSync(join(DIR, name), "utf8");

  it("keeps document order and comments outside what it changes", () => {
    const out = injectManifests(read("seed-deployment.yaml"), "seed-deployment.yaml", cfg);
    if (!out.ok) throw new Error(out.errors.join("\n"));
    expect(out.output).toContain('sidecar.istio.io/inject: "true" # 启用Sidecar自动注入');
    expect(out.output.startsWith("# The founding document's Deployment example")).toBe(true);
    const kinds = YAML.parseAllDocuments(out.output).map((d) => d.get("kind"));
    expect(kinds).toEqual(["Deployment", "Service"]);
    expect(out.notes).toEqual([]);
  });

  it("says which workloads it left alone, and why", () => {
    const out = injectManifests(read("left-alone.yaml"), "left-alone.yaml", cfg);
    expect(out.ok).toBe(true);
    expect(out.notes).toEqual([
      "Deployment opted-out (left-alone.yaml document 0): not injected: pod label sidecar.istio.io/inject=false",
      "DaemonSet node-exporter (left-alone.yaml document 1): not injected: host-network pod (spec.hostNetwork: true)",
      "Deployment kube-system/coredns (left-alone.yaml document 2): not injected: namespace kube-system is never injected",
      "Pod injected-before (left-alone.yaml document 3): not injected: already injected (annotation sidecar.trellis.dev/status present)",
    ]);
  });

  it("warns that a Job or CronJob with a regular sidecar never completes", () => {
    const out = injectManifests(read("all-kinds.yaml"), "all-kinds.yaml", cfg);
    expect(out.notes).toEqual([
      `Job shop/migrate (all-kinds.yaml document 5): warning: ${JOB_WARNING}`,
      `CronJob shop/report (all-kinds.yaml document 6): warning: ${JOB_WARNING}`,
    ]);
  });

  it("refuses invalid annotations, naming the object, document and field, and writes nothing", () => {
    const text = `apiVersion: v1
kind: ConfigMap
metadata: {name: fine}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata:
      annotations:
        traffic.sidecar.istio.io/excludeOutboundPorts: "5432,postgres"
        sidecar.istio.io/interceptionMode: TPROXY
    spec:
      containers: [{name: web, image: web:1}]
`;
    const out = injectManifests(text, "app.yaml", cfg);
    expect(out).toEqual({
      ok: false,
      errors: [
        'Deployment shop/web (app.yaml document 1) spec.template.metadata.annotations["traffic.sidecar.istio.io/excludeOutboundPorts"]: "postgres" is not a port (1-65535)',
      ],
      notes: [
        "Deployment shop/web (app.yaml document 1): warning: annotation sidecar.istio.io/interceptionMode is ignored: only REDIRECT capture is implemented",
      ],
    });
  });

  it("refuses YAML that does not parse, with the document index and position", () => {
    const out = injectManifests("kind: ConfigMap\n---\nkind: Pod\nspec: [unclosed\n", "bad.yaml", cfg);
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.errors).toHaveLength(1);
    expect(out.errors[0]).toMatch(/^bad\.yaml document 1: .*line \d+, column \d+/);
  });

  it("passes an empty stream and documents without a pod template through", () => {
    expect(injectManifests("", "empty.yaml", cfg)).toEqual({ ok: true, output: "", notes: [] });
    const text = "# just a comment\nfoo: [1, 2]\n---\n- a\n- b\n";
    const out = injectManifests(text, "x.yaml", cfg);
    expect(out.ok && YAML.parseAllDocuments(out.output).map((d) => d.toJS())).toEqual([{ foo: [1, 2] }, ["a", "b"]]);
  });

  it("replaces the whole template when an alias is in the way", () => {
    const text = `apiVersion: v1
kind: List
items:
  - &pod
    apiVersion: v1
    kind: Pod
    metadata: {name: a}
    spec: {containers: [{name: app, image: app:1}]}
  - *pod
`;
    const out = injectManifests(text, "alias.yaml", cfg);
    if (!out.ok) throw new Error(out.errors.join("\n"));
    const items = (YAML.parse(out.output) as { items: Pod[] }).items;
    for (const pod of items) expect(pod.spec?.containers?.map((c) => c.name)).toEqual(["app", "trellis-proxy"]);
  });
});

type Run = CommandRun;

const run = (args: string[], stdin = ""): Promise<Run> => runCommand(injectCommand, ["inject", ...args], stdin);

describe("trellis inject (command)", () => {
  const seed = join(DIR, "seed-deployment.yaml");

  it("writes to stdout, or to -o", async () => {
    const expected = readFileSync(join(DIR, "seed-deployment.out.yaml"), "utf8");
    expect(await run(["-f", seed])).toEqual({ code: 0, stdout: expected, stderr: "" });
    const dir = mkdtempSync(join(tmpdir(), "trellis-inject-"));
    const out = join(dir, "out.yaml");
    expect(await run(["-f", seed, "-o", out])).toEqual({ code: 0, stdout: "", stderr: "" });
    expect(readFileSync(out, "utf8")).toBe(expected);
  });

  it("reads stdin with -f -", async () => {
    const r = await run(
      ["-f", "-"],
      "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a}]}\n",
    );
    expect(r.code).toBe(0);
    expect(injectedPods(r.stdout)).toHaveLength(1);
  });

  it("takes the xDS address, control-plane namespace and MeshConfig from its options", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-inject-"));
    const mesh = join(dir, "mesh.yaml");
    writeFileSync(mesh, "defaultConfig:\n  proxy:\n    image: registry.local/envoy:1\n");
    const pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: mesh}\nspec: {containers: [{name: a}]}\n";
    const r = await run(["-f", "-", "--mesh-config", mesh, "--xds-address", "10.0.0.9:15012"], pod);
    expect(r.code).toBe(0);
    const [injected] = injectedPods(r.stdout);
    const proxy = injected?.spec?.containers?.find((c) => c.name === "trellis-proxy");
    expect(proxy?.image).toBe("registry.local/envoy:1");
    expect(JSON.stringify(proxy?.args)).toContain('\\"address\\":\\"10.0.0.9\\",\\"port_value\\":15012');
    const skipped = await run(["-f", "-", "--control-plane-namespace", "mesh"], pod);
    expect(skipped.stderr).toBe(
      "trellis inject: Pod mesh/p (<stdin> document 0): not injected: namespace mesh is the control plane's\n",
    );
  });

  it("fails with a clear message for a missing file, bad options or bad input", async () => {
    expect(await run(["-f", "/nonexistent/app.yaml"])).toEqual({
      code: 1,
      stdout: "",
      stderr: "trellis inject: -f /nonexistent/app.yaml: no such file\n",
    });
    const badAddress = await run(["-f", seed, "--xds-address", "nope"]);
    expect(badAddress.code).not.toBe(0);
    expect(badAddress.stderr).toContain("nope");
    const dir = mkdtempSync(join(tmpdir(), "trellis-inject-"));
    const mesh = join(dir, "mesh.yaml");
    writeFileSync(mesh, "injection: {nativeSidecar: true}\n");
    const badMesh = await run(["-f", seed, "--mesh-config", mesh]);
    expect(badMesh.code).toBe(1);
    expect(badMesh.stderr).toContain(`--mesh-config ${mesh}: injection.nativeSidecar: unknown field`);
    const badYaml = await run(["-f", "-"], "a: [\n");
    expect(badYaml.code).toBe(1);
    expect(badYaml.stdout).toBe("");
    expect(badYaml.stderr).toMatch(/^trellis inject: error: <stdin> document 0: /);
  });

  it("is registered in the built CLI", async () => {
    const r = await runTrellis(["inject", "-f", seed]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(DIR, "seed-deployment.out.yaml"), "utf8"));
  });
});
