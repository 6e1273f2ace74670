// A pool of worker threads that run `runIssueJob` (key generation + signing)
// so the event loop only builds templates and passes messages. Measured on a
// 2-vCPU machine (docs/performance.md, "Certificate issuance"): one worker
// issues ≈2,400 certificates/s in a burst, and at the 500/s target the event
// loop stays ≈87 % idle (p99 delay ≈5 ms). The libuv thread pool (async
// generateKeyPair + sign) reached the same rate, but a burst delayed timers by
// a second and kept the event loop twice as busy.
//
// The worker's code is this module's `workerMain` and issue-job.ts's
// `runIssueJob`, shipped as source text (`eval: true`): the same functions
// run from the TypeScript sources under vitest and from dist/ in production,
// with no separate worker file to locate or copy.
//
// Ordering: jobs start in the order `run` is called, at most
// `maxInFlightPerWorker` per worker; the rest wait in a FIFO here. Idle
// workers are unref'd, so a CA someone forgot to close never keeps the
// process alive; a worker with work in flight is ref'd.
import * as nodeCrypto from "node:crypto";
import type * as WorkerThreads from "node:worker_threads";
import { Worker } from "node:worker_threads";
import { type IssueJob, type IssueJobResult, runIssueJob } from "./issue-job.js";

interface Request {
  id: number;
  job: IssueJob;
}
type Reply = { id: number; result: IssueJobResult } | { id: number; error: string };

/** Runs in the worker. Self-contained like runIssueJob: it gets everything as arguments. */
function workerMain(
  threads: typeof WorkerThreads,
  crypto: typeof nodeCrypto,
  run: (job: IssueJob, key: nodeCrypto.KeyObject, c: typeof nodeCrypto) => IssueJobResult,
): void {
  const port = threads.parentPort;
  if (!port) throw new Error("not in a worker thread");
  // CA keys by signer; a handful over the life of the process (one more per root rotation).
  const keys = new Map<string, nodeCrypto.KeyObject>();
  port.on("message", (m: Request) => {
    let reply: Reply;
    try {
      if (m.job.keyPem) keys.set(m.job.signer, crypto.createPrivateKey(m.job.keyPem));
      const key = keys.get(m.job.signer);
      if (!key) throw new Error(`signing key ${m.job.signer} was never sent to this worker`);
      reply = { id: m.id, result: run(m.job, key, crypto) };
    } catch (err) {
      reply = { id: m.id, error: err instanceof Error ? err.message : String(err) };
    }
    port.postMessage(reply);
  });
}

const WORKER_SOURCE = `"use strict";
const runIssueJob = ${runIssueJob.toString()};
(${workerMain.toString()})(require("node:worker_threads"), require("node:crypto"), runIssueJob);
`;

interface Pending {
  id: number;
  /** Called when a worker is free: templates are built just in time (current signer, current clock). */
  makeJob: () => IssueJob;
  resolve: (r: IssueJobResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  inFlight: Map<number, Pending>;
  /** Signers whose key this worker has been sent. */
  signers: Set<string>;
  /** When this worker last started work from idle or answered. */
  progressAt: number;
  lost: (why: string) => void;
}

export class PoolClosedError extends Error {
  constructor() {
    super("the certificate authority is closed");
    this.name = "PoolClosedError";
  }
}

export class IssuePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  private inlineBusy = false;
  private readonly inlineKeys = new Map<string, nodeCrypto.KeyObject>();
  private readonly maxInFlightPerWorker: number;
  private readonly stallMs: number;
  private watchdog: NodeJS.Timeout | undefined;

  /**
   * `size` worker threads (started on first use); 0 runs jobs on the event loop, one per macrotask.
   * A worker with work in flight that has not answered for `stallMs` is terminated and its jobs
   * rejected (a replacement starts on demand): a native hang in a worker — one was found in
   * Node 20.20, see issue-job.ts — must cost a retry, not the CA.
   */
  constructor(
    readonly size: number,
    opts: { maxInFlightPerWorker?: number; stallMs?: number } = {},
  ) {
    if (!Number.isInteger(size) || size < 0) {
      throw new RangeError(`workers must be a non-negative integer, got ${size}`);
    }
    this.maxInFlightPerWorker = opts.maxInFlightPerWorker ?? 4;
    this.stallMs = opts.stallMs ?? 10_000;
  }

