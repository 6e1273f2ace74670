// Leader election on a coordination.k8s.io/v1 Lease.
//
// Owns: the acquire/renew/release loop for one Lease and the answer to "is this
// replica the leader right now?" (isLeader()). Every replica serves xDS; only the
// leader writes CR status and bootstraps the CA, and those callers must ask
// isLeader() (or follow onStartedLeading/onStoppedLeading) before acting.
// Must not import translate/, xds/ or cli/.
//
// Semantics follow client-go's tools/leaderelection (our own code):
// - Optimistic concurrency: every write is an update carrying the resourceVersion
//   we read (or wrote) last; a 409 Conflict means another replica won the race.
// - A candidate may take the Lease when it does not exist, when holderIdentity is
//   empty, when it already names us, or when the record has not changed for
//   leaseDurationSeconds *as observed on our own monotonic clock*: we remember when
//   we last saw the record change and never compare against the holder's
//   renewTime, so wall-clock skew between replicas does not matter (only the rate
//   of the clocks does; see doc.go in client-go's leaderelection).
// - The leader renews every retryPeriod. It believes it leads only until
//   (start of its last successful renew) + renewDeadline. Since every other
//   replica saw that renew no earlier than it was sent and waits a full
//   leaseDuration (> renewDeadline) after seeing it, a leader always stops before
//   anyone else may start. isLeader() checks that deadline on every call, so it
//   is right even if a timer fires late.
// - After stepping down (renew deadline passed, API server unreachable, lease lost)
//   the elector keeps running as a candidate and re-acquires when it can.
//
// Where we deliberately differ from client-go:
// - The renew deadline counts from the start of the last successful renew (client-go
//   counts from the first failed retry, up to retryPeriod later): stricter, and it
//   is what makes "never two leaders at once" hold within one process's clock.
// - A leader that sees the Lease name someone else steps down at once, without
//   waiting for the deadline.
// - A win that took more than half the renew deadline is not announced; one more
//   write confirms it, and if that is slow too the replica stops writing for a
//   lease duration (see #won). Otherwise a slow API server makes leadership flap.
// - stop() ends leadership (onStoppedLeading, isLeader() false) *before* releasing
//   the Lease; onStoppedLeading is only called if we were leading.
// - Candidates poll every retryPeriod × [1, 1.2) (client-go: × [1, 2.2)), so a
//   released Lease is taken within about one retry period.
//
// HTTP goes straight through node:https with the KubeConfig's TLS options and
// credentials (kc.applyToHTTPSOptions): that gives exact status codes, a
// per-request deadline (AbortSignal) so a hung request cannot outlive a renew
// deadline, and the Lease as plain JSON (client-node 1.4's generated client types
// MicroTime fields as Date but hands back strings).
import { request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import { performance } from "node:perf_hooks";
import type { KubeConfig } from "@kubernetes/client-node";

export interface LeaderElectionOptions {
  kubeConfig: KubeConfig;
  /** Control-plane namespace holding the Lease. */
  namespace: string;
  /** Lease name; "trellis-leader" by convention. */
  name: string;
  /** This replica (pod name). Must be unique among replicas. */
  identity: string;
  /** How long candidates wait after last seeing the record change before taking it (default 15000). Rounded up to whole seconds on the Lease. */
  leaseDurationMs?: number;
  /** The leader gives up if it has not renewed within this (default 10000). Must be < leaseDurationMs. */
  renewDeadlineMs?: number;
  /** Interval between acquire/renew attempts (default 2000). */
  retryPeriodMs?: number;
  logger?: LeaderLogger;
  onStartedLeading?: () => void;
  /** Called when leadership ends for any reason, including stop(). isLeader() is already false. */
  onStoppedLeading?: () => void;
  /** Called when a different, non-empty holder is observed (ourselves included). */
  onNewLeader?: (identity: string) => void;
}

/** pino-compatible subset. */
export interface LeaderLogger {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
  error(o: object, m: string): void;
}

export const DEFAULT_LEASE_NAME = "trellis-leader";

// ---------------------------------------------------------------------------
// pure rules

/** The fields of a Lease's spec that leader election reads and writes. */
export interface LeaseRecord {
  /** "" when nobody holds the Lease. */
  holderIdentity: string;
  /** 0 when missing: such a record has expired the moment it is observed. */
  leaseDurationSeconds: number;
  /** MicroTime strings, carried through unchanged; never compared across replicas. */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions: number;
}

/** A record plus when we saw it change, on our monotonic clock (ms). */
export interface ObservedRecord {
  record: LeaseRecord;
  observedAt: number;
}

export interface LeaderTimings {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  /** What we write to spec.leaseDurationSeconds. */
  leaseDurationSeconds: number;
}

/** Spread of candidate polling: [retryPeriod, retryPeriod × (1 + CANDIDATE_JITTER)). */
export const CANDIDATE_JITTER = 0.2;

export type Result<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/**
 * Defaults and the orderings that make the election safe (as client-go checks):
 * leaseDuration > renewDeadline > retryPeriod × (1 + jitter), so a leader gets
 * more than one renew attempt per deadline and stops before its lease can expire
 * for anyone else. The Lease carries whole seconds, rounded up, so the renew
 * deadline must also stay below that.
 */
export function resolveTimings(opts: {
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}): Result<LeaderTimings> {
  const leaseDurationMs = opts.leaseDurationMs ?? 15_000;
  const renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
  const retryPeriodMs = opts.retryPeriodMs ?? 2_000;
  const errors: string[] = [];
  for (const [k, v] of Object.entries({ leaseDurationMs, renewDeadlineMs, retryPeriodMs })) {
    if (!Number.isFinite(v) || v <= 0) errors.push(`${k} must be a positive number of milliseconds (got ${v})`);
  }
  if (errors.length === 0) {
    if (leaseDurationMs <= renewDeadlineMs) {
      errors.push(`leaseDurationMs (${leaseDurationMs}) must be greater than renewDeadlineMs (${renewDeadlineMs})`);
    }
    if (renewDeadlineMs <= retryPeriodMs * (1 + CANDIDATE_JITTER)) {
      errors.push(
        `renewDeadlineMs (${renewDeadlineMs}) must be greater than retryPeriodMs × ${1 + CANDIDATE_JITTER} (${retryPeriodMs * (1 + CANDIDATE_JITTER)})`,
      );
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: { leaseDurationMs, renewDeadlineMs, retryPeriodMs, leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000) },
  };
}

/** Has the record not yet run out, counting from when we saw it change? */
export function unexpired(observed: ObservedRecord, now: number): boolean {
  return now < observed.observedAt + observed.record.leaseDurationSeconds * 1000;
}

export type AcquireDecision =
  | { ok: true; why: "ours" | "vacant" | "expired" }
  | { ok: false; holder: string; expiresInMs: number };

/**
 * May `identity` write itself into the Lease, given the record as last observed?
 * Expiry is judged from when *we* saw the record change (observedAt) plus the
 * duration the record itself announces, never from its renewTime: replicas'
 * wall clocks may disagree, their monotonic clocks only need to run at similar rates.
 */
export function mayAcquire(observed: ObservedRecord, identity: string, now: number): AcquireDecision {
  const { holderIdentity, leaseDurationSeconds } = observed.record;
  if (holderIdentity === identity) return { ok: true, why: "ours" };
  if (holderIdentity === "") return { ok: true, why: "vacant" };
  const expiresAt = observed.observedAt + leaseDurationSeconds * 1000;
  if (now >= expiresAt) return { ok: true, why: "expired" };
  return { ok: false, holder: holderIdentity, expiresInMs: expiresAt - now };
}

/**
 * The record `identity` writes to acquire or renew. Renewing our own record keeps
 * acquireTime and leaseTransitions; taking it from anyone else (or from nobody)
 * counts one transition; a brand-new Lease starts at 0.
 */
export function claimRecord(
  current: LeaseRecord | undefined,
  identity: string,
  leaseDurationSeconds: number,
  wallNow: Date,
): LeaseRecord {
  const now = formatMicroTime(wallNow);
  if (current === undefined) {
    return { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 };
  }
  if (current.holderIdentity === identity) {
    return {
      holderIdentity: identity,
      leaseDurationSeconds,
      acquireTime: current.acquireTime ?? now,
      renewTime: now,
      leaseTransitions: current.leaseTransitions,
    };
  }
  return {
    holderIdentity: identity,
    leaseDurationSeconds,
    acquireTime: now,
    renewTime: now,
    leaseTransitions: current.leaseTransitions + 1,
  };
}

/**
 * What a leader writes on a clean shutdown: no holder, so any candidate takes the
 * Lease on its next attempt without waiting; a 1 s duration for readers that
 * only look at times. The next holder counts the transition.
 */
export function releasedRecord(current: LeaseRecord, wallNow: Date): LeaseRecord {
  const now = formatMicroTime(wallNow);
  return {
    holderIdentity: "",
    leaseDurationSeconds: 1,
    acquireTime: now,
    renewTime: now,
    leaseTransitions: current.leaseTransitions,
  };
}

/** Kubernetes MicroTime: RFC 3339 in UTC with exactly six fractional digits (Go's RFC3339Micro). */
export function formatMicroTime(d: Date): string {
  return `${d.toISOString().slice(0, -1)}000Z`;
}

/** Normalises a Lease's spec (as JSON from the API server) to a LeaseRecord. */
export function leaseRecordOf(spec: unknown): LeaseRecord {
  const s = (spec && typeof spec === "object" ? spec : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  const int = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  return {
    holderIdentity: str(s.holderIdentity) ?? "",
    leaseDurationSeconds: int(s.leaseDurationSeconds),
    acquireTime: str(s.acquireTime),
    renewTime: str(s.renewTime),
    leaseTransitions: int(s.leaseTransitions),
  };
}

/** Same record? (client-go compares the raw record; a metadata-only change must not restart the expiry clock.) */
export function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime &&
    a.leaseTransitions === b.leaseTransitions
  );
}

