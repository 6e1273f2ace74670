// One informer per watched resource, shared by everything that needs it:
// client-node's ListWatch (list, then watch from the list's resourceVersion;
// relist on 410 Gone; deletions found by relisting are reported) plus what it
// leaves to its caller: it stops on any other error, so we restart it with
// backoff (resuming the watch from the last resourceVersion, so nothing is
// listed twice or lost); watches ask for bookmarks (cheap resourceVersion
// progress, so a restart rarely needs a relist) and end after a jittered
// timeout so a half-open connection cannot hide changes forever.
import { type KubernetesListObject, type KubernetesObject, ListWatch, Watch } from "@kubernetes/client-node";
import type { KubeHttp } from "./http.js";

export type InformerState = "STARTING" | "SYNCED" | "RETRYING" | "STOPPED";

export interface InformerOptions {
  /** API path of the collection, e.g. `/api/v1/services`. */
  path: string;
  http: KubeHttp;
  /** Called (coalesced per tick) after objects were added, updated or deleted. */
  onChange: () => void;
  onError?: (err: Error, attempt: number) => void;
  /** Backoff after failures: doubles from `minBackoffMs` up to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Server-side watch timeout, jittered by up to +50 % (default 300 s). */
  watchTimeoutSeconds?: number;
}

class BookmarkWatch extends Watch {
  constructor(
    kc: ConstructorParameters<typeof Watch>[0],
    private readonly timeoutSeconds: number,
  ) {
    super(kc);
  }

  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const timeoutSeconds = Math.round(this.timeoutSeconds * (1 + Math.random() / 2));
    return super.watch(path, { ...queryParams, allowWatchBookmarks: true, timeoutSeconds }, callback, done);
  }
}

export class Informer<T extends KubernetesObject = KubernetesObject> {
  private readonly listWatch: ListWatch<T>;
  private state: InformerState = "STARTING";
  private hasSynced = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private changeQueued = false;
  private resolveSynced!: () => void;
  /** Resolves after the first successful list (never rejects; failures are retried). */
  readonly synced: Promise<void>;
  /** Failures since the informer last synced or resumed (for metrics and readiness). */
  consecutiveFailures = 0;
  lastError: Error | undefined;

  constructor(private readonly opts: InformerOptions) {
    this.synced = new Promise((r) => {
      this.resolveSynced = r;
    });
    const watch = new BookmarkWatch(opts.http.kubeConfig, opts.watchTimeoutSeconds ?? 300);
    this.listWatch = new ListWatch<T>(opts.path, watch, () => this.fetchList(), false);
    const changed = () => this.queueChange();
    this.listWatch.on("add", changed);
    this.listWatch.on("update", changed);
    this.listWatch.on("delete", changed);
    this.listWatch.on("connect", () => {
      // A resumed watch keeps the cache (it is only as stale as the outage).
      if (this.state === "RETRYING") this.state = this.hasSynced ? "SYNCED" : "STARTING";
    });
    this.listWatch.on("error", (err: unknown) => this.failed(err));
  }

  get status(): InformerState {
    return this.state;
  }

  start(): void {
    this.listWatch.start().catch((err: unknown) => this.failed(err));
  }

  async stop(): Promise<void> {
    this.state = "STOPPED";
    clearTimeout(this.retryTimer);
    await this.listWatch.stop();
  }

  /** Every object currently known, across namespaces. */
  objects(): readonly T[] {
    return this.listWatch.list();
  }

  private async fetchList(): Promise<KubernetesListObject<T>> {
    const list = await this.opts.http.get<KubernetesListObject<T>>(this.opts.path);
    // ListWatch adds the items and starts the watch right after this returns.
    queueMicrotask(() => this.listed());
    return list;
  }

  private listed(): void {
    if (this.state === "STOPPED") return;
    this.state = "SYNCED";
    this.hasSynced = true;
    this.attempt = 0;
    this.consecutiveFailures = 0;
    this.resolveSynced();
    this.queueChange();
  }

  private failed(err: unknown): void {
    if (this.state === "STOPPED") return;
    const error = err instanceof Error ? err : new Error(String(err));
    this.lastError = error;
    this.consecutiveFailures++;
    this.state = "RETRYING";
    this.opts.onError?.(error, this.attempt);
    const min = this.opts.minBackoffMs ?? 250;
    const max = this.opts.maxBackoffMs ?? 30_000;
    const delay = Math.min(max, min * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
    this.attempt++;
    clearTimeout(this.retryTimer);
    // Resumes from the last resourceVersion (ListWatch keeps it); a 410 then relists.
    this.retryTimer = setTimeout(() => this.start(), delay);
  }

  private queueChange(): void {
    if (this.changeQueued || this.state === "STOPPED") return;
    this.changeQueued = true;
    setImmediate(() => {
      this.changeQueued = false;
      if (this.state !== "STOPPED") this.opts.onChange();
    });
  }
}