  /**
   * Runs the job `makeJob` returns. `makeJob` is called only when a worker can take it, so a burst
   * of requests costs the event loop one queue push each up front, and the templates are built one
   * by one as workers free up; a job that waited uses the signer and the time of when it starts.
   */
  run(makeJob: () => IssueJob): Promise<IssueJobResult> {
    if (this.closed) return Promise.reject(new PoolClosedError());
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, makeJob, resolve, reject });
      this.pump();
    });
  }

  /** Jobs waiting for a worker (not counting those in flight). */
  get queued(): number {
    return this.queue.length;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new PoolClosedError());
    clearInterval(this.watchdog);
    const slots = this.slots.splice(0);
    for (const s of slots) for (const p of s.inFlight.values()) p.reject(new PoolClosedError());
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private pump(): void {
    if (this.size === 0) {
      this.pumpInline();
      return;
    }
    while (this.queue.length > 0 && !this.closed) {
      const slot = this.freeSlot();
      if (!slot) return;
      const p = this.queue.shift() as Pending;
      let job: IssueJob;
      try {
        job = p.makeJob();
      } catch (err) {
        p.reject(err as Error);
        continue;
      }
      if (slot.signers.has(job.signer)) job = { ...job, keyPem: undefined };
      else slot.signers.add(job.signer);
      if (slot.inFlight.size === 0) {
        slot.worker.ref();
        slot.progressAt = Date.now();
      }
      slot.inFlight.set(p.id, p);
      slot.worker.postMessage({ id: p.id, job } satisfies Request);
    }
  }

  private freeSlot(): Slot | undefined {
    let best: Slot | undefined;
    for (const s of this.slots) if (!best || s.inFlight.size < best.inFlight.size) best = s;
    if (best && best.inFlight.size === 0) return best;
    if (this.slots.length < this.size) return this.spawn();
    return best && best.inFlight.size < this.maxInFlightPerWorker ? best : undefined;
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, name: "trellis-ca" });
    worker.unref();
    const slot: Slot = { worker, inFlight: new Map(), signers: new Set(), progressAt: Date.now(), lost: () => {} };
    worker.on("message", (reply: Reply) => {
      const p = slot.inFlight.get(reply.id);
      if (!p) return;
      slot.progressAt = Date.now();
      slot.inFlight.delete(reply.id);
      if (slot.inFlight.size === 0) worker.unref();
      if ("error" in reply) p.reject(new Error(`certificate issuance failed: ${reply.error}`));
      else p.resolve(reply.result);
      this.pump();
    });
    const lost = (why: string) => {
      const i = this.slots.indexOf(slot);
      if (i === -1) return;
      this.slots.splice(i, 1);
      for (const p of slot.inFlight.values()) p.reject(new Error(`CA worker thread ${why}`));
      slot.inFlight.clear();
      if (!this.closed) this.pump(); // a replacement starts on demand
    };
    slot.lost = lost;
    worker.on("online", () => {
      slot.progressAt = Date.now(); // starting a thread is not a stall
    });
    worker.on("error", (err) => lost(`failed: ${err.message}`));
    worker.on("exit", (code) => lost(`exited with code ${code}`));
    this.slots.push(slot);
    this.watchdog ??= setInterval(() => this.checkStalled(), Math.max(1, this.stallMs / 2)).unref();
    return slot;
  }

  private checkStalled(): void {
    const now = Date.now();
    for (const slot of [...this.slots]) {
      if (slot.inFlight.size > 0 && now - slot.progressAt > this.stallMs) {
        slot.lost(`stalled: no answer for ${now - slot.progressAt} ms`);
        void slot.worker.terminate();
      }
    }
  }

  private pumpInline(): void {
    if (this.inlineBusy || this.queue.length === 0) return;
    this.inlineBusy = true;
    setImmediate(() => {
      this.inlineBusy = false;
      const p = this.queue.shift();
      if (!p || this.closed) return;
      try {
        const job = p.makeJob();
        let key = this.inlineKeys.get(job.signer);
        if (!key) {
          if (!job.keyPem) throw new Error(`signing key ${job.signer} unknown`);
          key = nodeCrypto.createPrivateKey(job.keyPem);
          this.inlineKeys.set(job.signer, key);
        }
        p.resolve(runIssueJob(job, key, nodeCrypto));
      } catch (err) {
        p.reject(err as Error);
      }
      this.pump();
    });
  }
}
