// A small JSON client over node:https for what the kube source needs beyond
// client-node's Watch: lists, discovery, status patches. Credentials (client
// certificates, bearer tokens, exec plugins, in-cluster token refresh) come
// from client-node's KubeConfig.
import { request as httpRequest } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";

export interface KubeResponse<T = unknown> {
  status: number;
  body: T;
}

/** An HTTP failure talking to the API server (status 0: no response at all). */
export class KubeError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
    this.name = "KubeError";
  }
}

export class KubeHttp {
  constructor(
    readonly kubeConfig: KubeConfig,
    private readonly timeoutMs = 30_000,
  ) {}

  get server(): string {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    return cluster.server;
  }

  /** One request; resolves with any HTTP status, rejects only when no response arrived. */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<KubeResponse<T>> {
    const url = new URL(this.server.replace(/\/$/, "") + path);
    const opts: RequestOptions = {
      method,
      headers: { accept: "application/json", ...(body !== undefined ? { "content-type": contentType } : {}) },
      timeout: this.timeoutMs,
    };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const send = url.protocol === "http:" ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON (e.g. a proxy's error page): keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed as T });
        });
      });
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no response within ${this.timeoutMs} ms`)));
      req.on("error", reject);
      req.end(payload);
    });
  }

  /** GET that must succeed; a non-2xx status becomes a KubeError carrying the API server's message. */
  async get<T>(path: string): Promise<T> {
    const res = await this.request<T>("GET", path);
    if (res.status < 200 || res.status >= 300) throw errorOf("GET", path, res);
    return res.body;
  }
}

export function errorOf(method: string, path: string, res: KubeResponse): KubeError {
  const status = res.body as { message?: string; reason?: string } | undefined;
  const message = typeof status === "object" && status?.message ? status.message : String(res.body ?? "");
  return new KubeError(res.status, `${method} ${path}: ${res.status} ${message}`.trim(), status?.reason);
}
