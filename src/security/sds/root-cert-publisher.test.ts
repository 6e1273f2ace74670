// The root ConfigMap publisher against an in-memory API (the real API server and
// RBAC: e2e/kube/xds-auth.test.ts and e2e/kube/manifests.test.ts).
import { describe, expect, it } from "vitest";
import type { KubeRequester } from "../authn/token-review.js";
import { type NamespaceInfo, ROOT_CERT_CONFIGMAP, RootCertPublisher } from "./root-cert-publisher.js";

interface Stored {
  data: Record<string, string>;
  resourceVersion: string;
  labels?: Record<string, string>;
}

function fakeApi() {
  const maps = new Map<string, Stored>();
  const log: string[] = [];
  let rv = 1;
  let failing = 0;
  const http: KubeRequester = {
    async request<T>(method: string, path: string, body?: unknown) {
      log.push(`${method} ${path}`);
      if (failing > 0) {
        failing--;
        return { status: 503, body: { message: "etcdserver: request timed out" } as T };
      }
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/configmaps(?:\/([^/]+))?$/.exec(path);
      if (!m) return { status: 404, body: {} as T };
      const key = `${m[1]}/${m[2] ?? (body as { metadata: { name: string } }).metadata.name}`;
      if (method === "GET") {
        const s = maps.get(key);
        return s
          ? { status: 200, body: { metadata: { resourceVersion: s.resourceVersion }, data: s.data } as T }
          : { status: 404, body: {} as T };
      }
      const b = body as {
        metadata: { resourceVersion?: string; labels?: Record<string, string> };
        data: Record<string, string>;
      };
      if (method === "POST") {
        if (maps.has(key)) return { status: 409, body: {} as T };
        maps.set(key, { data: b.data, resourceVersion: String(rv++), labels: b.metadata.labels });
        return { status: 201, body: {} as T };
      }
      if (method === "PUT") {
        const s = maps.get(key);
        if (!s || s.resourceVersion !== b.metadata.resourceVersion) return { status: 409, body: {} as T };
        maps.set(key, { data: b.data, resourceVersion: String(rv++), labels: b.metadata.labels });
        return { status: 200, body: {} as T };
      }
      return { status: 405, body: {} as T };
    },
  };
  return { http, maps, log, fail: (n: number) => (failing = n) };
}

describe("RootCertPublisher", () => {
  it("writes the root into every namespace but those being deleted, only as the leader, and only what changed", async () => {
    const api = fakeApi();
    let leader = false;
    let data = { "root-cert.pem": "ROOT-1" };
    const namespaces: NamespaceInfo[] = [
      { name: "default", phase: "Active" },
      { name: "shop", phase: "Active" },
      { name: "gone", phase: "Terminating" },
    ];
    const p = new RootCertPublisher({
      http: api.http,
      data: () => data,
      namespaces: () => namespaces,
      isLeader: () => leader,
    });
    p.start();
    await new Promise((r) => setTimeout(r, 10));
    await p.idle();
    expect(api.log).toEqual([]);

    leader = true;
    p.resync();
    await new Promise((r) => setTimeout(r, 10));
    await p.idle();
    expect([...api.maps.keys()].sort()).toEqual([`default/${ROOT_CERT_CONFIGMAP}`, `shop/${ROOT_CERT_CONFIGMAP}`]);
    expect(api.maps.get(`shop/${ROOT_CERT_CONFIGMAP}`)).toMatchObject({
      data: { "root-cert.pem": "ROOT-1" },
      labels: { "app.kubernetes.io/managed-by": "trellis" },
    });

    // Nothing changed: no requests at all.
    api.log.length = 0;
    p.schedule();
    await new Promise((r) => setTimeout(r, 10));
    await p.idle();
    expect(api.log).toEqual([]);

    // A new namespace, and a rotated root: created there, updated everywhere.
    namespaces.push({ name: "bank", phase: "Active" });
    data = { "root-cert.pem": "ROOT-1\nROOT-2" };
    p.schedule();
    await new Promise((r) => setTimeout(r, 10));
    await p.idle();
    for (const ns of ["default", "shop", "bank"]) {
      expect(api.maps.get(`${ns}/${ROOT_CERT_CONFIGMAP}`)?.data, ns).toEqual({ "root-cert.pem": "ROOT-1\nROOT-2" });
    }
    await p.stop();
  });

  it("puts back a ConfigMap someone changed on its next resync, and retries failed writes", async () => {
    const api = fakeApi();
    const p = new RootCertPublisher({
      http: api.http,
      data: () => ({ "root-cert.pem": "ROOT" }),
      namespaces: () => [{ name: "shop", phase: "Active" }],
      isLeader: () => true,
    });
    api.fail(1);
    p.start();
    await new Promise((r) => setTimeout(r, 1_300));
    await p.idle();
    expect(api.maps.get(`shop/${ROOT_CERT_CONFIGMAP}`)?.data).toEqual({ "root-cert.pem": "ROOT" });

    (api.maps.get(`shop/${ROOT_CERT_CONFIGMAP}`) as Stored).data = { "root-cert.pem": "tampered" };
    p.resync();
    await new Promise((r) => setTimeout(r, 10));
    await p.idle();
    expect(api.maps.get(`shop/${ROOT_CERT_CONFIGMAP}`)?.data).toEqual({ "root-cert.pem": "ROOT" });
    await p.stop();
  });
});
