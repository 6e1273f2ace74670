// Golden tests of the webhook's answer: webhook/testdata/admission/<case>.yaml
// (an AdmissionReview for a Pod CREATE, preceded by the pod's Namespace when
// the webhook could read it; a first-line comment `# mesh: {...}` sets
// MeshConfig) → <case>.patch.json: the decision and the JSONPatch, keys sorted.
// Each patch is also applied to the pod, must give injectPod's pod, must leave
// nothing to do on re-invocation, and its bootstrap must decode with Envoy's
// Bootstrap proto. UPDATE_GOLDEN=1 rewrites the outputs and deletes orphans.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { parseMeshConfig } from "../../src/config/mesh-config.js";
import { validateEnvoyMessage } from "../../src/envoy/pgv.js";
import { checkProtoJson } from "../../src/envoy/proto-json.js";
import { messageType } from "../../src/envoy/protos.js";
import {
  admissionPatch,
  applyPatch,
  defaultInjectionConfig,
  type InjectionConfig,
  injectPod,
  type NamespaceInfo,
  type Pod,
} from "./index.js";

const DIR = join(dirname(fileURLToPath(import.meta.url)), "../testdata/admission");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

interface Case {
  pod: Pod;
  namespace: NamespaceInfo | undefined;
  requestNamespace: string;
  cfg: InjectionConfig;
}

function load(name: string): Case {
  const text = readFileSync(join(DIR, `${name}.yaml`), "utf8");
  const docs = YAML.parseAllDocuments(text).map((d) => d.toJS() as Record<string, unknown>);
  const ns = docs.find((d) => d.kind === "Namespace") as
    | { metadata: { name: string; labels?: Record<string, string> } }
    | undefined;
  const review = docs.find((d) => d.kind === "AdmissionReview") as
    | { request: { namespace: string; object: Pod } }
    | undefined;
  if (!review) throw new Error(`${name}: no AdmissionReview`);
  const mesh = parseMeshConfig(JSON.parse(text.match(/^# mesh: (.*)$/m)?.[1] ?? "{}"));
  if (!mesh.ok) throw new Error(`${name}: ${JSON.stringify(mesh.errors)}`);
  return {
    pod: review.request.object,
    namespace: ns ? { name: ns.metadata.name, labels: ns.metadata.labels ?? {} } : undefined,
    requestNamespace: review.request.namespace,
    cfg: defaultInjectionConfig(mesh.value),
  };
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

/** The Envoy bootstrap of the injected proxy, with the kubelet's `$(VAR)` references filled in. */
function bootstrapOf(pod: Pod): unknown {
  const proxy = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find(
    (c) => c.name === "trellis-proxy",
  );
  const args = proxy?.args as string[];
  const arg = args[args.indexOf("--config-yaml") + 1] as string;
  const env: Record<string, string> = {
    POD_NAME: "web-6b8f9c7d5-abcde",
    POD_NAMESPACE: "shop",
    POD_IP: "10.1.2.3",
    INSTANCE_IPS: "10.1.2.3",
  };
  return JSON.parse(arg.replace(/\$\$|\$\(([A-Z_]+)\)/g, (m, name?: string) => (name ? (env[name] ?? m) : "$")));
}

const cases = readdirSync(DIR)
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => f.slice(0, -".yaml".length))
  .sort();
const expected = new Set(cases.map((c) => `${c}.patch.json`));

describe("admission golden files", () => {
  for (const name of cases) {
    it(`${name} → ${name}.patch.json`, () => {
      const c = load(name);
      const { decision, patch } = admissionPatch(c.pod, c.namespace, c.cfg);
      const actual = `${JSON.stringify(sortKeys({ decision, patch }), null, 2)}\n`;
      const path = join(DIR, `${name}.patch.json`);
      if (UPDATE) writeFileSync(path, actual);
      expect(existsSync(path), `${path} missing; run with UPDATE_GOLDEN=1`).toBe(true);
      expect(actual).toBe(readFileSync(path, "utf8"));

      if (!decision.inject) {
        expect(patch).toEqual([]);
        return;
      }
      const patched = applyPatch(c.pod, patch) as Pod;
      expect(patched).toEqual(injectPod(c.pod, c.requestNamespace, c.cfg));
      expect(admissionPatch(patched, c.namespace, c.cfg).patch).toEqual([]);
      const checked = checkProtoJson("envoy.config.bootstrap.v3.Bootstrap", bootstrapOf(patched));
      expect(checked.ok ? [] : checked.errors).toEqual([]);
      if (checked.ok) {
        const bytes = messageType("envoy.config.bootstrap.v3.Bootstrap").encode(checked.message).finish();
        expect(validateEnvoyMessage("envoy.config.bootstrap.v3.Bootstrap", bytes)).toEqual([]);
      }
    });
  }

  it("has no orphaned golden outputs", () => {
    const orphans = readdirSync(DIR).filter((f) => !f.endsWith(".yaml") && !expected.has(f));
    if (UPDATE) for (const f of orphans) rmSync(join(DIR, f));
    else expect(orphans).toEqual([]);
  });
});
