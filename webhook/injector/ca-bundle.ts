// Keeps the caBundle of every webhook in the MutatingWebhookConfiguration
// trusting the injector's CA. `kubectl apply` of manifests/ (which leave
// caBundle out) resets it, so it is re-checked on every change of that one
// object (a watch selected by name, which is all RBAC allows) and periodically.
//
// With several replicas, and during a CA rotation, replicas may briefly
// disagree on which CAs there are. So a replica only ever *adds* the CAs it
// needs and removes CAs that have expired or cannot be parsed; a newer CA put
// there by another replica stays. Nothing is written when nothing is missing,
// so replicas do not fight over the object.
import { X509Certificate } from "node:crypto";
import { errorOf } from "../../src/sources/kube/http.js";
import { Informer, type KubeHttp } from "../../src/sources/kube/index.js";
import { pemCertificates } from "./certs.js";

export interface WebhookConfiguration {
  metadata?: { name?: string; resourceVersion?: string };
  webhooks?: { name: string; clientConfig?: { caBundle?: string } }[];
}

export type JsonPatchOp = { op: "test" | "add" | "replace"; path: string; value: unknown };

interface BundleCert {
  pem: string;
  fingerprint: string;
  expired: boolean;
}

function parseBundle(base64: string | undefined, now: Date): { certs: BundleCert[]; unusable: number } {
  const text = base64 ? Buffer.from(base64, "base64").toString("utf8") : "";
  const certs: BundleCert[] = [];
  let unusable = 0;
  for (const pem of pemCertificates(text)) {
    try {
      const c = new X509Certificate(pem);
      certs.push({ pem, fingerprint: c.fingerprint256, expired: new Date(c.validTo).getTime() <= now.getTime() });
    } catch {
      unusable++;
    }
  }
  // Text that is not PEM at all (e.g. a stale DER blob) counts as unusable too.
  if (text.trim() !== "" && certs.length === 0) unusable++;
  return { certs, unusable };
}

/**
 * JSON patch (RFC 6902) that makes every webhook's caBundle trust `wanted` (PEM certificates),
 * or [] when every webhook already does. Each change is guarded by a `test` of the webhook's name,
 * so a concurrent reordering of the webhooks makes the patch fail instead of hitting the wrong one.
 */
export function caBundlePatch(
  config: WebhookConfiguration,
  wanted: readonly string[],
  now = new Date(),
): JsonPatchOp[] {
  const want = wanted.map((pem) => ({ pem, fingerprint: new X509Certificate(pem).fingerprint256 }));
  const ops: JsonPatchOp[] = [];
  for (const [i, webhook] of (config.webhooks ?? []).entries()) {
    const { certs, unusable } = parseBundle(webhook.clientConfig?.caBundle, now);
    const have = new Set(certs.map((c) => c.fingerprint));
    const missing = want.some((w) => !have.has(w.fingerprint));
    const stale = unusable > 0 || certs.some((c) => c.expired);
    if (!missing && !stale) continue;
    const wantedFps = new Set(want.map((w) => w.fingerprint));
    const kept = certs.filter((c) => !c.expired && !wantedFps.has(c.fingerprint)).map((c) => c.pem);
    const bundle = [...want.map((w) => w.pem), ...kept].join("");
    ops.push(
      { op: "test", path: `/webhooks/${i}/name`, value: webhook.name },
      { op: "add", path: `/webhooks/${i}/clientConfig/caBundle`, value: Buffer.from(bundle).toString("base64") },
    );
  }
  return ops;
}

export type ReconcileResult = "patched" | "unchanged" | "missing";

export interface CaBundleReconcilerOptions {
  http: KubeHttp;
  /** Name of the MutatingWebhookConfiguration. */
  name: string;
  /** The CA certificates (PEM) to trust; undefined while there is none yet. */
  bundle: () => readonly string[] | undefined;
  /** Periodic re-check even without a watch event (default 60 s). */
  resyncMs?: number;
  onResult?: (result: ReconcileResult | "error", detail?: string) => void;
  logger?: { info(o: object, m: string): void; warn(o: object, m: string): void };
}

export class CaBundleReconciler {
  private readonly informer: Informer;
  private readonly path: string;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private failures = 0;
  private lastMissingLogged = false;

  constructor(private readonly opts: CaBundleReconcilerOptions) {
    this.path = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${encodeURIComponent(opts.name)}`;
    // RBAC grants list/watch by resourceName only to requests that select that one name.
    const selected = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations?fieldSelector=${encodeURIComponent(`metadata.name=${opts.name}`)}`;
    this.informer = new Informer({
      path: selected,
      http: opts.http,
      onChange: () => this.trigger(),
      onError: (err, attempt) => {
        if (attempt >= 2)
          opts.logger?.warn({ err: err.message }, "watching the webhook configuration failed; retrying");
      },
    });
  }

  start(): void {
    this.informer.start();
    this.trigger();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.informer.stop();
    await this.running;
  }

  /** Re-check soon; calls coalesce, and never run concurrently. */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.run().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.trigger();
      }
    });
  }

  private async run(): Promise<void> {
    let delay = this.opts.resyncMs ?? 60_000;
    try {
      const result = await this.reconcile();
      this.failures = 0;
      this.opts.onResult?.(result);
    } catch (err) {
      this.failures++;
      delay = Math.min(delay, 500 * 2 ** Math.min(this.failures, 6));
      this.opts.onResult?.("error", (err as Error).message);
      this.opts.logger?.warn(
        { err: (err as Error).message, webhookConfiguration: this.opts.name, retryInMs: delay },
        "could not update the webhook caBundle; retrying",
      );
    }
    if (!this.stopped) {
      this.timer = setTimeout(() => this.trigger(), delay * (0.9 + Math.random() * 0.2));
      this.timer.unref?.();
    }
  }

  /** One GET and, if something is missing, one PATCH. */
  async reconcile(): Promise<ReconcileResult> {
    const wanted = this.opts.bundle();
    if (!wanted || wanted.length === 0) return "unchanged";
    const got = await this.opts.http.request<WebhookConfiguration>("GET", this.path);
    if (got.status === 404) {
      if (!this.lastMissingLogged) {
        this.opts.logger?.warn(
          { webhookConfiguration: this.opts.name },
          "MutatingWebhookConfiguration not found; its caBundle will be set when it is created",
        );
      }
      this.lastMissingLogged = true;
      return "missing";
    }
    this.lastMissingLogged = false;
    if (got.status !== 200) throw errorOf("GET", this.path, got);
    const ops = caBundlePatch(got.body, wanted);
    if (ops.length === 0) return "unchanged";
    const res = await this.opts.http.request("PATCH", this.path, ops, "application/json-patch+json");
    if (res.status !== 200) throw errorOf("PATCH", this.path, res);
    this.opts.logger?.info(
      { webhookConfiguration: this.opts.name, webhooks: ops.length / 2 },
      "patched the webhook caBundle",
    );
    return "patched";
  }
}
