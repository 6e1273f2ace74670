// Namespace labels for the injection decision (istio-injection, …), from an
// informer so an admission request does not wait for the API server. A
// namespace the informer has not seen yet (created a moment ago, or the
// informer is still listing) is read once with a GET and remembered until the
// informer catches up.
import { errorOf } from "../../src/sources/kube/http.js";
import { Informer, KubeHttp } from "../../src/sources/kube/index.js";

export interface NamespaceInfo {
  name: string;
  labels: Record<string, string>;
}

export interface NamespaceLookup {
  /** undefined: the namespace does not exist. Rejects when it cannot be read. */
  lookup(name: string): Promise<NamespaceInfo | undefined>;
}

interface NamespaceObject {
  metadata?: { name?: string; labels?: Record<string, string> };
}

const FETCHED_TTL_MS = 30_000;

export class NamespaceCache implements NamespaceLookup {
  private readonly informer: Informer<NamespaceObject & { metadata?: { name?: string } }>;
  private known = new Map<string, NamespaceInfo>();
  private readonly fetched = new Map<string, { info: NamespaceInfo | undefined; at: number }>();
  private readonly getHttp: KubeHttp;

  constructor(opts: {
    http: KubeHttp;
    /** Timeout of the fallback GET, well inside the webhook's own timeout (default 2 s). */
    getTimeoutMs?: number;
    onError?: (err: Error, attempt: number) => void;
  }) {
    this.getHttp = new KubeHttp(opts.http.kubeConfig, opts.getTimeoutMs ?? 2_000);
    this.informer = new Informer({
      path: "/api/v1/namespaces",
      http: opts.http,
      onChange: () => this.rebuild(),
      onError: opts.onError,
    });
  }

  get synced(): boolean {
    return this.informer.status === "SYNCED" || (this.informer.status === "RETRYING" && this.known.size > 0);
  }

  get whenSynced(): Promise<void> {
    return this.informer.synced;
  }

  start(): void {
    this.informer.start();
  }

  stop(): Promise<void> {
    return this.informer.stop();
  }

  private rebuild(): void {
    const next = new Map<string, NamespaceInfo>();
    for (const ns of this.informer.objects()) {
      const name = ns.metadata?.name;
      if (name) next.set(name, { name, labels: { ...(ns.metadata?.labels ?? {}) } });
    }
    this.known = next;
    for (const name of next.keys()) this.fetched.delete(name);
  }

  async lookup(name: string): Promise<NamespaceInfo | undefined> {
    const cached = this.known.get(name);
    if (cached) return cached;
    const f = this.fetched.get(name);
    if (f && Date.now() - f.at < FETCHED_TTL_MS) return f.info;
    const path = `/api/v1/namespaces/${encodeURIComponent(name)}`;
    const res = await this.getHttp.request<NamespaceObject>("GET", path);
    let info: NamespaceInfo | undefined;
    if (res.status === 200) info = { name, labels: { ...(res.body.metadata?.labels ?? {}) } };
    else if (res.status !== 404) throw errorOf("GET", path, res);
    this.fetched.set(name, { info, at: Date.now() });
    return info;
  }
}