// ---------------------------------------------------------------------------
// the Lease over HTTP

/** A Lease as JSON; everything but spec is sent back untouched on update. */
interface LeaseObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  spec?: Record<string, unknown>;
  [k: string]: unknown;
}

type LeaseReply =
  | { kind: "ok"; lease: LeaseObject }
  | { kind: "not-found" }
  | { kind: "conflict"; message: string }
  | { kind: "failed"; status: number; message: string };

class LeaseApi {
  readonly #kc: KubeConfig;
  readonly #namespace: string;
  readonly #name: string;

  constructor(kc: KubeConfig, namespace: string, name: string) {
    this.#kc = kc;
    this.#namespace = namespace;
    this.#name = name;
  }

  describe(): string {
    return `${this.#namespace}/${this.#name}`;
  }

  get(signal: AbortSignal): Promise<LeaseReply> {
    return this.#send("GET", this.#itemPath(), undefined, signal);
  }

  create(record: LeaseRecord, signal: AbortSignal): Promise<LeaseReply> {
    const body: LeaseObject = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: this.#name, namespace: this.#namespace },
      spec: specOf(record),
    };
    return this.#send("POST", `/apis/coordination.k8s.io/v1/namespaces/${enc(this.#namespace)}/leases`, body, signal);
  }

  /** PUT with `base`'s resourceVersion: a 409 if the Lease changed since `base` was read. */
  replace(base: LeaseObject, record: LeaseRecord, signal: AbortSignal): Promise<LeaseReply> {
    // Keep spec fields we do not manage (strategy, preferredHolder) as they are.
    const body: LeaseObject = { ...base, spec: { ...base.spec, ...specOf(record) } };
    return this.#send("PUT", this.#itemPath(), body, signal);
  }

  #itemPath(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${enc(this.#namespace)}/leases/${enc(this.#name)}`;
  }

  async #send(method: string, path: string, body: unknown, signal: AbortSignal): Promise<LeaseReply> {
    const { status, json } = await kubeJson(this.#kc, method, path, body, signal);
    if (status >= 200 && status < 300) return { kind: "ok", lease: json as LeaseObject };
    const message = statusMessage(json) ?? `HTTP ${status}`;
    if (status === 404) return { kind: "not-found" };
    // 409 on PUT: resourceVersion is stale; on POST: someone created it first.
    if (status === 409) return { kind: "conflict", message };
    return { kind: "failed", status, message };
  }
}

