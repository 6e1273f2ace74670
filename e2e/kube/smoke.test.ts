// Smoke test for the real API server harness: start etcd + kube-apiserver (or use
// $KUBECONFIG), create a Namespace and a ConfigMap, read them back, clean up.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KubeconfigCreds, type KubeHarness, kubeRequest, loadKubeconfig, startKube } from "./harness.js";

describe("kube harness smoke", () => {
  let kube: KubeHarness;
  let creds: KubeconfigCreds;
  const ns = `trellis-smoke-${process.pid}-${Date.now().toString(36)}`;

  beforeAll(async () => {
    kube = await startKube();
    creds = loadKubeconfig(kube.kubeconfigPath);
  });

  afterAll(async () => {
    // Against an external cluster, leave nothing behind (namespace deletion is async there).
    if (kube?.external && creds) await kubeRequest(creds, "DELETE", `/api/v1/namespaces/${ns}`).catch(() => {});
    await kube?.stop();
  });

  it("serves /version and /readyz", async () => {
    const v = await kubeRequest(creds, "GET", "/version");
    expect(v.status).toBe(200);
    expect((v.body as { major: string }).major).toBe("1");
    const r = await kubeRequest(creds, "GET", "/readyz");
    expect(r.status).toBe(200);
  });

  it("creates and reads back a Namespace and a ConfigMap", async () => {
    const created = await kubeRequest(creds, "POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: ns, labels: { "trellis.dev/e2e": "smoke" } },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);

    const cm = await kubeRequest(creds, "POST", `/api/v1/namespaces/${ns}/configmaps`, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "mesh" },
      data: { "mesh.yaml": "trustDomain: cluster.local\n" },
    });
    expect(cm.status, JSON.stringify(cm.body)).toBe(201);

    const gotNs = await kubeRequest(creds, "GET", `/api/v1/namespaces/${ns}`);
    expect(gotNs.status).toBe(200);
    expect((gotNs.body as { metadata: { labels: Record<string, string> } }).metadata.labels["trellis.dev/e2e"]).toBe(
      "smoke",
    );

    const gotCm = await kubeRequest(creds, "GET", `/api/v1/namespaces/${ns}/configmaps/mesh`);
    expect(gotCm.status).toBe(200);
    expect((gotCm.body as { data: Record<string, string> }).data["mesh.yaml"]).toBe("trustDomain: cluster.local\n");
  });

  it("enforces RBAC: an unauthenticated request is rejected", async () => {
    const anon = await kubeRequest(
      { server: creds.server, ca: creds.ca, insecureSkipTlsVerify: creds.insecureSkipTlsVerify },
      "GET",
      `/api/v1/namespaces/${ns}/configmaps`,
    );
    expect([401, 403]).toContain(anon.status);
  });
});
