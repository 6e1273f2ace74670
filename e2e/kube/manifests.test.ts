// manifests/ against a real kube-apiserver: `kubectl apply --server-side -k manifests/`
// installs everything, every CRD becomes Established, and the generated schemas make
// the API server accept Istio's own examples at every served version while rejecting
// type errors and (with fieldValidation=Strict) unknown fields, naming the field.
// RBAC is checked by asking the API server as the ServiceAccounts.
//
// There is no controller-manager, scheduler or kubelet: Deployments and the webhook are
// only stored, never run. Against an external cluster ($KUBECONFIG) this suite installs
// cluster-wide objects (and replaces Istio's CRDs of the same names), so it only runs
// there with TRELLIS_E2E_INSTALL=1; it then removes manifests/base again but leaves the CRDs.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments, stringify as stringifyYaml } from "yaml";
import { MESH_KINDS } from "../../src/config/index.js";
import { startTrellis } from "../../test/support/trellis-process.js";
import { until } from "./cluster.js";
import {
  ensureBinaries,
  type KubeconfigCreds,
  type KubeHarness,
  kubeRequest,
  loadKubeconfig,
  startKube,
} from "./harness.js";

const repo = new URL("../..", import.meta.url).pathname;
const manifests = join(repo, "manifests");
const testdata = join(repo, "src/config/testdata");

const external = Boolean(process.env.KUBECONFIG);
const skip = external && process.env.TRELLIS_E2E_INSTALL !== "1";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; generation?: number; [k: string]: unknown };
  spec?: unknown;
  status?: unknown;
};

/** Every mesh object in Istio's doc examples and the founding document's examples. */
function exampleObjects(): Obj[] {
  const out: Obj[] = [];
  for (const dir of ["istio-docs", "seed"]) {
    for (const file of readdirSync(join(testdata, dir)).filter((f) => f.endsWith(".yaml"))) {
      for (const doc of parseAllDocuments(readFileSync(join(testdata, dir, file), "utf8"))) {
        const obj = doc.toJS() as Obj | null;
        if (obj && Object.hasOwn(MESH_KINDS, obj.kind)) out.push(obj);
      }
    }
  }
  return out;
}

const reviewsCanary = (): Obj =>
  parseAllDocuments(readFileSync(join(testdata, "seed/virtual-service-reviews-canary.yaml"), "utf8"))[0]?.toJS() as Obj;

function pathOf(apiVersion: string, plural: string, ns: string, name?: string): string {
  return `/apis/${apiVersion}/namespaces/${ns}/${plural}${name ? `/${name}` : ""}`;
}

function message(body: unknown): string {
  return typeof body === "object" && body !== null ? String((body as { message?: unknown }).message) : String(body);
}

