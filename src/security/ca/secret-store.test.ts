// The CA Secret against an in-memory stand-in for the API server's Secret
// endpoints (GET / POST with 409 AlreadyExists / PUT with resourceVersion
// conflicts). The real API server is exercised by e2e/kube when run.
import { describe, expect, it } from "vitest";
import { createCertificateAuthority } from "./authority.js";
import { type CaSecretHttp, loadOrCreateCaSecret, readCaSecret, saveCaSecret } from "./secret-store.js";
import { generateRoot } from "./signer.js";

interface Stored {
  data: Record<string, string>;
  resourceVersion: number;
}

/** Secrets keyed by "ns/name"; every call yields to the event loop first, so concurrent callers interleave. */
function fakeApiServer() {
  const secrets = new Map<string, Stored>();
  let rv = 1;
  const calls: string[] = [];
  const http: CaSecretHttp = {
    async request<T>(method: string, path: string, body?: unknown) {
      await new Promise((r) => setImmediate(r));
      calls.push(`${method} ${path}`);
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/.exec(path);
      if (!m) return { status: 404, body: {} as T };
      const b = body as { metadata: { name: string; resourceVersion?: string }; data: Record<string, string> };
      const key = `${m[1]}/${m[2] ?? b?.metadata.name}`;
      const existing = secrets.get(key);
      const asObject = (s: Stored) => ({ metadata: { resourceVersion: String(s.resourceVersion) }, data: s.data }) as T;
      if (method === "GET")
        return existing ? { status: 200, body: asObject(existing) } : { status: 404, body: {} as T };
      if (method === "POST") {
        if (existing) return { status: 409, body: { reason: "AlreadyExists", message: "exists" } as T };
        const s = { data: b.data, resourceVersion: rv++ };
        secrets.set(key, s);
        return { status: 201, body: asObject(s) };
      }
      if (method === "PUT") {
        if (!existing) return { status: 404, body: {} as T };
        if (b.metadata.resourceVersion !== String(existing.resourceVersion)) {
          return { status: 409, body: { reason: "Conflict", message: "the object has been modified" } as T };
        }
        const s = { data: b.data, resourceVersion: rv++ };
        secrets.set(key, s);
        return { status: 200, body: asObject(s) };
      }
      return { status: 405, body: {} as T };
    },
  };
  const put = (ns: string, name: string, text: Record<string, string>) => {
    const data = Object.fromEntries(Object.entries(text).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
    secrets.set(`${ns}/${name}`, { data, resourceVersion: rv++ });
  };
  return { http, secrets, calls, put };
}

describe("loadOrCreateCaSecret", () => {
  it("creates trellis-ca once; replicas racing to create it all end up with the winner's CA", async () => {
    const api = fakeApiServer();
    const results = await Promise.all([1, 2, 3].map(() => loadOrCreateCaSecret(api.http, "trellis-system")));
    expect(results.map((r) => r.action).sort()).toEqual(["created", "loaded", "loaded"]);
    expect(new Set(results.map((r) => r.certPem)).size).toBe(1);
    expect(new Set(results.map((r) => r.keyPem)).size).toBe(1);
    expect(results.every((r) => r.managed && r.secretName === "trellis-ca" && r.rotation.state === "STABLE")).toBe(
      true,
    );
    expect(api.calls.filter((c) => c.startsWith("POST"))).toHaveLength(3); // two lost with 409
    const again = await loadOrCreateCaSecret(api.http, "trellis-system");
    expect(again).toMatchObject({ action: "loaded", certPem: results[0]?.certPem });
    // Istio's key names.
    expect(Object.keys(api.secrets.get("trellis-system/trellis-ca")?.data ?? {}).sort()).toEqual([
      "ca-cert.pem",
      "ca-key.pem",
      "rotation-state",
    ]);
  });

  it("uses a user's Istio-style cacerts Secret when present, and never writes to it", async () => {
    const api = fakeApiServer();
    const user = await generateRoot({ now: Date.now(), ttlMs: 86_400_000, commonName: "User Root" });
    api.put("trellis-system", "cacerts", {
      "ca-cert.pem": user.certPem,
      "ca-key.pem": user.keyPem,
      "cert-chain.pem": "",
      "root-cert.pem": user.certPem,
    });
    const stored = await loadOrCreateCaSecret(api.http, "trellis-system");
    expect(stored).toMatchObject({ secretName: "cacerts", managed: false, action: "loaded", certPem: user.certPem });
    expect(stored.rootPem).toBe(user.certPem);
    expect(stored.chainPem).toBeUndefined(); // empty keys are absent
    expect(api.calls.some((c) => !c.startsWith("GET"))).toBe(false);
    await expect(
      saveCaSecret(api.http, "trellis-system", "cacerts", { current: user, rotation: { state: "STABLE" } }, "1"),
    ).rejects.toThrow(/never writes/);
    // Ignored on request.
    const own = await loadOrCreateCaSecret(api.http, "trellis-system", "trellis-ca", { cacertsName: null });
    expect(own).toMatchObject({ secretName: "trellis-ca", action: "created" });
  });

  it("names the Secret and the problem when it holds no usable CA", async () => {
    const api = fakeApiServer();
    const user = await generateRoot({ now: Date.now(), ttlMs: 86_400_000, commonName: "User Root" });
    const other = await generateRoot({ now: Date.now(), ttlMs: 86_400_000, commonName: "Other" });
    api.put("ns", "trellis-ca", { "ca-cert.pem": user.certPem, "ca-key.pem": other.keyPem });
    await expect(loadOrCreateCaSecret(api.http, "ns")).rejects.toThrow(
      /Secret ns\/trellis-ca: the CA: CA key does not match/,
    );
    api.put("ns", "trellis-ca", { "ca-cert.pem": user.certPem });
    await expect(loadOrCreateCaSecret(api.http, "ns")).rejects.toThrow(/has no ca-cert.pem and ca-key.pem/);
    api.put("ns", "trellis-ca", { "ca-cert.pem": user.certPem, "ca-key.pem": user.keyPem, "rotation-state": "HALF" });
    await expect(loadOrCreateCaSecret(api.http, "ns")).rejects.toThrow(/unknown rotation-state "HALF"/);
  });

  it("throws the API server's error for anything but 200/404 (e.g. RBAC)", async () => {
    const http: CaSecretHttp = {
      request: async <T>() => ({ status: 403, body: { message: 'secrets "cacerts" is forbidden' } as T }),
    };
    await expect(loadOrCreateCaSecret(http, "ns")).rejects.toThrow(/403 secrets "cacerts" is forbidden/);
  });
});

describe("saveCaSecret", () => {
  it("persists every rotation phase with optimistic concurrency, and a restarted leader resumes it", async () => {
    const api = fakeApiServer();
    const stored = await loadOrCreateCaSecret(api.http, "ns");
    const ca = await createCertificateAuthority({ signing: { kind: "provided", ...stored }, workers: 0 });
    let rv = stored.resourceVersion;
    for (const step of [() => ca.beginRootRotation(), () => ca.switchSigning()]) {
      await step();
      const saved = await saveCaSecret(api.http, "ns", "trellis-ca", ca.persisted(), rv);
      if (!saved.ok) throw new Error("conflict");
      rv = saved.resourceVersion;
      const back = await readCaSecret(api.http, "ns");
      expect(back?.rotation).toEqual(ca.persisted().rotation);
      expect(back?.certPem).toBe(ca.persisted().current.certPem);
      const resumed = await createCertificateAuthority({
        signing: { kind: "provided", ...(back ?? stored) },
        rotation: back?.rotation,
        workers: 0,
      });
      expect(resumed.state()).toBe(ca.state());
      expect(resumed.trustBundlePem()).toBe(ca.trustBundlePem());
      await resumed.close();
    }
    // A writer holding a stale resourceVersion loses.
    expect(await saveCaSecret(api.http, "ns", "trellis-ca", ca.persisted(), stored.resourceVersion)).toEqual({
      ok: false,
      reason: "conflict",
    });
    await ca.close();
  });
});
