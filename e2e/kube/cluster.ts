// Helpers for suites that put objects into the harness's API server: apply the
// generated CRDs from manifests/crds, create/patch/delete objects, poll.
import { readdirSync, readFileSync } from "node:fs";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { parse as parseYaml } from "yaml";
import { type KubeconfigCreds, kubeRequest } from "./harness.js";

const REPO = new URL("../..", import.meta.url).pathname;

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v as T;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

/** Creates (or replaces) every CRD in manifests/crds and waits until each is Established. */
export async function applyCrds(creds: KubeconfigCreds): Promise<string[]> {
  const dir = join(REPO, "manifests/crds");
  const names: string[] = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")) {
    const crd = parseYaml(readFileSync(join(dir, f), "utf8")) as { metadata: { name: string } };
    const path = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions`;
    const res = await kubeRequest(creds, "POST", path, crd);
    if (res.status === 409) {
      const cur = await kubeRequest(creds, "GET", `${path}/${crd.metadata.name}`);
      const rv = (cur.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
      const put = await kubeRequest(creds, "PUT", `${path}/${crd.metadata.name}`, {
        ...crd,
        metadata: { ...crd.metadata, resourceVersion: rv },
      });
      if (put.status !== 200) throw new Error(`updating CRD ${crd.metadata.name}: ${JSON.stringify(put.body)}`);
    } else if (res.status !== 201) {
      throw new Error(`creating CRD ${crd.metadata.name}: ${res.status} ${JSON.stringify(res.body)}`);
    }
    names.push(crd.metadata.name);
  }
  for (const name of names) {
    await until(`CRD ${name} Established`, async () => {
      const r = await kubeRequest(creds, "GET", `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
      const conds = (r.body as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions;
      return conds?.some((c) => c.type === "Established" && c.status === "True");
    });
  }
  return names;
}

export class Objects {
  constructor(private readonly creds: KubeconfigCreds) {}

  async create(path: string, body: unknown): Promise<Record<string, unknown>> {
    const r = await kubeRequest(this.creds, "POST", path, body);
    if (r.status !== 201) throw new Error(`POST ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as Record<string, unknown>;
  }

  async get(path: string): Promise<Record<string, unknown> | undefined> {
    const r = await kubeRequest(this.creds, "GET", path);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body as Record<string, unknown>;
  }

  /** Read-modify-write with the resourceVersion, retried on conflict. */
  async update(path: string, change: (o: Record<string, unknown>) => void): Promise<void> {
    for (let i = 0; i < 5; i++) {
      const cur = await this.get(path);
      if (!cur) throw new Error(`${path} not found`);
      change(cur);
      const r = await kubeRequest(this.creds, "PUT", path, cur);
      if (r.status === 200) return;
      if (r.status !== 409) throw new Error(`PUT ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    }
    throw new Error(`PUT ${path}: kept conflicting`);
  }

  async delete(path: string): Promise<void> {
    const r = await kubeRequest(this.creds, "DELETE", path);
    if (r.status !== 200 && r.status !== 202 && r.status !== 404) {
      throw new Error(`DELETE ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    }
  }
}

/**
 * An address of this machine that the API server accepts as an endpoint
 * (EndpointSlice validation refuses loopback and link-local). Traffic to it is
 * delivered locally by the kernel and never leaves the machine.
 */
export function localEndpointAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === "IPv4" && !a.internal && !a.address.startsWith("169.254.")) return a.address;
    }
  }
  return undefined;
}

export type Reply = { backend: string };

export function call(client: grpc.Client, deadlineMs = 2_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // biome-ignore lint/suspicious/noExplicitAny: generic client method
    (client as any).Echo(
      { text: "hi" },
      new grpc.Metadata(),
      { deadline: Date.now() + deadlineMs },
      (err: Error | null, res: Reply) => (err ? reject(err) : resolve(res)),
    );
  });
}

/** Which backends answer `n` calls (failed calls count under "error"). */
export async function spread(client: grpc.Client, n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const key = await call(client).then(
      (r) => r.backend,
      () => "error",
    );
    seen[key] = (seen[key] ?? 0) + 1;
  }
  return seen;
}

export async function pushes(adminUrl: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^trellis_xds_pushes_total\{type="([^"]+)"\} (\d+)/gm))
    out[m[1] as string] = Number(m[2]);
  return out;
}