function specOf(r: LeaseRecord): Record<string, unknown> {
  return {
    holderIdentity: r.holderIdentity,
    leaseDurationSeconds: r.leaseDurationSeconds,
    acquireTime: r.acquireTime,
    renewTime: r.renewTime,
    leaseTransitions: r.leaseTransitions,
  };
}

const enc = encodeURIComponent;

function statusMessage(json: unknown): string | undefined {
  if (json && typeof json === "object" && typeof (json as { message?: unknown }).message === "string") {
    return (json as { message: string }).message;
  }
  return undefined;
}

/** One JSON request to the current context's API server; rejects on transport errors and on abort. */
async function kubeJson(
  kc: KubeConfig,
  method: string,
  path: string,
  body: unknown,
  signal: AbortSignal,
): Promise<{ status: number; json: unknown }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  const url = new URL(`${cluster.server.replace(/\/+$/, "")}${path}`);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const opts: RequestOptions = {
    method,
    headers: {
      accept: "application/json",
      ...(payload ? { "content-type": "application/json", "content-length": payload.length } : {}),
    },
  };
  await kc.applyToHTTPSOptions(opts); // CA, client cert, bearer/exec token, proxy agent
  signal.throwIfAborted();
  const send = url.protocol === "http:" ? httpRequest : httpsRequest;
  // A plain-http server (dev only) cannot use the TLS agent client-node builds by default.
  if (url.protocol === "http:" && opts.agent instanceof HttpsAgent) opts.agent = undefined;
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    const req = send(url, { ...opts, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", fail);
      res.on("close", () => {
        if (!res.complete) fail(signal.aborted ? signal.reason : new Error(`${method} ${path}: response cut short`));
      });
      res.on("end", () => {
        if (settled) return;
        settled = true;
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown = text;
        try {
          json = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode ?? 0, json });
      });
    });
    req.on("error", fail);
    req.end(payload);
  });
}

