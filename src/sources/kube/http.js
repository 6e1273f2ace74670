// A small JSON client over node:https for what the kube source needs beyond
// client-node's Watch: lists, discovery, status patches. Credentials (client
// certificates, bearer tokens, exec plugins, in-cluster token refresh) come
// from client-node's KubeConfig.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
/** An HTTP failure talking to the API server (status 0: no response at all). */
export class KubeError extends Error {
  status;
  reason;
  constructor(status, message, reason) {
    super(message);
    this.status = status;
    this.reason = reason;
    this.name = "KubeError";
  }
}
export class KubeHttp {
  kubeConfig;
  timeoutMs;
  constructor(kubeConfig, timeoutMs = 30_000) {
    this.kubeConfig = kubeConfig;
    this.timeoutMs = timeoutMs;
  }
  get server() {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    return cluster.server;
  }
  /** One request; resolves with any HTTP status, rejects only when no response arrived. */
  async request(method, path, body, contentType = "application/json") {
    const url = new URL(this.server.replace(/\/$/, "") + path);
    const opts = {
      method,
      headers: { accept: "application/json", ...(body !== undefined ? { "content-type": contentType } : {}) },
      timeout: this.timeoutMs,
    };
    await this.kubeConfig.applyToHTTPSOptions(opts);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const send = url.protocol === "http:" ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = send(url, opts, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed = text;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON (e.g. a proxy's error page): keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      });
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: no response within ${this.timeoutMs} ms`)));
      req.on("error", reject);
      req.end(payload);
    });
  }
  /** GET that must succeed; a non-2xx status becomes a KubeError carrying the API server's message. */
  async get(path) {
    const res = await this.request("GET", path);
    if (res.status < 200 || res.status >= 300) throw errorOf("GET", path, res);
    return res.body;
  }
}
export function errorOf(method, path, res) {
  const status = res.body;
  const message = typeof status === "object" && status?.message ? status.message : String(res.body ?? "");
  return new KubeError(res.status, `${method} ${path}: ${res.status} ${message}`.trim(), status?.reason);
}
//# sourceMappingURL=http.js.map