describe.skipIf(skip)("manifests/ on a real kube-apiserver", () => {
  let kube: KubeHarness;
  let creds: KubeconfigCreds;
  let kubectlBin: string;
  let cacheDir: string;
  const ns = `trellis-manifests-${process.pid}-${Date.now().toString(36)}`;

  /** kubectl with the harness kubeconfig and a private discovery cache. Never throws on exit status. */
  const kubectl = (args: string[], input?: string): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(kubectlBin, [`--kubeconfig=${kube.kubeconfigPath}`, `--cache-dir=${cacheDir}`, ...args], {
        stdio: ["pipe", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c) => {
        stdout += c;
      });
      child.stderr.on("data", (c) => {
        stderr += c;
      });
      child.on("error", reject);
      child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
      child.stdin.end(input ?? "");
    });

  const ok = async (args: string[], input?: string): Promise<string> => {
    const r = await kubectl(args, input);
    expect(r.code, `kubectl ${args.join(" ")}\n${r.stderr}`).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    kube = await startKube();
    creds = loadKubeconfig(kube.kubeconfigPath);
    kubectlBin = ensureBinaries().kubectl;
    cacheDir = mkdtempSync(join(tmpdir(), "trellis-kubectl-cache-"));
    const created = await kubeRequest(creds, "POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: ns },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  });

  afterAll(async () => {
    if (kube?.external && creds) {
      await kubeRequest(creds, "DELETE", `/api/v1/namespaces/${ns}`).catch(() => {});
      // The webhook (failurePolicy Fail) must not outlive the test on a real cluster. CRDs stay:
      // deleting them would delete every object of those kinds, Istio's included.
      await kubectl(["delete", "--ignore-not-found", "-k", join(manifests, "base")]).catch(() => {});
    }
    if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
    await kube?.stop();
  });

  it("installs with kubectl apply --server-side -k manifests/, and every CRD becomes Established", async () => {
    const rendered = (await ok(["kustomize", manifests])).split("\n").filter((l) => /^kind: /.test(l)).length;
    const applied = await ok(["apply", "--server-side", "--field-manager=trellis-e2e", "-k", manifests]);
    const lines = applied.trim().split("\n");
    expect(lines).toHaveLength(rendered);
    for (const line of lines) expect(line).toMatch(/ serverside-applied$/);

    const crdNames = Object.values(MESH_KINDS).map((k) => `crd/${k.plural}.${k.group}`);
    await ok(["wait", "--for=condition=Established", "--timeout=60s", ...crdNames]);
    for (const [kind, info] of Object.entries(MESH_KINDS)) {
      const r = await kubeRequest(
        creds,
        "GET",
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${info.plural}.${info.group}`,
      );
      expect(r.status).toBe(200);
      const crd = r.body as {
        spec: { versions: { name: string; storage: boolean }[] };
        status: { conditions: { type: string; status: string; message: string }[]; acceptedNames: { kind: string } };
      };
      const conditions = Object.fromEntries(crd.status.conditions.map((c) => [c.type, c]));
      expect(conditions.Established?.status, kind).toBe("True");
      expect(conditions.NamesAccepted?.status, kind).toBe("True");
      // The API server flags schemas that are not structural with this condition.
      expect(conditions.NonStructuralSchema, `${kind}: ${conditions.NonStructuralSchema?.message}`).toBeUndefined();
      expect(crd.status.acceptedNames.kind).toBe(kind);
      expect(crd.spec.versions.map((v) => v.name)).toEqual(info.versions);
    }

    // Everything kustomize rendered is stored (Deployments too; nothing runs them here).
    const stored = (await ok(["get", "-k", manifests, "-o", "name"])).trim().split("\n");
    expect(stored).toHaveLength(rendered);
    expect(stored).toContain("deployment.apps/trellis");
    expect(stored).toContain("deployment.apps/trellis-injector");
    expect(stored).toContain("mutatingwebhookconfiguration.admissionregistration.k8s.io/trellis-sidecar-injector");

    // Applying again changes nothing and conflicts with nothing; a server-side dry run passes too.
    await ok(["apply", "--server-side", "--field-manager=trellis-e2e", "-k", manifests]);
    await ok(["apply", "--dry-run=server", "-k", manifests]);
  });

  it("serves every mesh kind at each of its versions, with Istio's short names and categories", async () => {
    const groups = new Map<string, string[]>();
    for (const info of Object.values(MESH_KINDS)) groups.set(info.group, [...info.versions]);
    for (const [group, versions] of groups) {
      const r = await kubeRequest(creds, "GET", `/apis/${group}`);
      expect(r.status).toBe(200);
      const g = r.body as { versions: { version: string }[]; preferredVersion: { version: string } };
      expect(g.versions.map((v) => v.version).sort()).toEqual([...versions].sort());
    }
    const resources = await ok(["api-resources", "--api-group=networking.istio.io", "--no-headers"]);
    expect(resources).toMatch(/^virtualservices\s+vs\s+networking\.istio\.io\/v1\s+true\s+VirtualService$/m);
    expect(resources).toMatch(/^destinationrules\s+dr\s+/m);
    expect(resources).toMatch(/^serviceentries\s+se\s+/m);
    const security = await ok(["api-resources", "--api-group=security.istio.io", "--no-headers"]);
    expect(security).toMatch(/^peerauthentications\s+pa\s+security\.istio\.io\/v1\s+/m);
    expect(security).toMatch(/^authorizationpolicies\s+ap\s+/m);
    expect(security).toMatch(/^requestauthentications\s+ra\s+/m);
  });

  it("accepts the reviews 80/20 VirtualService at every served apiVersion, and reads it back at every other", async () => {
    const info = MESH_KINDS.VirtualService;
    const canary = reviewsCanary();
    expect(canary.spec).toMatchObject({ http: [{ route: [{ weight: 80 }, { weight: 20 }] }] });
    for (const apiVersion of info.apiVersions) {
      const name = `reviews-${apiVersion.split("/")[1]}`;
      const body = { ...canary, apiVersion, metadata: { name, namespace: ns } };
      const r = await kubeRequest(creds, "POST", `${pathOf(apiVersion, info.plural, ns)}?fieldValidation=Strict`, body);
      expect(r.status, message(r.body)).toBe(201);
      for (const readAs of info.apiVersions) {
        const got = await kubeRequest(creds, "GET", pathOf(readAs, info.plural, ns, name));
        expect(got.status).toBe(200);
        expect((got.body as Obj).apiVersion).toBe(readAs);
        expect((got.body as Obj).spec).toEqual(canary.spec);
      }
    }
    // Istio's printer columns and short name.
    const table = await ok(["get", "vs", "-n", ns]);
    expect(table.split("\n")[0]).toMatch(/^NAME\s+GATEWAYS\s+HOSTS\s+AGE$/);
    expect(table).toMatch(/^reviews-v1\s+\["reviews"\]/m);
  });

  it("accepts every Istio documentation example, at every served version of its group", async () => {
    const examples = exampleObjects();
    expect(examples.length).toBeGreaterThan(30);
    const kinds = new Set<string>();
    for (const [index, example] of examples.entries()) {
      const info = MESH_KINDS[example.kind as keyof typeof MESH_KINDS];
      kinds.add(example.kind);
      for (const apiVersion of info.apiVersions) {
        const name = `ex-${index}-${apiVersion.split("/")[1]}`;
        const body = { ...example, apiVersion, metadata: { ...example.metadata, name, namespace: ns } };
        const r = await kubeRequest(
          creds,
          "POST",
          `${pathOf(apiVersion, info.plural, ns)}?fieldValidation=Strict`,
          body,
        );
        expect(r.status, `${example.kind} ${example.metadata.name} as ${apiVersion}: ${message(r.body)}`).toBe(201);
        const stored = (r.body as Obj).spec;
        expect(stored, `${example.kind} ${example.metadata.name}: the API server pruned or changed the spec`).toEqual(
          example.spec,
        );
      }
    }
    expect([...kinds].sort()).toEqual(Object.keys(MESH_KINDS).sort());
    // Found by category, as `kubectl get istio-io` finds Istio's.
    const byCategory = await ok(["get", "istio-io", "-n", ns, "-o", "name"]);
    expect(byCategory).toContain("destinationrule.networking.istio.io/ex-");
    expect(byCategory).toContain("peerauthentication.security.istio.io/ex-");
  });

  it("rejects a VirtualService whose route weight is a string, naming the field", async () => {
    const vs = reviewsCanary();
    const spec = structuredClone(vs.spec) as { http: { route: { weight: unknown }[] }[] };
    (spec.http[0]?.route[0] as { weight: unknown }).weight = "eighty";
    const r = await kubeRequest(creds, "POST", pathOf("networking.istio.io/v1", "virtualservices", ns), {
      ...vs,
      apiVersion: "networking.istio.io/v1",
      metadata: { name: "bad-weight" },
      spec,
    });
    expect(r.status).toBe(422);
    expect(message(r.body)).toMatch(/spec\.http\[0\]\.route\[0\]\.weight in body must be of type integer: "string"/);
  });

  it("rejects an unknown field with fieldValidation=Strict (kubectl's default), naming it; warns and drops it otherwise", async () => {
    const vs = reviewsCanary();
    const { http, ...rest } = vs.spec as { http: unknown };
    const typo = {
      ...vs,
      apiVersion: "networking.istio.io/v1",
      metadata: { name: "typo", namespace: ns },
      spec: { ...rest, htpp: http },
    };
    const strict = await kubeRequest(
      creds,
      "POST",
      `${pathOf("networking.istio.io/v1", "virtualservices", ns)}?fieldValidation=Strict`,
      typo,
    );
    expect(strict.status).toBe(400);
    expect(message(strict.body)).toMatch(/strict decoding error: unknown field "spec\.htpp"/);

    // kubectl validates strictly by default: the same object is refused.
    const refused = await kubectl(["create", "-f", "-"], JSON.stringify(typo));
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/unknown field "spec\.htpp"/);

    // --validate=warn (and API clients that do not ask for Strict): stored without the field, with a warning.
    const warned = await kubectl(["create", "--validate=warn", "-f", "-"], JSON.stringify(typo));
    expect(warned.code, warned.stderr).toBe(0);
    expect(warned.stderr).toMatch(/Warning: unknown field "spec\.htpp"/);
    const got = await kubeRequest(creds, "GET", pathOf("networking.istio.io/v1", "virtualservices", ns, "typo"));
    expect((got.body as Obj).spec).toEqual(rest);
  });

  it("validates DestinationRule enums and PeerAuthentication port keys", async () => {
    const dr = {
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name: "bad-tls" },
      spec: { host: "reviews", trafficPolicy: { tls: { mode: "MAYBE" } } },
    };
    const badDr = await kubeRequest(creds, "POST", pathOf(dr.apiVersion, "destinationrules", ns), dr);
    expect(badDr.status).toBe(422);
    expect(message(badDr.body)).toMatch(/spec\.trafficPolicy\.tls\.mode: Unsupported value: "MAYBE"/);

    const pa = (port: string, name: string) => ({
      apiVersion: "security.istio.io/v1",
      kind: "PeerAuthentication",
      metadata: { name },
      spec: {
        selector: { matchLabels: { app: "reviews" } },
        mtls: { mode: "STRICT" },
        portLevelMtls: { [port]: { mode: "PERMISSIVE" } },
      },
    });
    const good = await kubeRequest(
      creds,
      "POST",
      pathOf("security.istio.io/v1", "peerauthentications", ns),
      pa("8080", "port-8080"),
    );
    expect(good.status, message(good.body)).toBe(201);
    for (const key of ["http", "0", "65536"]) {
      const bad = await kubeRequest(
        creds,
        "POST",
        pathOf("security.istio.io/v1", "peerauthentications", ns),
        pa(key, `port-${key}`),
      );
      expect(bad.status, key).toBe(422);
      expect(message(bad.body)).toMatch(/spec\.portLevelMtls: Invalid value: keys must match \^\(\[1-9\]/);
    }
  });

  it("keeps status a subresource: only /status writes it, and writing it does not bump the generation", async () => {
    const path = pathOf("networking.istio.io/v1", "virtualservices", ns, "reviews-v1");
    const before = (await kubeRequest(creds, "GET", path)).body as Obj;
    const status = {
      conditions: [{ type: "Accepted", status: "True", reason: "Accepted", message: "", observedGeneration: 1 }],
    };
    // Through the main resource, status is ignored.
    const viaMain = await kubeRequest(creds, "PUT", path, { ...before, status });
    expect(viaMain.status).toBe(200);
    expect((viaMain.body as Obj).status).toBeUndefined();
    // Through /status (a merge patch, as sources/kube/status.ts writes it), it sticks.
    const viaStatus = await kubeRequest(creds, "PATCH", `${path}/status`, { status }, "application/merge-patch+json");
    expect(viaStatus.status, message(viaStatus.body)).toBe(200);
    const after = (await kubeRequest(creds, "GET", path)).body as Obj;
    expect(after.status).toEqual(status);
    expect(after.metadata.generation).toBe(before.metadata.generation);
  });

  it("is enough for Trellis itself: serve --kube as ServiceAccount trellis syncs, leads and writes CR status", async () => {
    // A token for the ServiceAccount, as the kubelet would project it into the pod.
    const tr = await kubeRequest(creds, "POST", "/api/v1/namespaces/trellis-system/serviceaccounts/trellis/token", {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds: 3600 },
    });
    expect(tr.status, message(tr.body)).toBe(201);
    const token = (tr.body as { status: { token: string } }).status.token;
    const dir = mkdtempSync(join(tmpdir(), "trellis-sa-"));
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(
      kubeconfig,
      stringifyYaml({
        apiVersion: "v1",
        kind: "Config",
        clusters: [
          {
            name: "e2e",
            cluster: { server: creds.server, "certificate-authority-data": creds.ca?.toString("base64") },
          },
        ],
        users: [{ name: "trellis", user: { token } }],
        contexts: [{ name: "e2e", context: { cluster: "e2e", user: "trellis" } }],
        "current-context": "e2e",
      }),
    );
    // The MeshConfig exactly as the installed ConfigMap holds it.
    const cm = await kubeRequest(creds, "GET", "/api/v1/namespaces/trellis-system/configmaps/trellis-mesh");
    const meshConfig = join(dir, "mesh.yaml");
    writeFileSync(meshConfig, (cm.body as { data: Record<string, string> }).data["mesh.yaml"] ?? "");

    const trellis = await startTrellis("examples/mesh", [
      "--kube",
      "--kubeconfig",
      kubeconfig,
      "--namespace",
      "trellis-system",
      "--pod-name",
      "trellis-rbac-e2e",
      "--mesh-config",
      meshConfig,
    ]);
    try {
      await trellis.waitForLog((l) => l.msg === "became leader: writing CR status", 30_000);
      const path = pathOf("networking.istio.io/v1", "virtualservices", ns, "reviews-v1alpha3");
      const accepted = await until("status written on reviews-v1alpha3", async () => {
        const got = (await kubeRequest(creds, "GET", path)).body as { status?: { conditions?: { type: string }[] } };
        return got.status?.conditions?.find((c) => c.type === "Accepted");
      });
      expect(accepted).toBeDefined();
      const ready = await fetch(`${trellis.adminUrl}/readyz`);
      expect(ready.status).toBe(200);
      const denied = trellis.logs.filter((l) => /forbidden|\b403\b/i.test(JSON.stringify(l)));
      expect(denied).toEqual([]);
    } finally {
      await trellis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("RBAC", () => {
    const cp = "system:serviceaccount:trellis-system:trellis";
    const injector = "system:serviceaccount:trellis-system:trellis-injector";
    /**
     * What `kubectl auth can-i --as=<user>` asks: a SubjectAccessReview. `target` is
     * `resource[.group][/name]`; `-A` (all namespaces) is namespace "".
     */
    const can = async (user: string, verb: string, target: string, ...flags: string[]) => {
      const [resourceAndGroup = "", name] = target.split("/");
      const dot = resourceAndGroup.indexOf(".");
      const namespace = flags.includes("-n") ? flags[flags.indexOf("-n") + 1] : undefined;
      const subresource = flags.find((f) => f.startsWith("--subresource="))?.slice("--subresource=".length);
      const r = await kubeRequest(creds, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user,
          groups: ["system:serviceaccounts", "system:serviceaccounts:trellis-system", "system:authenticated"],
          resourceAttributes: {
            verb,
            resource: dot < 0 ? resourceAndGroup : resourceAndGroup.slice(0, dot),
            group: dot < 0 ? "" : resourceAndGroup.slice(dot + 1),
            ...(name ? { name } : {}),
            ...(namespace ? { namespace } : {}),
            ...(subresource ? { subresource } : {}),
          },
        },
      });
      expect(r.status, message(r.body)).toBe(201);
      return (r.body as { status: { allowed: boolean } }).status.allowed;
    };

    it("lets the control plane read the registry and the mesh API, and write only CR status", async () => {
      for (const r of ["services", "pods", "namespaces", "nodes", "endpointslices.discovery.k8s.io"]) {
        expect(await can(cp, "list", r, "-A"), r).toBe(true);
        expect(await can(cp, "watch", r, "-A"), r).toBe(true);
        expect(await can(cp, "delete", r, "-A"), r).toBe(false);
      }
      for (const info of Object.values(MESH_KINDS)) {
        const r = `${info.plural}.${info.group}`;
        expect(await can(cp, "watch", r, "-A"), r).toBe(true);
        expect(await can(cp, "patch", r, "--subresource=status", "-n", ns), r).toBe(true);
        expect(await can(cp, "update", r, "--subresource=status", "-n", ns), r).toBe(true);
        expect(await can(cp, "update", r, "-n", ns), r).toBe(false);
        expect(await can(cp, "create", r, "-n", ns), r).toBe(false);
      }
      expect(await can(cp, "create", "tokenreviews.authentication.k8s.io")).toBe(true);
      expect(await can(cp, "create", "subjectaccessreviews.authorization.k8s.io")).toBe(false);
      expect(await can(cp, "get", "secrets", "-n", ns)).toBe(false);
      expect(await can(cp, "list", "configmaps", "-n", ns)).toBe(false);
    });

    it("limits the control plane's own objects by name: Lease, CA Secret, root-cert ConfigMaps", async () => {
      const sys = ["-n", "trellis-system"];
      expect(await can(cp, "create", "leases.coordination.k8s.io", ...sys)).toBe(true);
      expect(await can(cp, "update", "leases.coordination.k8s.io/trellis-leader", ...sys)).toBe(true);
      expect(await can(cp, "update", "leases.coordination.k8s.io/someone-else", ...sys)).toBe(false);
      expect(await can(cp, "update", "leases.coordination.k8s.io/trellis-leader", "-n", ns)).toBe(false);
      expect(await can(cp, "get", "secrets/trellis-ca", ...sys)).toBe(true);
      expect(await can(cp, "update", "secrets/trellis-ca", ...sys)).toBe(true);
      expect(await can(cp, "get", "secrets/other", ...sys)).toBe(false);
      expect(await can(cp, "list", "secrets", ...sys)).toBe(false);
      expect(await can(cp, "watch", "configmaps", ...sys)).toBe(true);
      expect(await can(cp, "create", "configmaps", "-n", ns)).toBe(true);
      expect(await can(cp, "update", "configmaps/trellis-ca-root-cert", "-n", ns)).toBe(true);
      expect(await can(cp, "update", "configmaps/something-else", "-n", ns)).toBe(false);
      expect(await can(cp, "delete", "configmaps/trellis-ca-root-cert", "-n", ns)).toBe(false);
      expect(
        await can(cp, "patch", "mutatingwebhookconfigurations.admissionregistration.k8s.io/trellis-sidecar-injector"),
      ).toBe(false);
    });

    it("lets the injector read and patch its own webhook configuration and nothing else", async () => {
      const ours = "mutatingwebhookconfigurations.admissionregistration.k8s.io/trellis-sidecar-injector";
      expect(await can(injector, "get", ours)).toBe(true);
      expect(await can(injector, "patch", ours)).toBe(true);
      expect(await can(injector, "delete", ours)).toBe(false);
      expect(
        await can(injector, "patch", "mutatingwebhookconfigurations.admissionregistration.k8s.io/someone-elses"),
      ).toBe(false);
      expect(await can(injector, "list", "pods", "-A")).toBe(false);
      // list/watch by resourceName work when the request selects that one name.
      const selected = await kubectl([
        "get",
        "mutatingwebhookconfigurations",
        `--as=${injector}`,
        "--field-selector=metadata.name=trellis-sidecar-injector",
        "-o",
        "name",
      ]);
      expect(selected.code, selected.stderr).toBe(0);
      expect(selected.stdout.trim()).toBe(
        "mutatingwebhookconfiguration.admissionregistration.k8s.io/trellis-sidecar-injector",
      );
      const all = await kubectl(["get", "mutatingwebhookconfigurations", `--as=${injector}`, "-o", "name"]);
      expect(all.code).not.toBe(0);
      expect(all.stderr).toMatch(/forbidden/);
    });
  });
});