// ---------------------------------------------------------------------------
// the elector

const monotonicNow = () => performance.now();

const silentLogger: LeaderLogger = { info() {}, warn() {}, error() {} };

type Phase = "new" | "running" | "stopping" | "stopped";

/** What we last saw of the Lease, and when it last changed (our monotonic clock). */
interface Observation extends ObservedRecord {
  lease: LeaseObject;
}

export class LeaderElector {
  readonly #opts: LeaderElectionOptions;
  readonly #timings: LeaderTimings;
  readonly #log: LeaderLogger;
  readonly #api: LeaseApi;

  #phase: Phase = "new";
  #observed: Observation | undefined;
  #leading = false;
  /** Monotonic instant from which we no longer lead unless a renew succeeds first. */
  #leadingUntil = 0;
  #deadlineTimer: NodeJS.Timeout | undefined;
  #reportedLeader: string | undefined;
  #lastError: string | undefined;
  /** Set when an attempt must be followed by another at once (see #won). */
  #retryNow = false;
  /** Consecutive wins too slow to lead on, while not leading (see #won). */
  #slowWins = 0;
  /** Monotonic instant until which this replica does not write the Lease (see #won). */
  #holdOffUntil = 0;
  /** How long the last successful attempt took (ms). */
  #lastWinMs = 0;
  /** Aborts the loop's sleep and its in-flight request on stop(). */
  readonly #halt = new AbortController();
  #loop: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(opts: LeaderElectionOptions) {
    const timings = resolveTimings(opts);
    if (!timings.ok) throw new Error(`leader election: ${timings.errors.join("; ")}`);
    if (!opts.identity) throw new Error("leader election: identity must not be empty");
    if (!opts.kubeConfig.getCurrentCluster()) throw new Error("leader election: kubeconfig has no current cluster");
    this.#opts = opts;
    this.#timings = timings.value;
    this.#log = opts.logger ?? silentLogger;
    this.#api = new LeaseApi(opts.kubeConfig, opts.namespace, opts.name || DEFAULT_LEASE_NAME);
  }

  /** Starts the acquire/renew loop. Never throws; API errors are logged and retried. */
  start(): void {
    if (this.#phase !== "new") {
      this.#log.warn({ lease: this.#api.describe(), phase: this.#phase }, "leader election: start() ignored");
      return;
    }
    this.#phase = "running";
    this.#log.info(
      { lease: this.#api.describe(), identity: this.#opts.identity, ...this.#timings },
      "leader election: started",
    );
    this.#loop = this.#run().catch((err: unknown) => {
      // #run handles its own errors; reaching this is a bug, and we must not believe we lead.
      this.#log.error({ lease: this.#api.describe(), err }, "leader election: loop crashed");
      if (this.#leading) this.#stepDown("leader election loop crashed");
    });
  }

  /** True only while this replica holds the Lease and its last renew is younger than renewDeadline. */
  isLeader(): boolean {
    return this.#leading && monotonicNow() < this.#leadingUntil;
  }

  /** Holder of the Lease as last observed (possibly ourselves, possibly expired); undefined if none. */
  leader(): string | undefined {
    const holder = this.#observed?.record.holderIdentity;
    return holder ? holder : undefined;
  }

  /**
   * Stops the loop. If leading, leadership ends first (onStoppedLeading), then,
   * with release (default), the Lease is handed back (no holder) so another
   * replica takes it on its next attempt instead of after leaseDuration.
   */
  stop(opts: { release?: boolean } = {}): Promise<void> {
    if (this.#stopping) return this.#stopping;
    const release = opts.release ?? true;
    this.#stopping = (async () => {
      const wasRunning = this.#phase === "running";
      this.#phase = "stopping";
      this.#halt.abort(new Error("leader election stopped"));
      await this.#loop;
      // Give up leadership before the Lease is released, so isLeader() is false
      // here before any other replica can become leader.
      if (this.#leading) this.#stepDown("stopping");
      if (wasRunning && release && this.#observed?.record.holderIdentity === this.#opts.identity) {
        await this.#release();
      }
      this.#phase = "stopped";
      this.#log.info({ lease: this.#api.describe(), released: release }, "leader election: stopped");
    })();
    return this.#stopping;
  }

  // -- loop

  async #run(): Promise<void> {
    const { retryPeriodMs } = this.#timings;
    while (!this.#halt.signal.aborted) {
      await this.#attempt();
      if (this.#halt.signal.aborted) break;
      await sleep(this.#nextWait(retryPeriodMs), this.#halt.signal);
    }
  }

  #nextWait(retryPeriodMs: number): number {
    if (this.#retryNow) {
      this.#retryNow = false;
      return 0;
    }
    // Leader: renew every retryPeriod, but start early enough that a renew as slow
    // as the last one (×1.5) still ends before the renew deadline. Waits only
    // reach 0 when a renew takes ≥ 40 % of the deadline, so this never spins.
    if (this.#leading) {
      const left = this.#leadingUntil - monotonicNow();
      return Math.min(retryPeriodMs, Math.max(0, left - 1.5 * this.#lastWinMs));
    }
    // Candidates: spread out so replicas do not poll in lockstep.
    return retryPeriodMs * (1 + Math.random() * CANDIDATE_JITTER);
  }

  async #attempt(): Promise<void> {
    const startedAt = monotonicNow();
    if (this.#leading && startedAt >= this.#leadingUntil) this.#stepDown("renew deadline passed");
    // A renew may only use what is left of the renew deadline: a hung request must
    // not keep us believing we lead. A candidate's attempt is bounded by renewDeadline.
    const budgetMs = this.#leading ? this.#leadingUntil - startedAt : this.#timings.renewDeadlineMs;
    let won = false;
    try {
      won = await withDeadline(this.#halt.signal, budgetMs, (signal) => this.#tryAcquireOrRenew(new Date(), signal));
      this.#recovered();
    } catch (err) {
      if (this.#halt.signal.aborted) return;
      this.#failed(err);
    }
    if (this.#halt.signal.aborted) return;

    if (won) {
      this.#won(startedAt);
    } else if (this.#leading) {
      const holder = this.#observed?.record.holderIdentity;
      if (holder !== this.#opts.identity) this.#stepDown(`lease now held by ${JSON.stringify(holder ?? "")}`);
      else if (monotonicNow() >= this.#leadingUntil) this.#stepDown("renew deadline passed");
    }
    this.#reportLeader();
  }

  /** One acquire-or-renew attempt; true if the Lease now names us with a fresh renewTime. */
  async #tryAcquireOrRenew(wallNow: Date, signal: AbortSignal): Promise<boolean> {
    const { identity } = this.#opts;
    const seconds = this.#timings.leaseDurationSeconds;

    // Fast path while the record we last saw names us and has not expired by our
    // own observation (we are leading, or confirming a slow win): update it with
    // its resourceVersion without reading first. Any answer but success (a 409
    // after someone else wrote it, say) falls through to a fresh read.
    const holdingOff = monotonicNow() < this.#holdOffUntil;
    const mine = this.#observed;
    if (!holdingOff && mine && mine.record.holderIdentity === identity && unexpired(mine, monotonicNow())) {
      const reply = await this.#api.replace(mine.lease, claimRecord(mine.record, identity, seconds, wallNow), signal);
      if (reply.kind === "ok") {
        this.#observe(reply.lease);
        return true;
      }
      this.#log.warn(
        { lease: this.#api.describe(), reply: describeReply(reply) },
        "leader election: renew without read failed; reading the lease",
      );
    }

    const got = await this.#api.get(signal);
    if (holdingOff) {
      // Holding off after slow wins (see #won): watch, never write.
      if (got.kind === "failed") throw replyError("get", got);
      if (got.kind === "ok") this.#observe(got.lease);
      return false;
    }
    if (got.kind === "not-found") {
      const created = await this.#api.create(claimRecord(undefined, identity, seconds, wallNow), signal);
      if (created.kind === "ok") {
        this.#observe(created.lease);
        return true;
      }
      if (created.kind === "conflict") return false; // another replica created it first
      throw replyError("create", created);
    }
    if (got.kind !== "ok") throw replyError("get", got);

    const observed = this.#observe(got.lease);
    const decision = mayAcquire(observed, identity, monotonicNow());
    if (!decision.ok) return false;

    const reply = await this.#api.replace(got.lease, claimRecord(observed.record, identity, seconds, wallNow), signal);
    if (reply.kind === "ok") {
      this.#observe(reply.lease);
      if (decision.why !== "ours") {
        this.#log.info(
          { lease: this.#api.describe(), previous: observed.record.holderIdentity, why: decision.why },
          "leader election: acquired the lease",
        );
      }
      return true;
    }
    if (reply.kind === "conflict") {
      // Someone wrote the Lease between our read and our write: they won this round.
      return false;
    }
    throw replyError("update", reply);
  }

  /** Records what the API server returned; restarts the expiry clock only if the record changed. */
  #observe(lease: LeaseObject): Observation {
    const record = leaseRecordOf(lease.spec);
    const prev = this.#observed;
    const observedAt = prev && sameRecord(prev.record, record) ? prev.observedAt : monotonicNow();
    this.#observed = { record, observedAt, lease };
    return this.#observed;
  }

  /** A write naming us succeeded; the attempt began at startedAt. */
  #won(startedAt: number): void {
    // The write landed no earlier than startedAt, so every other replica waits at
    // least leaseDuration from then; we lead until startedAt + renewDeadline.
    const until = startedAt + this.#timings.renewDeadlineMs;
    const now = monotonicNow();
    this.#lastWinMs = now - startedAt;
    if (!this.#leading && until - now < this.#timings.renewDeadlineMs / 2) {
      // The API server took more than half the renew deadline to answer (typically
      // while it is coming back up). A leadership with renews that slow would end
      // at the first one: rather than announce one that flaps, confirm with one
      // more write right away (the fast path: one request). If that is slow too,
      // we cannot hold the lease; stop writing it for a lease duration so a replica
      // with a better path to the API server can take it instead of us keeping it
      // renewed without leading.
      const tookMs = Math.round(now - startedAt);
      if (++this.#slowWins === 1) {
        this.#retryNow = true;
        this.#log.info(
          { lease: this.#api.describe(), tookMs },
          "leader election: lease won on a slow answer; confirming before leading",
        );
      } else {
        this.#slowWins = 0;
        this.#holdOffUntil = now + this.#timings.leaseDurationMs + 3 * this.#timings.retryPeriodMs;
        this.#log.warn(
          { lease: this.#api.describe(), tookMs },
          "leader election: lease API too slow to lead on; leaving the lease to expire for other replicas",
        );
      }
      return;
    }
    this.#slowWins = 0;
    if (until <= now) {
      if (this.#leading) this.#stepDown("renew deadline passed");
      return;
    }
    this.#leadingUntil = until;
    clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = setTimeout(() => {
      if (this.#leading && monotonicNow() >= this.#leadingUntil) this.#stepDown("renew deadline passed");
    }, until - now);
    if (!this.#leading) {
      this.#leading = true;
      this.#log.info(
        {
          lease: this.#api.describe(),
          identity: this.#opts.identity,
          transitions: this.#observed?.record.leaseTransitions,
        },
        "leader election: started leading",
      );
      this.#callback("onStartedLeading", () => this.#opts.onStartedLeading?.());
    }
  }

  #stepDown(reason: string): void {
    if (!this.#leading) return;
    this.#leading = false;
    this.#leadingUntil = 0;
    clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
    const fields = { lease: this.#api.describe(), identity: this.#opts.identity, reason };
    if (reason === "stopping") this.#log.info(fields, "leader election: stopped leading");
    else this.#log.warn(fields, "leader election: stopped leading");
    this.#callback("onStoppedLeading", () => this.#opts.onStoppedLeading?.());
  }

  async #release(): Promise<void> {
    try {
      await withDeadline(undefined, this.#timings.renewDeadlineMs, (signal) => this.#releaseOnce(signal));
    } catch (err) {
      this.#log.warn(
        { lease: this.#api.describe(), err: errorMessage(err) },
        "leader election: could not release the lease; it expires after leaseDuration",
      );
    }
  }

  async #releaseOnce(signal: AbortSignal): Promise<void> {
    const { identity } = this.#opts;
    // Read first: an aborted renew may have landed and moved the resourceVersion.
    const got = await this.#api.get(signal);
    if (got.kind !== "ok") {
      if (got.kind !== "not-found") throw replyError("get", got);
      return;
    }
    const current = this.#observe(got.lease).record;
    if (current.holderIdentity !== identity) return;
    const reply = await this.#api.replace(got.lease, releasedRecord(current, new Date()), signal);
    if (reply.kind === "ok") {
      this.#observe(reply.lease);
      this.#log.info({ lease: this.#api.describe(), identity }, "leader election: released the lease");
    } else if (reply.kind === "conflict") {
      this.#log.warn({ lease: this.#api.describe() }, "leader election: lease changed while releasing; left as is");
    } else {
      throw replyError("update", reply);
    }
  }

  #reportLeader(): void {
    const holder = this.#observed?.record.holderIdentity;
    if (holder === undefined || holder === this.#reportedLeader) return;
    this.#reportedLeader = holder;
    if (holder === "") return;
    if (holder !== this.#opts.identity) {
      this.#log.info({ lease: this.#api.describe(), leader: holder }, "leader election: new leader observed");
    }
    this.#callback("onNewLeader", () => this.#opts.onNewLeader?.(holder));
  }

  #callback(name: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log.error({ lease: this.#api.describe(), err: errorMessage(err) }, `leader election: ${name} threw`);
    }
  }

  // Log the first failure and every change of failure, not every retry of an outage.
  #failed(err: unknown): void {
    const message = errorMessage(err);
    if (message === this.#lastError) return;
    this.#lastError = message;
    this.#log.warn(
      { lease: this.#api.describe(), identity: this.#opts.identity, leading: this.#leading, err: message },
      "leader election: lease request failed; retrying",
    );
  }

  #recovered(): void {
    if (this.#lastError === undefined) return;
    this.#lastError = undefined;
    this.#log.info({ lease: this.#api.describe() }, "leader election: lease requests succeed again");
  }
}

function describeReply(reply: LeaseReply): string {
  switch (reply.kind) {
    case "ok":
      return "ok";
    case "not-found":
      return "404 not found";
    case "conflict":
      return `409 conflict: ${reply.message}`;
    case "failed":
      return `${reply.status}: ${reply.message}`;
  }
}

function replyError(op: string, reply: LeaseReply): Error {
  return new Error(`lease ${op}: ${describeReply(reply)}`);
}

function errorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  let message = typeof code === "string" && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  if (err.cause !== undefined) message += `: ${errorMessage(err.cause)}`;
  return message;
}

/** Runs fn with a signal that aborts after ms or when parent aborts, whichever is first. */
async function withDeadline<T>(
  parent: AbortSignal | undefined,
  ms: number,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ctl = new AbortController();
  const onParent = () => ctl.abort(parent?.reason);
  if (parent?.aborted) ctl.abort(parent.reason);
  else parent?.addEventListener("abort", onParent, { once: true });
  const timer = setTimeout(() => ctl.abort(new Error(`no answer within ${Math.round(ms)} ms`)), Math.max(1, ms));
  try {
    return await fn(ctl.signal);
  } finally {
    clearTimeout(timer);
    parent?.removeEventListener("abort", onParent);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
