// trellis-injector against a real kube-apiserver: the API server itself calls
// the webhook over TLS when pods are created, trusting it only through the
// caBundle the injector wrote. Two injector replicas run as child processes
// (the built binary) with a token of ServiceAccount trellis-injector, so the
// RBAC of manifests/base is exactly what they have; they race to create the
// shared CA Secret. The MutatingWebhookConfiguration is manifests/base/webhook.yaml
// with `clientConfig.url: https://127.0.0.1:<port>/inject` instead of the Service
// (the API server cannot reach Services here). There is no controller-manager,
// so the Deployment-shaped pod (generateName, ownerReferences to a ReplicaSet,
// pod-template-hash) is created by the test, as the ReplicaSet controller would.
//
// Needs `npm run build` first (dist/webhook/injector-main.js).
import { type ChildProcess, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
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
const INJECTOR = join(repo, "dist/webhook/injector-main.js");
const base = join(repo, "manifests/base");
const external = Boolean(process.env.KUBECONFIG);

type Obj = Record<string, unknown>;
type Log = Record<string, unknown> & { msg?: string };
interface PodBody {
  metadata: {
    name: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
    ownerReferences?: Obj[];
  };
  spec: { containers: { name: string }[]; initContainers?: { name: string; restartPolicy?: string }[] } & Obj;
}

interface Injector {
  child: ChildProcess;
  logs: Log[];
  port: number;
  metricsPort: number;
  stop(): Promise<void>;
}

/** Starts the built injector; resolves once it logs that it is serving. */
async function startInjector(args: string[]): Promise<Injector> {
  const child = spawn(process.execPath, [INJECTOR, ...args], { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
  const logs: Log[] = [];
  let buf = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        logs.push(JSON.parse(line) as Log);
      } catch {
        // not a log line
      }
    }
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const serving = await Promise.race([
    until("trellis-injector serving", async () => logs.find((l) => l.msg === "trellis-injector serving"), 60_000),
    exited.then(() => {
      throw new Error(`injector exited ${child.exitCode}`);
    }),
  ]).catch((err: Error) => {
    child.kill("SIGKILL");
    throw new Error(`${err.message}\nstderr: ${stderr}\nlogs: ${logs.map((l) => JSON.stringify(l)).join("\n")}`);
  });
  return {
    child,
    logs,
    port: serving.port as number,
    metricsPort: serving.metricsPort as number,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}

/** The serving certificate a TLS client gets when it connects as the API server does. */
function servingCert(port: number, ca: string): Promise<{ authorized: boolean; serial: string; error?: string }> {
  return new Promise((resolve, reject) => {
    // No servername: an IP is not a valid SNI name; the certificate is checked against the IP SAN.
    const s = connect({ host: "127.0.0.1", port, ca, rejectUnauthorized: false }, () => {
      resolve({
        authorized: s.authorized,
        serial: s.getPeerX509Certificate()?.serialNumber ?? "",
        error: s.authorizationError?.toString(),
      });
      s.end();
    });
    s.on("error", reject);
  });
}

/** POST an AdmissionReview to the injector directly (HTTPS, verified with `ca`). */
function admissionReview(port: number, ca: string, body: unknown): Promise<{ status: number; body: Obj }> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port,
        path: "/inject?timeout=10s",
        method: "POST",
        ca,
        headers: { "content-type": "application/json", "content-length": payload.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as Obj }),
        );
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}

async function requestsTotal(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(/^trellis_injector_requests_total\{result="[a-z]+"\} (\d+)/gm)) sum += Number(m[1]);
  return sum;
}

const containerNames = (pod: PodBody) => pod.spec.containers.map((c) => c.name);
const initNames = (pod: PodBody) => (pod.spec.initContainers ?? []).map((c) => c.name);
const allNames = (pod: PodBody) => [...containerNames(pod), ...initNames(pod)];
const isInjected = (pod: PodBody) => allNames(pod).includes("trellis-proxy") && allNames(pod).includes("trellis-init");

