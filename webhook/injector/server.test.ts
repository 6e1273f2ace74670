// The admission endpoint with real AdmissionReviews (as the API server sends
// them) and the real injection from webhook/inject: what is patched, what is
// left alone, what is refused and with which message and code; the hardening
// (malformed bodies, size limit, content type); readiness; and hot-swapping
// the serving certificate on a live TLS listener.
import type { Server as HttpsServer } from "node:https";
import { connect } from "node:tls";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MESH_CONFIG } from "../../src/config/mesh-config.js";
import { applyPatch } from "../inject/index.js";
import { createCa, issueServingCert, type ServingCertificate } from "./certs.js";
import { injectionConfig, webhookDecider } from "./injection.js";
import { InjectorMetrics } from "./metrics.js";
import type { NamespaceInfo, NamespaceLookup } from "./namespaces.js";
import { buildInjectorServer, setServingCertificate } from "./server.js";

const DAY = 86_400_000;
const NAMESPACES: Record<string, NamespaceInfo> = {
  mesh: { name: "mesh", labels: { "istio-injection": "enabled" } },
  plain: { name: "plain", labels: {} },
  off: { name: "off", labels: { "istio-injection": "disabled" } },
  "trellis-system": { name: "trellis-system", labels: { "istio-injection": "disabled" } },
};

class FakeNamespaces implements NamespaceLookup {
  failing = false;
  async lookup(name: string) {
    if (this.failing) throw new Error("GET /api/v1/namespaces/mesh: no response within 2000 ms");
    return NAMESPACES[name];
  }
}

type Obj = Record<string, unknown>;

function pod(over: { name?: string; labels?: Obj; annotations?: Obj; extra?: Obj } = {}): Obj {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      ...(over.name === undefined ? { generateName: "web-5d8f7c9b6-" } : { name: over.name }),
      labels: { app: "web", ...(over.labels ?? {}) },
      ...(over.annotations ? { annotations: over.annotations } : {}),
    },
    spec: {
      serviceAccountName: "web",
      containers: [{ name: "web", image: "nginx:1.27", ports: [{ containerPort: 8080 }] }],
      ...(over.extra ?? {}),
    },
  };
}

function review(object: unknown, over: Partial<Obj> = {}): Obj {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "3b1e7f0c-5d0a-4c2e-9a57-0d1f6b2c8e11",
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      requestKind: { group: "", version: "v1", kind: "Pod" },
      namespace: "mesh",
      operation: "CREATE",
      userInfo: { username: "system:serviceaccount:kube-system:replicaset-controller" },
      object,
      oldObject: null,
      dryRun: false,
      options: { kind: "CreateOptions", apiVersion: "meta.k8s.io/v1" },
      ...over,
    },
  };
}

interface Answer {
  status: number;
  body: {
    apiVersion?: string;
    kind?: string;
    response?: {
      uid: string;
      allowed: boolean;
      patchType?: string;
      patch?: string;
      status?: { code: number; message: string };
      warnings?: string[];
    };
    error?: { code: string; message: string };
  };
}

