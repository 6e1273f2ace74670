// `trellis ca rotate-root` against an in-memory stand-in for the API server's
// Secret endpoints (GET / POST / PUT with resourceVersion conflicts). The real
// API server and live streams are exercised by e2e/kube/root-rotation.test.ts.
import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type CaSecretHttp, loadOrCreateCaSecret, readCaSecret, splitPemCertificates } from "../security/ca/index.js";
import { rotateRoot } from "./ca.js";

function fakeApiServer() {
  const secrets = new Map<string, { data: Record<string, string>; resourceVersion: number }>();
  let rv = 1;
  /** Runs before each PUT is applied (tests use it to write concurrently). */
  let beforePut: (() => void) | undefined;
  const http: CaSecretHttp = {
    async request<T>(method: string, path: string, body?: unknown) {
      await new Promise((r) => setImmediate(r));
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/.exec(path);
      if (!m) return { status: 404, body: {} as T };
      const b = body as { metadata: { name: string; resourceVersion?: string }; data: Record<string, string> };
      const key = `${m[1]}/${m[2] ?? b?.metadata.name}`;
      const existing = secrets.get(key);
      const asObject = (s: { data: Record<string, string>; resourceVersion: number }) =>
        ({ metadata: { resourceVersion: String(s.resourceVersion) }, data: s.data }) as T;
      if (method === "GET")
        return existing ? { status: 200, body: asObject(existing) } : { status: 404, body: {} as T };
      if (method === "POST") {
        if (existing) return { status: 409, body: {} as T };
        const s = { data: b.data, resourceVersion: rv++ };
        secrets.set(key, s);
        return { status: 201, body: asObject(s) };
      }
      if (method === "PUT") {
        beforePut?.();
        const now = secrets.get(key);
        if (!now) return { status: 404, body: {} as T };
        if (b.metadata.resourceVersion !== String(now.resourceVersion)) return { status: 409, body: {} as T };
        const s = { data: b.data, resourceVersion: rv++ };
        secrets.set(key, s);
        return { status: 200, body: asObject(s) };
      }
      return { status: 405, body: {} as T };
    },
  };
  return {
    http,
    secrets,
    set beforePut(f: (() => void) | undefined) {
      beforePut = f;
    },
  };
}

const NS = "trellis-system";

describe("trellis ca rotate-root", () => {
  it("publishes a new root, switches signing to it, and retires the old one, saving each phase in the Secret", async () => {
    const api = fakeApiServer();
    const initial = await loadOrCreateCaSecret(api.http, NS, undefined, { cacertsName: null });
    const lines: string[] = [];
    const out = (l: string) => lines.push(l);

    await rotateRoot(api.http, NS, "publish", out);
    const published = await readCaSecret(api.http, NS);
    expect(published?.rotation.state).toBe("PUBLISHED");
    expect(published?.certPem).toBe(initial.certPem);
    const newRoot = published?.rotation.state === "PUBLISHED" ? published.rotation.next.certPem : "";
    expect(new X509Certificate(newRoot).fingerprint256).not.toBe(new X509Certificate(initial.certPem).fingerprint256);
    expect(lines.join("\n")).toMatch(/2 roots/);

    await rotateRoot(api.http, NS, "switch", out);
    const switched = await readCaSecret(api.http, NS);
    expect(switched?.rotation.state).toBe("SWITCHED");
    expect(switched?.certPem).toBe(newRoot);
    expect(switched?.rotation.state === "SWITCHED" && splitPemCertificates(switched.rotation.previousRootsPem)).toEqual(
      [initial.certPem],
    );
    expect(lines.join("\n")).toMatch(/Wait at least one workload certificate TTL/);

    await rotateRoot(api.http, NS, "retire", out);
    const retired = await readCaSecret(api.http, NS);
    expect(retired?.rotation.state).toBe("STABLE");
    expect(retired?.certPem).toBe(newRoot);
    expect(lines.join("\n")).toMatch(/holds 1 root\./);
  });

  it("refuses a phase out of order and names the next step, leaving the Secret unchanged", async () => {
    const api = fakeApiServer();
    await loadOrCreateCaSecret(api.http, NS, undefined, { cacertsName: null });
    const before = JSON.stringify([...api.secrets]);
    await expect(rotateRoot(api.http, NS, "switch")).rejects.toThrow(/STABLE; `switch` needs PUBLISHED.*`publish`/);
    await expect(rotateRoot(api.http, NS, "retire")).rejects.toThrow(/`retire` needs SWITCHED/);
    expect(JSON.stringify([...api.secrets])).toBe(before);
    await rotateRoot(api.http, NS, "publish");
    await expect(rotateRoot(api.http, NS, "publish")).rejects.toThrow(/PUBLISHED; `publish` needs STABLE.*`switch`/);
    await expect(rotateRoot(api.http, NS, "retire")).rejects.toThrow(/`retire` needs SWITCHED/);
  });

  it("saves nothing when the Secret changed in between (resourceVersion conflict)", async () => {
    const api = fakeApiServer();
    await loadOrCreateCaSecret(api.http, NS, undefined, { cacertsName: null });
    api.beforePut = () => {
      const s = api.secrets.get(`${NS}/trellis-ca`);
      if (s) s.resourceVersion += 100;
      api.beforePut = undefined;
    };
    await expect(rotateRoot(api.http, NS, "publish")).rejects.toThrow(/changed while rotating/);
    expect((await readCaSecret(api.http, NS))?.rotation.state).toBe("STABLE");
  });

  it("refuses when the mesh CA is a user-provided cacerts Secret, and when there is no CA Secret", async () => {
    const api = fakeApiServer();
    await expect(rotateRoot(api.http, NS, "publish")).rejects.toThrow(/does not exist/);
    const own = await loadOrCreateCaSecret(api.http, NS, undefined, { cacertsName: null });
    const data = api.secrets.get(`${NS}/trellis-ca`)?.data ?? {};
    api.secrets.set(`${NS}/cacerts`, { data, resourceVersion: 999 });
    expect(own.action).toBe("created");
    await expect(rotateRoot(api.http, NS, "publish")).rejects.toThrow(/user-provided Secret .*cacerts/);
  });
});