describe.skipIf(external)("trellis-injector on a real kube-apiserver", () => {
  let kube: KubeHarness;
  let creds: KubeconfigCreds;
  let dir: string;
  let a: Injector | undefined;
  let b: Injector | undefined;
  let caPem = "";
  const tag = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  const meshNs = `inj-mesh-${tag}`;
  const plainNs = `inj-plain-${tag}`;
  const webhookPath = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/trellis-sidecar-injector";

  const api = (method: string, path: string, body?: unknown, contentType?: string) =>
    kubeRequest(creds, method, path, body, contentType);
  const must = async (method: string, path: string, body?: unknown, contentType?: string) => {
    const r = await api(method, path, body, contentType);
    if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as Obj;
  };
  const pod = (name: string, over: Partial<PodBody["metadata"]> = {}): PodBody & Obj => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { app: "web" }, ...over },
    spec: {
      serviceAccountName: "web",
      automountServiceAccountToken: false,
      containers: [{ name: "web", image: "nginx:1.27", ports: [{ containerPort: 8080 }] } as { name: string }],
    },
  });
  const createPod = async (ns: string, body: Obj) => {
    const r = await api("POST", `/api/v1/namespaces/${ns}/pods`, body);
    return {
      status: r.status,
      pod: r.body as PodBody,
      message: String((r.body as { message?: string }).message ?? ""),
    };
  };

  beforeAll(async () => {
    if (!existsSync(INJECTOR)) throw new Error(`${INJECTOR} missing: run npm run build first`);
    kube = await startKube();
    creds = loadKubeconfig(kube.kubeconfigPath);
    dir = mkdtempSync(join(tmpdir(), "trellis-injector-e2e-"));

    // Namespace trellis-system, the ServiceAccounts and RBAC exactly as installed.
    const kubectl = ensureBinaries().kubectl;
    await new Promise<void>((resolve, reject) => {
      const c = spawn(kubectl, [
        `--kubeconfig=${kube.kubeconfigPath}`,
        "apply",
        "--server-side",
        "--field-manager=trellis-e2e",
        ...["namespace.yaml", "service-accounts.yaml", "rbac.yaml"].flatMap((f) => ["-f", join(base, f)]),
      ]);
      let err = "";
      c.stderr.on("data", (d) => {
        err += d;
      });
      c.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`kubectl apply: ${err}`))));
    });

    // A token of ServiceAccount trellis-injector, as the kubelet would project it.
    const tr = await must("POST", "/api/v1/namespaces/trellis-system/serviceaccounts/trellis-injector/token", {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds: 3600 },
    });
    const token = (tr as { status: { token: string } }).status.token;
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
        users: [{ name: "trellis-injector", user: { token } }],
        contexts: [{ name: "e2e", context: { cluster: "e2e", user: "trellis-injector" } }],
        "current-context": "e2e",
      }),
    );

    // Two replicas at once: they race to create the CA Secret.
    const args = [
      "--kubeconfig",
      kubeconfig,
      "--namespace",
      "trellis-system",
      "--port",
      "0",
      "--bind-address",
      "127.0.0.1",
      "--metrics-address",
      "127.0.0.1:0",
      "--extra-san",
      "127.0.0.1",
      // Short enough that the suite sees several rotations: renewed every 10 s.
      "--cert-lifetime",
      "15s",
      "--check-interval",
      "2s",
      "--shutdown-delay",
      "0s",
    ];
    [a, b] = await Promise.all([startInjector(args), startInjector(args)]);

    for (const ns of [meshNs, plainNs]) {
      const labels = ns === meshNs ? { "istio-injection": "enabled" } : {};
      await must("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels } });
    }
    // No controller-manager: ServiceAccounts do not appear by themselves.
    for (const ns of [meshNs, plainNs, "trellis-system"]) {
      await must("POST", `/api/v1/namespaces/${ns}/serviceaccounts`, {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name: "web" },
        automountServiceAccountToken: false,
      });
    }

    // manifests/base/webhook.yaml, pointed at replica a.
    const webhook = parseYaml(readFileSync(join(base, "webhook.yaml"), "utf8")) as {
      webhooks: { clientConfig: Obj }[];
    };
    for (const w of webhook.webhooks) w.clientConfig = { url: `https://127.0.0.1:${a.port}/inject` };
    await must("POST", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", webhook);

    const secret = await until("CA Secret", async () => {
      const r = await api("GET", "/api/v1/namespaces/trellis-system/secrets/trellis-injector-ca");
      return r.status === 200 ? (r.body as { data: Record<string, string> }) : undefined;
    });
    caPem = Buffer.from(secret.data["ca.crt"] ?? "", "base64").toString("utf8");

    // The API server picks up a new webhook configuration asynchronously: wait until a
    // server-side dry run (which calls the webhook, sideEffects: None) comes back injected.
    await until(
      "the API server calling the webhook",
      async () => {
        const r = await api("POST", `/api/v1/namespaces/${meshNs}/pods?dryRun=All`, pod("probe"));
        return r.status === 201 && isInjected(r.body as PodBody);
      },
      30_000,
      200,
    );
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    if (creds) await api("DELETE", webhookPath).catch(() => {});
    if (dir) rmSync(dir, { recursive: true, force: true });
    await kube?.stop();
  });

  it("shares one CA between the replicas (created once despite the race) and puts exactly it in every caBundle", async () => {
    const created = [...(a?.logs ?? []), ...(b?.logs ?? [])].filter((l) => l.msg === "created the webhook CA");
    expect(created).toHaveLength(1);
    expect(new X509Certificate(caPem).ca).toBe(true);
    const config = await until("caBundle set", async () => {
      const c = (await must("GET", webhookPath)) as {
        webhooks: { name: string; clientConfig: { caBundle?: string } }[];
      };
      return c.webhooks.every((w) => w.clientConfig.caBundle) ? c : undefined;
    });
    expect(config.webhooks.map((w) => w.name)).toEqual([
      "namespace.sidecar-injector.trellis.dev",
      "object.sidecar-injector.trellis.dev",
      "annotation.sidecar-injector.trellis.dev",
    ]);
    for (const w of config.webhooks) {
      expect(Buffer.from(w.clientConfig.caBundle ?? "", "base64").toString("utf8")).toBe(caPem);
    }
    // Each replica serves its own certificate, and both chain to that CA.
    const [sa, sb] = await Promise.all([servingCert(a?.port ?? 0, caPem), servingCert(b?.port ?? 0, caPem)]);
    expect(sa).toMatchObject({ authorized: true });
    expect(sb).toMatchObject({ authorized: true });
    expect(sa.serial).not.toBe(sb.serial);
  });

  it("injects a bare Pod in a namespace labelled istio-injection=enabled, and the API server stores it", async () => {
    const r = await createPod(meshNs, pod("bare"));
    expect(r.status, r.message).toBe(201);
    expect(isInjected(r.pod)).toBe(true);
    expect(containerNames(r.pod)).toContain("web");
    const stored = (await must("GET", `/api/v1/namespaces/${meshNs}/pods/bare`)) as unknown as PodBody;
    expect(isInjected(stored)).toBe(true);
    expect(allNames(stored).filter((n) => n === "trellis-proxy")).toHaveLength(1);
    const logged = a?.logs.find((l) => l.msg === "pod injected" && l.pod === "bare");
    expect(logged).toMatchObject({ namespace: meshNs, reason: expect.stringContaining("istio-injection=enabled") });
  });

  it("injects a Deployment's pod (generateName, owned by a ReplicaSet, pod-template-hash)", async () => {
    const rs = await must("POST", `/apis/apps/v1/namespaces/${meshNs}/replicasets`, {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: { name: "web-5d8f7c9b6", labels: { app: "web", "pod-template-hash": "5d8f7c9b6" } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "web", "pod-template-hash": "5d8f7c9b6" } },
        template: {
          metadata: { labels: { app: "web", "pod-template-hash": "5d8f7c9b6" } },
          spec: pod("x").spec,
        },
      },
    });
    const body = pod("");
    const { name: _unused, ...meta } = body.metadata;
    const r = await createPod(meshNs, {
      ...body,
      metadata: {
        ...meta,
        generateName: "web-5d8f7c9b6-",
        labels: { app: "web", "pod-template-hash": "5d8f7c9b6" },
        ownerReferences: [
          {
            apiVersion: "apps/v1",
            kind: "ReplicaSet",
            name: "web-5d8f7c9b6",
            uid: (rs.metadata as { uid: string }).uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
    });
    expect(r.status, r.message).toBe(201);
    expect(r.pod.metadata.name).toMatch(/^web-5d8f7c9b6-[a-z0-9]{5}$/);
    expect(isInjected(r.pod)).toBe(true);
    expect(a?.logs.some((l) => l.msg === "pod injected" && l.pod === "web-5d8f7c9b6-*")).toBe(true);
  });

  it("stores opted-out pods and pods in unlabelled namespaces unchanged; the pod label alone opts in", async () => {
    const byLabel = await createPod(
      meshNs,
      pod("opt-out-label", { labels: { app: "web", "sidecar.istio.io/inject": "false" } }),
    );
    const byAnnotation = await createPod(
      meshNs,
      pod("opt-out-annotation", { annotations: { "sidecar.istio.io/inject": "false" } }),
    );
    const plain = await createPod(plainNs, pod("plain"));
    for (const r of [byLabel, byAnnotation, plain]) {
      expect(r.status, r.message).toBe(201);
      expect(containerNames(r.pod)).toEqual(["web"]);
      expect(initNames(r.pod)).toEqual([]);
      expect(Object.keys(r.pod.metadata.annotations ?? {}).filter((k) => k.includes("trellis"))).toEqual([]);
    }
    // The label opt-out never reaches the webhook (objectSelector); the annotation one is decided there.
    expect(a?.logs.some((l) => l.pod === "opt-out-label")).toBe(false);
    expect(a?.logs.find((l) => l.pod === "opt-out-annotation")).toMatchObject({ result: "skipped" });

    const optIn = await createPod(
      plainNs,
      pod("opt-in", { labels: { app: "web", "sidecar.istio.io/inject": "true" } }),
    );
    expect(optIn.status, optIn.message).toBe(201);
    expect(isInjected(optIn.pod)).toBe(true);

    // The founding document's Deployment: only the annotation, in an unlabelled namespace.
    const byAnnotationOnly = await createPod(
      plainNs,
      pod("opt-in-annotation", { annotations: { "sidecar.istio.io/inject": "true" } }),
    );
    expect(byAnnotationOnly.status, byAnnotationOnly.message).toBe(201);
    expect(isInjected(byAnnotationOnly.pod)).toBe(true);
  });

  it("does not inject twice: updating an injected pod keeps one sidecar, and re-sending it yields no patch", async () => {
    const path = `/api/v1/namespaces/${meshNs}/pods/bare`;
    const before = (await must("GET", path)) as unknown as PodBody;
    await must("PATCH", path, { metadata: { labels: { app: "web", version: "v2" } } }, "application/merge-patch+json");
    const after = (await must("GET", path)) as unknown as PodBody;
    expect(after.metadata.labels?.version).toBe("v2");
    expect(allNames(after)).toEqual(allNames(before));

    const review = await admissionReview(a?.port ?? 0, caPem, {
      apiVersion: "admission.k8s.io/v1",
      kind: "AdmissionReview",
      request: {
        uid: "7c2a4f55-0e3b-4d8e-b7a9-1c6f0d2e9a01",
        kind: { group: "", version: "v1", kind: "Pod" },
        resource: { group: "", version: "v1", resource: "pods" },
        namespace: meshNs,
        operation: "CREATE",
        object: after,
      },
    });
    expect(review.status).toBe(200);
    expect(review.body.response).toEqual({ uid: "7c2a4f55-0e3b-4d8e-b7a9-1c6f0d2e9a01", allowed: true });
  });

  it("is never called for the control plane's namespace", async () => {
    const before = await requestsTotal(a?.metricsPort ?? 0);
    const r = await createPod(
      "trellis-system",
      pod("cp-pod", { labels: { app: "web", "sidecar.istio.io/inject": "true" } }),
    );
    expect(r.status, r.message).toBe(201);
    expect(containerNames(r.pod)).toEqual(["web"]);
    // A pod in a labelled namespace right after: the counter moves by exactly that one call.
    const control = await createPod(meshNs, pod("after-cp"));
    expect(isInjected(control.pod)).toBe(true);
    expect(await requestsTotal(a?.metricsPort ?? 0)).toBe(before + 1);
    expect(a?.logs.some((l) => l.pod === "cp-pod")).toBe(false);
  });

  it("refuses a pod with an invalid injection annotation, and the user sees which one and why", async () => {
    const r = await createPod(meshNs, pod("bad-cpu", { annotations: { "sidecar.istio.io/proxyCPU": "lots" } }));
    expect(r.status).toBe(400);
    expect(r.message).toMatch(
      /admission webhook "namespace\.sidecar-injector\.trellis\.dev" denied the request: trellis-injector TRL9505: invalid injection annotation: metadata\.annotations\["sidecar\.istio\.io\/proxyCPU"\]: "lots"/,
    );
    expect((await api("GET", `/api/v1/namespaces/${meshNs}/pods/bad-cpu`)).status).toBe(404);
  });

  it("puts the caBundle back when something resets it (as kubectl apply of the manifests does)", async () => {
    await must(
      "PATCH",
      webhookPath,
      [
        { op: "remove", path: "/webhooks/0/clientConfig/caBundle" },
        { op: "remove", path: "/webhooks/1/clientConfig/caBundle" },
      ],
      "application/json-patch+json",
    );
    const restored = await until(
      "caBundle restored",
      async () => {
        const c = (await must("GET", webhookPath)) as { webhooks: { clientConfig: { caBundle?: string } }[] };
        return c.webhooks.every((w) => Buffer.from(w.clientConfig.caBundle ?? "", "base64").toString("utf8") === caPem);
      },
      10_000,
      100,
    );
    expect(restored).toBe(true);
  });

  it("rotates its serving certificate without a restart and without a failed admission", async () => {
    const rotations = () => (a?.logs ?? []).filter((l) => l.msg === "serving certificate rotated").length;
    const start = rotations();
    const firstSerial = (await servingCert(a?.port ?? 0, caPem)).serial;
    const failures: string[] = [];
    let created = 0;
    const deadline = Date.now() + 45_000;
    while (rotations() < start + 2 && Date.now() < deadline) {
      const r = await createPod(meshNs, pod(`rot-${created}`));
      created++;
      if (r.status !== 201 || !isInjected(r.pod)) failures.push(`rot-${created - 1}: ${r.status} ${r.message}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(rotations()).toBeGreaterThanOrEqual(start + 2);
    expect(failures).toEqual([]);
    expect(created).toBeGreaterThan(20);
    const now = await servingCert(a?.port ?? 0, caPem);
    expect(now.authorized).toBe(true);
    expect(now.serial).not.toBe(firstSerial);
    const ms = (a?.logs ?? [])
      .filter((l) => l.result === "injected")
      .map((l) => Number(l.ms))
      .sort((x, y) => x - y);
    process.stdout.write(
      `injector: ${created} pods across ${rotations() - start} rotations; admission time over ${ms.length} injections: p50 ${ms[Math.floor(ms.length / 2)]} ms, max ${ms.at(-1)} ms\n`,
    );
    // The process never restarted.
    expect(a?.child.exitCode).toBeNull();
    expect(a?.logs.filter((l) => l.msg === "trellis-injector serving")).toHaveLength(1);
  });

  it("needs no more RBAC than manifests/base grants it, and that is narrow", async () => {
    // Everything above ran with the ServiceAccount's token: no request was refused.
    const denied = [...(a?.logs ?? []), ...(b?.logs ?? [])].filter((l) => /forbidden|\b403\b/i.test(JSON.stringify(l)));
    expect(denied).toEqual([]);
    const can = async (verb: string, resource: string, namespace?: string, name?: string) => {
      const r = await must("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: "system:serviceaccount:trellis-system:trellis-injector",
          groups: ["system:serviceaccounts", "system:serviceaccounts:trellis-system", "system:authenticated"],
          resourceAttributes: { verb, resource, ...(namespace ? { namespace } : {}), ...(name ? { name } : {}) },
        },
      });
      return (r as { status: { allowed: boolean } }).status.allowed;
    };
    expect(await can("get", "secrets", "trellis-system", "trellis-injector-ca")).toBe(true);
    expect(await can("update", "secrets", "trellis-system", "trellis-injector-ca")).toBe(true);
    expect(await can("get", "secrets", "trellis-system", "trellis-ca")).toBe(false);
    expect(await can("list", "secrets", "trellis-system")).toBe(false);
    expect(await can("delete", "secrets", "trellis-system", "trellis-injector-ca")).toBe(false);
    expect(await can("get", "secrets", meshNs, "trellis-injector-ca")).toBe(false);
    expect(await can("watch", "namespaces")).toBe(true);
    expect(await can("update", "namespaces", undefined, meshNs)).toBe(false);
    expect(await can("create", "pods", meshNs)).toBe(false);
    expect(await can("patch", "pods", meshNs)).toBe(false);
  });

  it("shuts down gracefully on SIGTERM", async () => {
    await b?.stop();
    expect(b?.child.exitCode).toBe(0);
    expect(b?.logs.at(-1)?.msg).toBe("stopped");
  });
});