describe("trellis-injector admission server", () => {
  let app: FastifyInstance<HttpsServer>;
  let metrics: InjectorMetrics;
  let cert: ServingCertificate;
  let ready = true;
  const namespaces = new FakeNamespaces();
  const logs: { level: string; o: object; m: string }[] = [];
  const logger = {
    info: (o: object, m: string) => logs.push({ level: "info", o, m }),
    warn: (o: object, m: string) => logs.push({ level: "warn", o, m }),
    error: (o: object, m: string) => logs.push({ level: "error", o, m }),
  };
  const caP = createCa({ lifetimeMs: DAY });

  beforeAll(async () => {
    const ca = await caP;
    cert = await issueServingCert(ca, { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], lifetimeMs: DAY });
    metrics = new InjectorMetrics({ defaultMetrics: false });
    app = buildInjectorServer({
      tls: cert,
      namespaces,
      decide: webhookDecider(injectionConfig({ mesh: DEFAULT_MESH_CONFIG, controlPlaneNamespace: "trellis-system" })),
      notReady: () => (ready ? undefined : "the namespace cache has not synced yet"),
      metrics,
      logger,
      bodyLimitBytes: 64 * 1024,
    });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
  });

  const post = async (body: unknown, headers: Record<string, string> = {}): Promise<Answer> => {
    const res = await app.inject({
      method: "POST",
      url: "/inject?timeout=10s",
      headers: { "content-type": "application/json", ...headers },
      payload: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.statusCode, body: res.json() };
  };
  const patchOf = (a: Answer) => JSON.parse(Buffer.from(a.body.response?.patch ?? "", "base64").toString("utf8"));

  it("injects a Deployment's pod in a labelled namespace: JSONPatch that adds trellis-proxy and trellis-init", async () => {
    const object = pod();
    const a = await post(review(object));
    expect(a.status).toBe(200);
    expect(a.body.apiVersion).toBe("admission.k8s.io/v1");
    expect(a.body.kind).toBe("AdmissionReview");
    expect(a.body.response).toMatchObject({
      uid: "3b1e7f0c-5d0a-4c2e-9a57-0d1f6b2c8e11",
      allowed: true,
      patchType: "JSONPatch",
    });
    const ops = patchOf(a) as { op: string; path: string }[];
    expect(ops.every((o) => ["add", "replace", "remove"].includes(o.op))).toBe(true);
    expect(ops.some((o) => o.op === "replace" && (o.path === "/spec/containers" || o.path === "/spec"))).toBe(false);
    const injected = applyPatch(object, ops as never) as { spec: { containers: Obj[]; initContainers?: Obj[] } };
    const names = [...injected.spec.containers, ...(injected.spec.initContainers ?? [])].map((c) => c.name);
    expect(names).toContain("trellis-proxy");
    expect(names).toContain("trellis-init");
    expect(names).toContain("web");
    // Logged at info with the pod (generateName*, no name yet), namespace and reason.
    expect(logs.at(-1)).toMatchObject({
      level: "info",
      m: "pod injected",
      o: {
        pod: "web-5d8f7c9b6-*",
        namespace: "mesh",
        result: "injected",
        reason: expect.stringContaining("istio-injection=enabled"),
      },
    });
  });

  it("answers an already-injected pod (re-invocation) with no patch", async () => {
    const object = pod({ name: "web-1" });
    const first = await post(review(object));
    const injected = applyPatch(object, patchOf(first)) as Obj;
    const again = await post(review(injected));
    expect(again.body.response).toEqual({ uid: "3b1e7f0c-5d0a-4c2e-9a57-0d1f6b2c8e11", allowed: true });
  });

  it("leaves opted-out pods, unlabelled and disabled namespaces, host-network pods and the control plane alone", async () => {
    const cases: [Obj, Partial<Obj>, RegExp][] = [
      [pod({ labels: { "sidecar.istio.io/inject": "false" } }), {}, /sidecar\.istio\.io\/inject=false/],
      [pod({ annotations: { "sidecar.istio.io/inject": "false" } }), {}, /annotation sidecar\.istio\.io\/inject=false/],
      [pod(), { namespace: "plain" }, /neither namespace label/],
      [pod({ labels: { "sidecar.istio.io/inject": "true" } }), { namespace: "off" }, /istio-injection=disabled/],
      [pod({ extra: { hostNetwork: true } }), {}, /host-network/],
      [pod({ labels: { "sidecar.istio.io/inject": "true" } }), { namespace: "trellis-system" }, /control plane/],
    ];
    for (const [object, over, reason] of cases) {
      const a = await post(review(object, over));
      expect(a.status).toBe(200);
      expect(a.body.response).toEqual({ uid: "3b1e7f0c-5d0a-4c2e-9a57-0d1f6b2c8e11", allowed: true });
      expect(logs.at(-1)?.o).toMatchObject({ result: "skipped", reason: expect.stringMatching(reason) });
    }
  });

  it("passes the injection's warnings about Istio annotations Trellis does not act on to the user", async () => {
    const a = await post(review(pod({ annotations: { "sidecar.istio.io/interceptionMode": "TPROXY" } })));
    expect(a.body.response?.patchType).toBe("JSONPatch");
    expect(a.body.response?.warnings).toEqual([expect.stringContaining("sidecar.istio.io/interceptionMode")]);
  });

  it("injects on the pod label alone in an unlabelled namespace", async () => {
    const a = await post(review(pod({ labels: { "sidecar.istio.io/inject": "true" } }), { namespace: "plain" }));
    expect(a.body.response?.patchType).toBe("JSONPatch");
  });

  it("refuses a pod whose injection annotation is invalid, naming the annotation and its value (400)", async () => {
    const a = await post(review(pod({ annotations: { "sidecar.istio.io/proxyCPU": "lots" } })));
    expect(a.status).toBe(200);
    expect(a.body.response?.allowed).toBe(false);
    expect(a.body.response?.patch).toBeUndefined();
    expect(a.body.response?.status?.code).toBe(400);
    expect(a.body.response?.status?.message).toMatch(
      /^trellis-injector TRL9505: invalid injection annotation: metadata\.annotations\["sidecar\.istio\.io\/proxyCPU"\]: "lots"/,
    );
    expect(logs.at(-1)?.o).toMatchObject({ result: "denied" });
  });

  it("does nothing on UPDATE, and ignores kinds other than Pod", async () => {
    const update = await post(
      review(pod({ name: "web-1" }), { operation: "UPDATE", oldObject: pod({ name: "web-1" }) }),
    );
    expect(update.body.response).toEqual({ uid: "3b1e7f0c-5d0a-4c2e-9a57-0d1f6b2c8e11", allowed: true });
    const deployment = await post(
      review(
        { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web" } },
        {
          kind: { group: "apps", version: "v1", kind: "Deployment" },
        },
      ),
    );
    expect(deployment.body.response).toEqual({ uid: "3b1e7f0c-5d0a-4c2e-9a57-0d1f6b2c8e11", allowed: true });
    expect(logs.at(-1)?.o).toMatchObject({ reason: expect.stringMatching(/not a v1 Pod \(apps\/v1 Deployment\)/) });
  });

  it("refuses (500, retryable) rather than skips when the pod's namespace cannot be read", async () => {
    namespaces.failing = true;
    try {
      const a = await post(review(pod()));
      expect(a.body.response?.allowed).toBe(false);
      expect(a.body.response?.status?.code).toBe(500);
      expect(a.body.response?.status?.message).toMatch(/TRL9506: cannot read the pod's namespace mesh \(GET/);
    } finally {
      namespaces.failing = false;
    }
  });

  it("answers malformed requests with 400 and a message that says what is wrong", async () => {
    const noUid = review(pod());
    delete (noUid.request as Obj).uid;
    const cases: [unknown, RegExp][] = [
      ["{not json", /Body is not valid JSON/],
      [{ apiVersion: "admission.k8s.io/v1beta1", kind: "AdmissionReview", request: {} }, /apiVersion/],
      [{ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview" }, /request/],
      [noUid, /request\.uid/],
      [
        review({ apiVersion: "v1", kind: "Pod", metadata: {}, spec: { containers: [] } }),
        /request\.object\.spec\.containers/,
      ],
      [review("a string"), /request\.object/],
    ];
    for (const [body, message] of cases) {
      const a = await post(body);
      expect(a.status, JSON.stringify(a.body)).toBe(400);
      expect(a.body.error?.code).toBe("TRL9501");
      expect(a.body.error?.message).toMatch(message);
    }
  });

  it("refuses bodies over the limit (413) and bodies that are not JSON (415)", async () => {
    const big = review(pod({ annotations: { filler: "x".repeat(70 * 1024) } }));
    const tooBig = await post(big);
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error?.code).toBe("TRL9502");
    const yaml = await post("apiVersion: admission.k8s.io/v1", { "content-type": "application/yaml" });
    expect(yaml.status).toBe(415);
    expect(yaml.body.error?.code).toBe("TRL9503");
  });

  it("counts every answer by result and times it", async () => {
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/trellis_injector_requests_total\{result="injected"\} [1-9]/);
    expect(text).toMatch(/trellis_injector_requests_total\{result="skipped"\} [1-9]/);
    expect(text).toMatch(/trellis_injector_requests_total\{result="denied"\} 1/);
    expect(text).toMatch(/trellis_injector_requests_total\{result="error"\} [1-9]/);
    expect(text).toMatch(/trellis_injector_request_duration_seconds_bucket\{le="0\.005",result="injected"\}/);
  });

  it("is healthy always and ready only when the namespace cache is", async () => {
    expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    expect((await app.inject({ method: "GET", url: "/readyz" })).json()).toEqual({ status: "ready" });
    ready = false;
    const r = await app.inject({ method: "GET", url: "/readyz" });
    ready = true;
    expect(r.statusCode).toBe(503);
    expect(r.json()).toEqual({
      error: { code: "TRL9504", message: "not ready: the namespace cache has not synced yet" },
    });
  });

  it("swaps the serving certificate on the live listener: new handshakes get the new one, no restart", async () => {
    const ca = await caP;
    const server = buildInjectorServer({
      tls: cert,
      namespaces,
      decide: () => ({ action: "skip", reason: "test" }),
      notReady: () => undefined,
      metrics: new InjectorMetrics({ defaultMetrics: false }),
      logger,
    });
    await server.listen({ port: 0, host: "127.0.0.1" });
    const port = (server.server.address() as { port: number }).port;
    const serial = () =>
      new Promise<string>((resolve, reject) => {
        const s = connect({ host: "127.0.0.1", port, servername: "localhost", ca: ca.certPem }, () => {
          resolve(s.getPeerX509Certificate()?.serialNumber ?? "");
          s.end();
        });
        s.on("error", reject);
      });
    try {
      expect(await serial()).toBe(cert.serial);
      const next = await issueServingCert(ca, { dnsNames: ["localhost"], lifetimeMs: DAY });
      setServingCertificate(server, next);
      expect(await serial()).toBe(next.serial);
      // A broken pair is refused and the old certificate stays.
      expect(() => setServingCertificate(server, { certPem: next.certPem, keyPem: cert.keyPem })).toThrow();
      expect(await serial()).toBe(next.serial);
    } finally {
      await server.close();
    }
  });
});
