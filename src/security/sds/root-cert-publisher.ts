// Publishes the mesh trust bundle into every namespace as ConfigMap
// trellis-ca-root-cert (Istio's istio-ca-root-cert): workloads and proxyless
// clients mount it, and the injected sidecar verifies the control plane with
// it. What the ConfigMap holds besides `root-cert.pem` is the caller's
// business (`data()`: cli adds the sidecar bootstrap's SDS files).
//
// Only the leader writes (Istio's namespace controller is leader-elected too);
// every write is idempotent (create, or update only when the data differs), so
// two replicas briefly both leading do no harm. Reconciled when namespaces or
// the bundle change, when this replica becomes leader, and every `resyncMs`
// (someone may have edited or deleted a ConfigMap: the RBAC allows no
// cluster-wide ConfigMap watch). Namespaces being deleted are skipped.
import { createHash } from "node:crypto";
import type { KubeRequester } from "../authn/token-review.js";

export const ROOT_CERT_CONFIGMAP = "trellis-ca-root-cert";

export interface NamespaceInfo {
  name: string;
  /** status.phase: "Active" or "Terminating". */
  phase?: string;
}

export interface RootCertPublisherOptions {
  http: KubeRequester;
  /** Default trellis-ca-root-cert. */
  name?: string;
  /** The ConfigMap's data as it should be now. */
  data: () => Record<string, string>;
  namespaces: () => readonly NamespaceInfo[];
  isLeader: () => boolean;
  /** Full verification of every namespace (default 10 min). */
  resyncMs?: number;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  onWrite?: (namespace: string, result: "created" | "updated" | "failed", err?: Error) => void;
}

interface ConfigMap {
  metadata?: { resourceVersion?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}

export class RootCertPublisher {
  private readonly name: string;
  /** Namespace → hash of the data known to be there. */
  private readonly published = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private failures = 0;

  constructor(private readonly opts: RootCertPublisherOptions) {
    this.name = opts.name ?? ROOT_CERT_CONFIGMAP;
  }

  start(): void {
    const every = this.opts.resyncMs ?? 10 * 60_000;
    this.resyncTimer = setInterval(() => this.resync(), every);
    this.resyncTimer.unref?.();
    this.schedule();
  }

  /** Check every namespace again (e.g. this replica just became leader). */
  resync(): void {
    this.published.clear();
    this.schedule();
  }

  /** Reconcile soon; calls coalesce. */
  schedule(delayMs = 0): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.reconcile().finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.schedule();
        }
      });
    }, delayMs);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.resyncTimer);
    await this.running;
  }

  /** Waits until nothing is scheduled or running (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async reconcile(): Promise<void> {
    if (this.stopped || !this.opts.isLeader()) return;
    const data = this.opts.data();
    const hash = hashOf(data);
    const todo = this.opts
      .namespaces()
      .filter((ns) => ns.phase !== "Terminating" && this.published.get(ns.name) !== hash)
      .map((ns) => ns.name);
    const live = new Set(this.opts.namespaces().map((n) => n.name));
    for (const ns of this.published.keys()) if (!live.has(ns)) this.published.delete(ns);
    let failed = false;
    const queue = [...todo];
    const worker = async () => {
      for (let ns = queue.shift(); ns !== undefined; ns = queue.shift()) {
        if (this.stopped || !this.opts.isLeader()) return;
        try {
          await this.ensure(ns, data);
          this.published.set(ns, hash);
        } catch (err) {
          failed = true;
          this.opts.onWrite?.(ns, "failed", err as Error);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.opts.concurrency ?? 4) }, worker));
    if (failed) {
      // Back off 1 s doubling to 1 min; the namespaces that worked are not retried.
      this.failures++;
      this.schedule(Math.min(60_000, 1_000 * 2 ** (this.failures - 1)));
    } else this.failures = 0;
  }

  private async ensure(namespace: string, data: Record<string, string>): Promise<void> {
    const path = `/api/v1/namespaces/${namespace}/configmaps`;
    const got = await this.opts.http.request<ConfigMap>("GET", `${path}/${this.name}`);
    if (got.status === 404) {
      const res = await this.opts.http.request("POST", path, {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: this.name, namespace, labels: { "app.kubernetes.io/managed-by": "trellis" } },
        data,
      });
      // 409: created meanwhile (another replica); the next resync compares it.
      if (res.status === 201 || res.status === 409) {
        if (res.status === 201) this.opts.onWrite?.(namespace, "created");
        return;
      }
      throw httpError("POST", `${path}`, res);
    }
    if (got.status !== 200) throw httpError("GET", `${path}/${this.name}`, got);
    if (sameData(got.body.data ?? {}, data)) return;
    const res = await this.opts.http.request("PUT", `${path}/${this.name}`, {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: this.name,
        namespace,
        resourceVersion: got.body.metadata?.resourceVersion,
        labels: { ...(got.body.metadata?.labels ?? {}), "app.kubernetes.io/managed-by": "trellis" },
      },
      data,
    });
    if (res.status !== 200) throw httpError("PUT", `${path}/${this.name}`, res);
    this.opts.onWrite?.(namespace, "updated");
  }
}

function hashOf(data: Record<string, string>): string {
  const h = createHash("sha256");
  for (const k of Object.keys(data).sort())
    h.update(k)
      .update("\u0000")
      .update(data[k] ?? "")
      .update("\u0001");
  return h.digest("base64url");
}

function sameData(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function httpError(method: string, path: string, res: { status: number; body: unknown }): Error {
  const message =
    typeof res.body === "object" && res.body !== null && "message" in res.body
      ? String((res.body as { message: unknown }).message)
      : "";
  return new Error(`${method} ${path}: ${res.status} ${message}`.trim());
}
