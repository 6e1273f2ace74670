// The CA Secret against a real kube-apiserver: replicas racing to create
// trellis-ca converge on one CA (the losers get a real 409 AlreadyExists), a
// user's Istio-style `cacerts` wins over it, and the rotation phase written by
// the leader survives a round trip through the API server (with a real
// resourceVersion conflict for a stale writer).
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createCertificateAuthority,
  loadOrCreateCaSecret,
  readCaSecret,
  saveCaSecret,
} from "../../src/security/ca/index.js";
import { KubeHttp } from "../../src/sources/kube/http.js";
import { type KubeconfigCreds, type KubeHarness, kubeRequest, loadKubeconfig, startKube } from "./harness.js";

describe("CA Secret (real API server)", () => {
  let kube: KubeHarness;
  let creds: KubeconfigCreds;
  let http: KubeHttp;
  const ns = `trellis-ca-${process.pid}-${Date.now().toString(36)}`;

  beforeAll(async () => {
    kube = await startKube();
    creds = loadKubeconfig(kube.kubeconfigPath);
    const kc = new KubeConfig();
    kc.loadFromFile(kube.kubeconfigPath);
    http = new KubeHttp(kc);
    const res = await kubeRequest(creds, "POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: ns },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  });

  afterAll(async () => {
    if (kube?.external && creds) await kubeRequest(creds, "DELETE", `/api/v1/namespaces/${ns}`).catch(() => {});
    await kube?.stop();
  });

  it("creates trellis-ca once when replicas race, and every replica gets the same CA", async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateCaSecret(http, ns)));
    expect(results.filter((r) => r.action === "created")).toHaveLength(1);
    expect(new Set(results.map((r) => r.certPem)).size).toBe(1);
    expect(new Set(results.map((r) => r.keyPem)).size).toBe(1);
    const got = await kubeRequest(creds, "GET", `/api/v1/namespaces/${ns}/secrets/trellis-ca`);
    const body = got.body as { metadata: { labels: Record<string, string> }; data: Record<string, string> };
    expect(body.metadata.labels["app.kubernetes.io/component"]).toBe("ca");
    expect(Buffer.from(body.data["ca-cert.pem"] ?? "", "base64").toString()).toBe(results[0]?.certPem);
  });

  it("persists the rotation phase; a stale writer gets a conflict", async () => {
    const stored = await loadOrCreateCaSecret(http, ns);
    const ca = await createCertificateAuthority({ signing: { kind: "provided", ...stored }, workers: 0 });
    try {
      await ca.beginRootRotation();
      const saved = await saveCaSecret(http, ns, "trellis-ca", ca.persisted(), stored.resourceVersion);
      expect(saved.ok).toBe(true);
      const back = await readCaSecret(http, ns);
      expect(back?.rotation.state).toBe("PUBLISHED");
      const follower = await createCertificateAuthority({
        signing: { kind: "provided", ...(back ?? stored) },
        rotation: back?.rotation,
        workers: 0,
      });
      expect(follower.trustBundlePem()).toBe(ca.trustBundlePem());
      await follower.close();
      expect(await saveCaSecret(http, ns, "trellis-ca", ca.persisted(), stored.resourceVersion)).toEqual({
        ok: false,
        reason: "conflict",
      });
    } finally {
      await ca.close();
    }
  });

  it("prefers a user's cacerts Secret (Istio plug-in CA layout)", async () => {
    const own = await loadOrCreateCaSecret(http, ns);
    const user = await createCertificateAuthority({
      signing: { kind: "generated", commonName: "User Root" },
      workers: 0,
    });
    const material = user.persisted().current;
    await user.close();
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    const res = await kubeRequest(creds, "POST", `/api/v1/namespaces/${ns}/secrets`, {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "cacerts" },
      data: {
        "ca-cert.pem": b64(material.certPem),
        "ca-key.pem": b64(material.keyPem),
        "root-cert.pem": b64(material.certPem),
        "cert-chain.pem": b64(material.certPem),
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    const stored = await loadOrCreateCaSecret(http, ns);
    expect(stored).toMatchObject({ secretName: "cacerts", managed: false, certPem: material.certPem });
    expect(stored.certPem).not.toBe(own.certPem);
  });
});
