// `npm run bench`: the benchmark orchestrator. For every mesh size, xDS mode and
// run it writes a generated mesh (mesh.ts) to a temporary directory, starts
// `trellis serve` on it pinned to core 0, forks the load generator (loadgen.ts)
// pinned to core 1, and runs the scenarios of the performance issue against it:
//
//   1. cold start: N proxies connect; time until every one has ACKed full config
//   2. VirtualService change: convergence on every affected proxy, CP CPU seconds
//   3. endpoint churn: a steady rate of endpoint changes; EDS-only, CPU per change
//   4. memory: CP RSS and heap per connected proxy (and per extra proxy on shared views)
//   5. bytes per proxy for the initial full push, SotW vs Delta
//   6. all of that over a matrix of N proxies × M services
//
// It writes a JSON results file and prints a summary, with each target of the
// issue marked met or not met. Child processes and temporary directories are
// cleaned up on every exit path (errors, SIGINT); every wait has a timeout.
import { type ChildProcess, execFileSync, fork, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type {
  Command,
  ConnectReply,
  CountReply,
  ExpectReply,
  Mode,
  PerType,
  StatsReply,
  WaitReply,
} from "./loadgen.js";
import {
  DEFAULT_SHAPE,
  hostOf,
  isRouted,
  type MeshShape,
  podIp,
  type RoutingChange,
  writeMesh,
  writeServiceFile,
} from "./mesh.js";
import { writePlots } from "./plot.js";

const here = dirname(fileURLToPath(import.meta.url));
/** Repository root: this file runs from dist/bench/. */
const REPO = resolve(here, "../..");
const TRELLIS = join(REPO, "dist/src/cli/main.js");
const LOADGEN = join(here, "loadgen.js");
const TASKSET = "/usr/bin/taskset";
/** The file source's own debounce (sources/file, not configurable from the CLI): part of every change's latency. */
const FILE_SOURCE_DEBOUNCE_MS = 50;

// ---- options -----------------------------------------------------------------

interface Size {
  n: number;
  m: number;
  sidecar: boolean;
}

interface Options {
  quick: boolean;
  sizes: Size[];
  runs: number;
  modes: Mode[];
  label: string;
  out: string;
  plots: string | undefined;
  endpoints: number;
  namespaces: number;
  routedShare: number;
  debounceQuietMs: number;
  debounceMaxMs: number;
  vsChanges: number;
  vsSpacingMs: number;
  churnRate: number;
  churnSeconds: number;
  /** Cold start (and clone connect) timeout. */
  timeoutMs: number;
  /** Per-change convergence timeout. */
  changeTimeoutMs: number;
  pin: boolean;
  /** Write V8 CPU profiles of both processes here (--cpu-prof). */
  profile: string | undefined;
  /** Extra `trellis serve` flags (e.g. "--push-concurrency 256"). */
  trellisArgs: string[];
}

const USAGE = `usage: node dist/bench/run.js [options]
  --quick               tiny run for CI: 20 proxies × 20 services, 2 endpoints, 1 run
  --sizes NxM,...       proxies × services, e.g. 100x100,2000x1000; a trailing "s" (2000x1000s) adds Sidecar scoping
                        (default: {100,500,1000,2000} × {100,500,1000}, plus 2000x1000s)
  --runs R              runs per size and mode (default 3)
  --modes sotw,delta    xDS variants (default both)
  --endpoints K         endpoints per service (default 3)
  --label NAME          results file label (default "full", or "quick")
  --out PATH            results file (.json) or directory (default bench/results)
  --plots DIR           also write SVG plots there (as bench/plot.ts does)
  --vs-changes C        VirtualService changes per run (default 4)
  --churn-rate R        endpoint changes per second (default 5)
  --churn-seconds S     churn duration (default 5)
  --timeout MS          cold start timeout (default 300000)
  --no-pin              do not pin the control plane and the load generator to cores
  --profile DIR         write V8 CPU profiles (.cpuprofile) of trellis and the load generator there
  --trellis-args "..."  extra flags for trellis serve, e.g. "--push-concurrency 256"`;

function parseArgs(argv: string[]): Options {
  const args = new Map<string, string>();
  const flags = new Set<string>();
  for (let k = 0; k < argv.length; k++) {
    const a = argv[k] as string;
    if (a === "--help" || a === "-h") {
      console.log(USAGE);
      process.exit(0);
    }
    if (a === "--quick" || a === "--no-pin") flags.add(a);
    else if (a.startsWith("--") && k + 1 < argv.length) args.set(a, argv[++k] as string);
    else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  const quick = flags.has("--quick");
  const num = (name: string, dflt: number) => {
    const v = args.get(name);
    if (v === undefined) return dflt;
    const x = Number(v);
    if (!Number.isFinite(x) || x <= 0) throw new Error(`${name} must be a positive number`);
    return x;
  };
  let sizes: Size[];
  const sizeArg = args.get("--sizes");
  if (sizeArg) {
    sizes = sizeArg.split(",").map((s) => {
      const m = /^(\d+)x(\d+)(s?)$/.exec(s.trim());
      if (!m) throw new Error(`--sizes: "${s}" is not NxM (proxies x services, optional s suffix for Sidecar scoping)`);
      return { n: Number(m[1]), m: Number(m[2]), sidecar: m[3] === "s" };
    });
  } else if (quick) {
    sizes = [{ n: 20, m: 20, sidecar: false }];
  } else {
    sizes = [];
    for (const m of [100, 500, 1000]) for (const n of [100, 500, 1000, 2000]) sizes.push({ n, m, sidecar: false });
    sizes.push({ n: 2000, m: 1000, sidecar: true });
  }
  const modes = (args.get("--modes") ?? "sotw,delta").split(",").map((m) => m.trim());
  for (const m of modes) if (m !== "sotw" && m !== "delta") throw new Error(`--modes: unknown mode "${m}"`);
  const label = args.get("--label") ?? (quick ? "quick" : "full");
  return {
    quick,
    sizes,
    runs: num("--runs", quick ? 1 : 3),
    modes: modes as Mode[],
    label,
    out: args.get("--out") ?? join(REPO, "bench/results"),
    plots: args.get("--plots"),
    endpoints: num("--endpoints", quick ? 2 : 3),
    namespaces: 10,
    routedShare: 0.2,
    debounceQuietMs: 100,
    debounceMaxMs: 1000,
    vsChanges: num("--vs-changes", quick ? 2 : 4),
    // Past the debounce and the convergence of the change before, so changes do not overlap.
    vsSpacingMs: quick ? 600 : 2000,
    churnRate: num("--churn-rate", 5),
    churnSeconds: num("--churn-seconds", quick ? 1 : 5),
    timeoutMs: num("--timeout", quick ? 30_000 : 300_000),
    changeTimeoutMs: quick ? 15_000 : 60_000,
    pin: !flags.has("--no-pin") && existsSync(TASKSET),
    profile: args.get("--profile") ? resolve(args.get("--profile") as string) : undefined,
    trellisArgs: (args.get("--trellis-args") ?? "").split(/\s+/).filter((a) => a.length > 0),
  };
}

// ---- statistics --------------------------------------------------------------

export interface Dist {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array. */
function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const k = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[k] as number;
}
function dist(values: readonly number[]): Dist {
  const s = [...values].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    count: s.length,
    min: r(s[0] ?? Number.NaN),
    p50: r(pct(s, 50)),
    p90: r(pct(s, 90)),
    p99: r(pct(s, 99)),
    max: r(s[s.length - 1] ?? Number.NaN),
  };
}
const median = (values: readonly number[]) =>
  pct(
    [...values].sort((a, b) => a - b),
    50,
  );

// ---- child processes and cleanup -----------------------------------------------

const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

function killChildren(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}
function removeTempDirs(): void {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping`);
    killChildren();
    removeTempDirs();
    process.exit(130);
  });
}
process.on("exit", () => {
  killChildren();
  removeTempDirs();
});

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolvePort(port));
    });
  });
}

/** Keeps the last lines a child wrote, for error messages. */
function tail(child: ChildProcess): () => string {
  const lines: string[] = [];
  const add = (d: Buffer) => {
    lines.push(...d.toString().split("\n").filter(Boolean));
    if (lines.length > 30) lines.splice(0, lines.length - 30);
  };
  child.stdout?.on("data", add);
  child.stderr?.on("data", add);
  return () => lines.join("\n");
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  gc: boolean;
}

function profileArgs(o: Options, name: string): string[] {
  return o.profile
    ? ["--cpu-prof", `--cpu-prof-dir=${o.profile}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`]
    : [];
}

class Trellis {
  private constructor(
    readonly child: ChildProcess,
    readonly xdsAddress: string,
    readonly adminUrl: string,
    readonly output: () => string,
  ) {}

  static async start(dir: string, o: Options): Promise<Trellis> {
    const [xdsPort, adminPort] = [await freePort(), await freePort()];
    const args = [
      "--expose-gc",
      ...profileArgs(o, "trellis"),
      TRELLIS,
      "serve",
      "--config",
      dir,
      "--xds-address",
      `127.0.0.1:${xdsPort}`,
      "--admin-address",
      `127.0.0.1:${adminPort}`,
      "--log-level",
      "warn",
      "--debounce-quiet",
      String(o.debounceQuietMs),
      "--debounce-max",
      String(o.debounceMaxMs),
      ...o.trellisArgs,
    ];
    // taskset execs node: the pid we get is the control plane's own.
    const child = o.pin
      ? spawn(TASKSET, ["-c", "0", process.execPath, ...args], { stdio: ["ignore", "pipe", "pipe"] })
      : spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    const t = new Trellis(child, `127.0.0.1:${xdsPort}`, `http://127.0.0.1:${adminPort}`, tail(child));
    await t.waitReady(o.timeoutMs);
    return t;
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.child.exitCode !== null) throw new Error(`trellis exited (${this.child.exitCode}):\n${this.output()}`);
      try {
        const r = await fetch(`${this.adminUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
        if (r.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    throw new Error(`trellis not ready within ${timeoutMs} ms:\n${this.output()}`);
  }

  private get pid(): number {
    return this.child.pid as number;
  }

  /** User + system CPU seconds so far (/proc/<pid>/stat, fields 14 and 15). */
  cpuSeconds(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  }

  /** Peak resident set size (VmHWM), bytes. */
  peakRss(): number {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${this.pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : Number.NaN;
  }

  async memory(gc: boolean): Promise<Memory> {
    const r = await fetch(`${this.adminUrl}/debug/memory${gc ? "?gc=1" : ""}`, { signal: AbortSignal.timeout(30_000) });
    if (!r.ok) throw new Error(`/debug/memory: HTTP ${r.status}`);
    return (await r.json()) as Memory;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
    children.delete(this.child);
  }
}

class Loadgen {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exitError: Error | undefined;

  private constructor(readonly child: ChildProcess) {
    child.on("message", (m: { id: number; ok: boolean; error?: string }) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok) w.resolve(m);
      else w.reject(new Error(`loadgen: ${m.error}`));
    });
    child.on("exit", (code, signal) => {
      this.exitError = new Error(`loadgen exited (${code ?? signal})`);
      for (const w of this.waiting.values()) w.reject(this.exitError);
      this.waiting.clear();
    });
  }

  static start(o: Options): Loadgen {
    // Enough heap for 2,000 proxies' state with room to spare, so GC pauses stay short.
    const nodeArgs = ["--max-old-space-size=4096", ...profileArgs(o, "loadgen")];
    const child = o.pin
      ? fork(LOADGEN, [], {
          execPath: TASKSET,
          execArgv: ["-c", "1", process.execPath, ...nodeArgs],
          stdio: ["ignore", "inherit", "inherit", "ipc"],
        })
      : fork(LOADGEN, [], { execArgv: nodeArgs, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    children.add(child);
    return new Loadgen(child);
  }

  call<T>(cmd: Command, timeoutMs: number): Promise<T> {
    if (this.exitError) return Promise.reject(this.exitError);
    const id = this.nextId++;
    return new Promise<T>((resolveCall, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`loadgen: no reply to ${cmd.cmd} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolveCall(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ id, ...cmd });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once("exit", r));
      await this.call({ cmd: "close" }, 10_000).catch(() => {});
      const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    children.delete(this.child);
  }
}

// ---- one run -------------------------------------------------------------------

interface ChangeResult {
  service: number;
  affected: number;
  missing: number;
  /** Convergence on every affected proxy, from the file write (raw) and minus the debounce. */
  convergenceMs: number;
  latencyMs: Dist;
  cpuSeconds: number;
  /** Responses received during the change, by type. */
  responses: PerType;
}

export interface RunResult {
  size: Size;
  mode: Mode;
  run: number;
  loadAverage: number[];
  error?: string;
  coldStart?: {
    connected: number;
    full: number;
    /** Until the last proxy had full config. */
    allMs: number;
    perProxyMs: Dist;
    /** When the last of the N streams was opened (50 handshakes at a time). */
    lastStreamMs: number;
    cpuSeconds: number;
    loadgenCpuSeconds: number;
  };
  memory?: {
    baseline: Memory;
    afterColdStart: Memory;
    rssPerProxyBytes: number;
    heapPerProxyBytes: number;
    /** Extra proxies with the views of proxies already connected: what one more connection costs. */
    /**
     * Extra proxies on views that exist already: what one more connection costs.
     * Heap (V8 heap used plus external memory, i.e. Buffers) is the measure: at
     * this granularity RSS mostly shows the allocator keeping or returning pages.
     */
    marginal?: { proxies: number; rssPerProxyBytes: number; heapPerProxyBytes: number; full: number };
    peakRssBytes: number;
  };
  bytes?: {
    /** Bytes one proxy received for its initial full push. */
    perProxyInitial: Dist;
    perProxyInitialByType: PerType;
    responsesPerProxyInitial: PerType;
  };
  vs?: { changes: ChangeResult[]; latencyMs: Dist; afterDebounceMs: Dist; cpuSecondsPerChange: Dist };
  churn?: {
    changes: ChangeResult[];
    ratePerSecond: number;
    latencyMs: Dist;
    afterDebounceMs: Dist;
    /** Per change: until every affected proxy had it. */
    convergenceMs: Dist;
    cpuSecondsPerChange: number;
    responses: PerType;
    nonEdsResponses: number;
    edsBytesPerProxyPerChange: number;
  };
  loadgen?: {
    cpuSeconds: number;
    eventLoopDelayMs: { p50: number; p99: number; max: number };
    rssBytes: number;
    streamErrors: number;
    distinctClusterSets: number;
    distinctListenerSets: number;
  };
  controlPlaneCpuSeconds?: number;
  /** Raw samples for aggregation across runs (not written to the results file). */
  samples?: { cold: number[]; vs: number[]; churn: number[] };
}

const debounceOf = (o: Options) => o.debounceQuietMs + FILE_SOURCE_DEBOUNCE_MS;

function shapeOf(size: Size, o: Options): MeshShape {
  return {
    ...DEFAULT_SHAPE,
    services: size.m,
    endpoints: o.endpoints,
    namespaces: Math.min(o.namespaces, size.m),
    routedShare: o.routedShare,
    sidecarScoping: size.sidecar,
  };
}

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

const loadgenCpu = (s: StatsReply) => (s.cpu.userMs + s.cpu.systemMs) / 1000;
const nowMs = () => performance.timeOrigin + performance.now();

async function runOnce(size: Size, mode: Mode, run: number, o: Options): Promise<RunResult> {
  // The machine's load when the run starts: on a small machine anything else running skews the numbers.
  const result: RunResult = { size, mode, run, loadAverage: os.loadavg(), samples: { cold: [], vs: [], churn: [] } };
  const shape = shapeOf(size, o);
  const dir = mkdtempSync(join(os.tmpdir(), "trellis-bench-"));
  tempDirs.add(dir);
  let trellis: Trellis | undefined;
  let lg: Loadgen | undefined;
  const generation = new Array<number>(shape.services).fill(0);
  // Each service's current VirtualService change, so an endpoint change rewrites it as it is.
  const routingOf = new Map<number, RoutingChange>();
  try {
    writeMesh(dir, shape);
    trellis = await Trellis.start(dir, o);
    const tr = trellis;
    const cpuStart = tr.cpuSeconds();
    const baseline = await tr.memory(true);
    lg = Loadgen.start(o);
    const loadgen = lg;
    await loadgen.call({ cmd: "init", address: tr.xdsAddress, mode, shape }, 60_000);

    // 1. Cold start.
    const lgBefore = await loadgen.call<StatsReply>({ cmd: "stats" }, 10_000);
    const cpu0 = tr.cpuSeconds();
    const cold = await loadgen.call<ConnectReply>(
      { cmd: "connect", count: size.n, timeoutMs: o.timeoutMs },
      o.timeoutMs + 30_000,
    );
    const cpu1 = tr.cpuSeconds();
    const lgAfter = await loadgen.call<StatsReply>({ cmd: "stats" }, 10_000);
    result.coldStart = {
      connected: cold.connected,
      full: cold.full,
      allMs: cold.full === cold.connected ? Math.max(...cold.fullMs) : Number.NaN,
      perProxyMs: dist(cold.fullMs),
      lastStreamMs: cold.lastStreamMs,
      cpuSeconds: cpu1 - cpu0,
      loadgenCpuSeconds: loadgenCpu(lgAfter) - loadgenCpu(lgBefore),
    };
    result.samples?.cold.push(...cold.fullMs);
    log(
      `  cold start: ${cold.full}/${cold.connected} full in ${Math.round(cold.elapsedMs)} ms (all connected at ${Math.round(cold.lastStreamMs)} ms), CP ${(cpu1 - cpu0).toFixed(2)} CPU s, load generator ${result.coldStart.loadgenCpuSeconds.toFixed(2)} CPU s`,
    );
    if (cold.full < cold.connected)
      throw new Error(`cold start: only ${cold.full}/${cold.connected} proxies converged`);
    // Memory once the push is over and its write buffers are released (they take a moment after the last ACK).
    await quiet(loadgen, o);
    await sleep(1000);

    // 4. Memory per connected proxy, and 5. bytes per proxy.
    const afterColdStart = await tr.memory(true);
    result.memory = {
      baseline,
      afterColdStart,
      rssPerProxyBytes: (afterColdStart.rss - baseline.rss) / size.n,
      heapPerProxyBytes: (heapOf(afterColdStart) - heapOf(baseline)) / size.n,
      peakRssBytes: Number.NaN,
    };
    const { total, ...byType } = lgAfter.initialBytes;
    result.bytes = {
      perProxyInitial: dist(total),
      perProxyInitialByType: byType,
      responsesPerProxyInitial: lgAfter.initialResponses,
    };

    // 4b. More connections on views that exist already: the per-proxy cost beyond
    // shared config. Measured in the steady state after the cold start, then the
    // extra proxies leave again so the change scenarios run with exactly N.
    const clones = Math.max(10, Math.ceil(size.n / 4));
    const memA = await tr.memory(true);
    const cl = await loadgen.call<ConnectReply>(
      { cmd: "connect", count: clones, clones: true, timeoutMs: o.timeoutMs },
      o.timeoutMs + 30_000,
    );
    await quiet(loadgen, o);
    await sleep(1000);
    const memB = await tr.memory(true);
    result.memory.marginal = {
      proxies: clones,
      full: cl.full,
      rssPerProxyBytes: (memB.rss - memA.rss) / clones,
      heapPerProxyBytes: (heapOf(memB) - heapOf(memA)) / clones,
    };
    await loadgen.call({ cmd: "disconnect", count: clones }, 30_000);
    await sleep(500); // the server sees the streams end

    // 2. VirtualService changes, one at a time (the memory reading above waited for quiet).
    const routed = [...Array(shape.services).keys()].filter((i) => isRouted(shape, i));
    const vsChanges: ChangeResult[] = [];
    for (let c = 0; c < Math.min(o.vsChanges, routed.length); c++) {
      const i = routed[Math.floor(((c + 0.5) * routed.length) / o.vsChanges) % routed.length] as number;
      const started = nowMs();
      const cpuA = tr.cpuSeconds();
      // The marker tells this change's push apart from a late one of the change before.
      const marker = `vs-${run}-${c}-${Date.now().toString(36)}`;
      const e = await loadgen.call<ExpectReply>(
        { cmd: "expect", type: "RDS", scope: `|${hostOf(shape, i)}`, contains: marker },
        10_000,
      );
      const t0 = nowMs();
      const change = { v1Weight: 60 - 10 * (c % 3), marker };
      routingOf.set(i, change);
      writeServiceFile(dir, shape, i, generation[i] as number, undefined, change);
      const w = await loadgen.call<WaitReply>(
        { cmd: "wait", expectId: e.expectId, t0, timeoutMs: o.changeTimeoutMs },
        o.changeTimeoutMs + 10_000,
      );
      await sleep(200); // the ACKs
      const cpuB = tr.cpuSeconds();
      const counts = await loadgen.call<CountReply>({ cmd: "count", since: t0 }, 10_000);
      vsChanges.push(changeResult(i, e, w, cpuB - cpuA, counts));
      result.samples?.vs.push(...w.latenciesMs);
      await sleep(Math.max(0, started + o.vsSpacingMs - nowMs()));
    }
    const vsLat = result.samples?.vs ?? [];
    result.vs = {
      changes: vsChanges,
      latencyMs: dist(vsLat),
      afterDebounceMs: dist(vsLat.map((x) => x - debounceOf(o))),
      cpuSecondsPerChange: dist(vsChanges.map((c) => c.cpuSeconds)),
    };
    log(
      `  VS change: p99 ${result.vs.latencyMs.p99} ms (${result.vs.afterDebounceMs.p99} after debounce), CP ${result.vs.cpuSecondsPerChange.p50} CPU s each`,
    );

    await quiet(loadgen, o);

    // 3. Endpoint churn: `churnRate` changes per second on distinct services.
    const count = Math.min(shape.services, Math.max(1, Math.round(o.churnRate * o.churnSeconds)));
    const pending: { i: number; e: ExpectReply; t0: number }[] = [];
    const churnStart = nowMs();
    const cpuA = tr.cpuSeconds();
    for (let k = 0; k < count; k++) {
      await sleep(Math.max(0, churnStart + (k * 1000) / o.churnRate - nowMs()));
      const i = Math.floor(((k + 0.5) * shape.services) / count);
      const next = (generation[i] as number) + 1;
      // The assignment carrying this change is the one with the new address.
      const e = await loadgen.call<ExpectReply>(
        { cmd: "expect", type: "EDS", scope: `|${hostOf(shape, i)}`, contains: podIp(i, 0, next) },
        10_000,
      );
      const t0 = nowMs();
      generation[i] = next;
      writeServiceFile(dir, shape, i, next, undefined, routingOf.get(i));
      pending.push({ i, e, t0 });
    }
    const churnChanges: ChangeResult[] = [];
    const zero = { responses: perTypeZero(), bytes: perTypeZero() };
    // One deadline for all: a stalled control plane costs one timeout, not one per change.
    const deadline = nowMs() + o.changeTimeoutMs;
    for (const { i, e, t0 } of pending) {
      const timeoutMs = Math.max(0, deadline - nowMs());
      const w = await loadgen.call<WaitReply>({ cmd: "wait", expectId: e.expectId, t0, timeoutMs }, timeoutMs + 10_000);
      churnChanges.push(changeResult(i, e, w, Number.NaN, zero));
      result.samples?.churn.push(...w.latenciesMs);
    }
    await sleep(300);
    const cpuB = tr.cpuSeconds();
    const counts = await loadgen.call<CountReply>({ cmd: "count", since: churnStart }, 10_000);
    const churnLat = result.samples?.churn ?? [];
    const affectedTotal = churnChanges.reduce((a, c) => a + c.affected, 0);
    result.churn = {
      changes: churnChanges,
      ratePerSecond: o.churnRate,
      latencyMs: dist(churnLat),
      afterDebounceMs: dist(churnLat.map((x) => x - debounceOf(o))),
      convergenceMs: dist(churnChanges.map((c) => c.convergenceMs)),
      cpuSecondsPerChange: (cpuB - cpuA) / count,
      responses: counts.responses,
      nonEdsResponses: counts.responses.CDS + counts.responses.LDS + counts.responses.RDS,
      edsBytesPerProxyPerChange: affectedTotal > 0 ? counts.bytes.EDS / affectedTotal : 0,
    };
    log(
      `  endpoint churn: ${count} changes, p99 ${result.churn.latencyMs.p99} ms, CP ${result.churn.cpuSecondsPerChange.toFixed(3)} CPU s/change, non-EDS responses ${result.churn.nonEdsResponses}`,
    );

    result.memory.peakRssBytes = tr.peakRss();
    log(
      `  memory: ${kb(result.memory.rssPerProxyBytes)} KB RSS/proxy (${kb(result.memory.heapPerProxyBytes)} KB heap), marginal ${kb(result.memory.marginal?.rssPerProxyBytes ?? Number.NaN)} KB RSS (${kb(result.memory.marginal?.heapPerProxyBytes ?? Number.NaN)} KB heap), peak RSS ${mb(result.memory.peakRssBytes)} MB`,
    );

    const final = await loadgen.call<StatsReply>({ cmd: "stats" }, 10_000);
    result.loadgen = {
      cpuSeconds: loadgenCpu(final) - loadgenCpu(lgBefore),
      eventLoopDelayMs: final.eventLoopDelayMs,
      rssBytes: final.rssBytes,
      streamErrors: final.streamErrors,
      distinctClusterSets: final.distinctClusterSets,
      distinctListenerSets: final.distinctListenerSets,
    };
    result.controlPlaneCpuSeconds = tr.cpuSeconds() - cpuStart;
  } catch (err) {
    result.error = (err as Error).message;
    log(`  ERROR: ${result.error}`);
  } finally {
    await lg?.stop().catch(() => {});
    await trellis?.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
  return result;
}

/** Waits until no response has arrived for a second, so one scenario's pushes do not spill into the next. */
async function quiet(loadgen: Loadgen, o: Options): Promise<void> {
  const deadline = nowMs() + o.changeTimeoutMs;
  while (nowMs() < deadline) {
    const c = await loadgen.call<CountReply>({ cmd: "count", since: nowMs() - 1000 }, 10_000);
    if (Object.values(c.responses).every((n) => n === 0)) return;
    await sleep(250);
  }
  log("  warning: responses still arriving; going on");
}

function perTypeZero(): PerType {
  return { CDS: 0, EDS: 0, LDS: 0, RDS: 0, other: 0 };
}

function changeResult(i: number, e: ExpectReply, w: WaitReply, cpu: number, counts: CountReply): ChangeResult {
  return {
    service: i,
    affected: e.affected,
    missing: w.missing,
    convergenceMs: w.missing === 0 && w.latenciesMs.length > 0 ? Math.max(...w.latenciesMs) : Number.NaN,
    latencyMs: dist(w.latenciesMs),
    cpuSeconds: cpu,
    responses: counts.responses,
  };
}

const kb = (b: number) => Math.round(b / 1024);
/** Memory the process holds for its objects: V8 heap in use plus external (Buffers). */
const heapOf = (m: Memory) => m.heapUsed + m.external;
const mb = (b: number) => Math.round(b / 1024 / 1024);

// ---- aggregation and targets -------------------------------------------------------

export interface Aggregate {
  size: Size;
  mode: Mode;
  runs: number;
  errors: string[];
  coldStartAllMs: { median: number; p99: number };
  coldStartPerProxyMs: Dist;
  coldStartCpuSeconds: number;
  vsLatencyMs: Dist;
  vsAfterDebounceMs: Dist;
  vsCpuSecondsPerChange: number;
  vsOtherTypeResponses: number;
  /** Proxy-changes that never arrived (timed out): any makes the latency targets not met. */
  vsMissing: number;
  churnMissing: number;
  churnLatencyMs: Dist;
  churnAfterDebounceMs: Dist;
  churnCpuSecondsPerChange: number;
  churnNonEdsResponses: number;
  rssPerProxyBytes: number;
  heapPerProxyBytes: number;
  marginalRssPerProxyBytes: number;
  marginalHeapPerProxyBytes: number;
  rssAfterColdStartBytes: number;
  peakRssBytes: number;
  bytesPerProxyInitial: number;
  bytesPerProxyInitialByType: PerType;
  loadgenCpuSeconds: number;
  controlPlaneCpuSeconds: number;
  loadgenEventLoopDelayP99Ms: number;
}

function aggregate(size: Size, mode: Mode, runs: RunResult[], o: Options): Aggregate {
  const ok = runs.filter((r) => !r.error);
  const pool = (f: (r: RunResult) => number[]) => ok.flatMap(f);
  const med = (f: (r: RunResult) => number | undefined) =>
    median(ok.map(f).filter((x): x is number => x !== undefined && !Number.isNaN(x)));
  const cold = ok.map((r) => r.coldStart?.allMs ?? Number.NaN).sort((a, b) => a - b);
  const byType = perTypeZero();
  for (const k of Object.keys(byType) as (keyof PerType)[]) byType[k] = med((r) => r.bytes?.perProxyInitialByType[k]);
  return {
    size,
    mode,
    runs: runs.length,
    errors: runs.filter((r) => r.error).map((r) => `run ${r.run}: ${r.error}`),
    coldStartAllMs: { median: pct(cold, 50), p99: pct(cold, 99) },
    coldStartPerProxyMs: dist(pool((r) => r.samples?.cold ?? [])),
    coldStartCpuSeconds: med((r) => r.coldStart?.cpuSeconds),
    vsLatencyMs: dist(pool((r) => r.samples?.vs ?? [])),
    vsAfterDebounceMs: dist(pool((r) => r.samples?.vs ?? []).map((x) => x - debounceOf(o))),
    vsCpuSecondsPerChange: median(pool((r) => r.vs?.changes.map((c) => c.cpuSeconds) ?? [])),
    vsOtherTypeResponses: ok.reduce(
      (a, r) => a + (r.vs?.changes ?? []).reduce((b, c) => b + c.responses.CDS + c.responses.EDS + c.responses.LDS, 0),
      0,
    ),
    vsMissing: ok.reduce((a, r) => a + (r.vs?.changes ?? []).reduce((b, c) => b + c.missing, 0), 0),
    churnMissing: ok.reduce((a, r) => a + (r.churn?.changes ?? []).reduce((b, c) => b + c.missing, 0), 0),
    churnLatencyMs: dist(pool((r) => r.samples?.churn ?? [])),
    churnAfterDebounceMs: dist(pool((r) => r.samples?.churn ?? []).map((x) => x - debounceOf(o))),
    churnCpuSecondsPerChange: med((r) => r.churn?.cpuSecondsPerChange),
    churnNonEdsResponses: ok.reduce((a, r) => a + (r.churn?.nonEdsResponses ?? 0), 0),
    rssPerProxyBytes: med((r) => r.memory?.rssPerProxyBytes),
    heapPerProxyBytes: med((r) => r.memory?.heapPerProxyBytes),
    marginalRssPerProxyBytes: med((r) => r.memory?.marginal?.rssPerProxyBytes),
    marginalHeapPerProxyBytes: med((r) => r.memory?.marginal?.heapPerProxyBytes),
    rssAfterColdStartBytes: med((r) => r.memory?.afterColdStart.rss),
    peakRssBytes: Math.max(...ok.map((r) => r.memory?.peakRssBytes ?? Number.NaN).filter((x) => !Number.isNaN(x)), 0),
    bytesPerProxyInitial: med((r) => r.bytes?.perProxyInitial.p50),
    bytesPerProxyInitialByType: byType,
    loadgenCpuSeconds: med((r) => r.loadgen?.cpuSeconds),
    controlPlaneCpuSeconds: med((r) => r.controlPlaneCpuSeconds),
    loadgenEventLoopDelayP99Ms: med((r) => r.loadgen?.eventLoopDelayMs.p99),
  };
}

export interface TargetResult {
  target: string;
  limit: number;
  unit: string;
  value: number;
  met: boolean;
  mode: Mode;
  /** The size it was measured at; `atTargetSize` false when the target size (2000 proxies × 1000 services) was not run. */
  size: string;
  atTargetSize: boolean;
}

const TARGET_SIZE = { n: 2000, m: 1000 };

function evaluateTargets(aggs: Aggregate[], o: Options): TargetResult[] {
  const out: TargetResult[] = [];
  for (const mode of o.modes) {
    const candidates = aggs.filter((a) => a.mode === mode && a.errors.length < a.runs);
    const exact = candidates.find((a) => a.size.n === TARGET_SIZE.n && a.size.m === TARGET_SIZE.m && !a.size.sidecar);
    const largest = [...candidates].sort(
      (a, b) => b.size.n * b.size.m - a.size.n * a.size.m || Number(a.size.sidecar) - Number(b.size.sidecar),
    )[0];
    const a = exact ?? largest;
    if (!a) continue;
    const common = { mode, size: sizeName(a.size), atTargetSize: exact !== undefined };
    const add = (target: string, value: number, limit: number, unit: string) =>
      out.push({ target, value: round(value), limit, unit, met: !Number.isNaN(value) && value <= limit, ...common });
    add("cold start, all proxies full config", a.coldStartAllMs.median / 1000, 30, "s");
    // A change that never reached some proxy has no finite p99.
    add(
      "VirtualService change p99, after debounce",
      a.vsMissing > 0 ? Number.NaN : a.vsAfterDebounceMs.p99,
      1000,
      "ms",
    );
    add("endpoint change p99, after debounce", a.churnMissing > 0 ? Number.NaN : a.churnAfterDebounceMs.p99, 500, "ms");
    add("CP memory per proxy beyond shared config (heap + external)", a.marginalHeapPerProxyBytes / 1024, 100, "KB");
    add("CP RSS (peak)", a.peakRssBytes / 1024 / 1024, 1024, "MB");
    add("endpoint churn: LDS/CDS/RDS responses", a.churnNonEdsResponses, 0, "responses");
  }
  return out;
}

const round = (x: number) => Math.round(x * 100) / 100;
const sizeName = (s: Size) => `${s.n}x${s.m}${s.sidecar ? "s" : ""}`;

// ---- output ----------------------------------------------------------------------

function pad(s: string, n: number): string {
  return s.length >= n ? s : " ".repeat(n - s.length) + s;
}

function printSummary(aggs: Aggregate[], targets: TargetResult[], o: Options): void {
  const cols = [
    ["size", 11],
    ["mode", 5],
    ["cold med", 9],
    ["cold p99", 9],
    ["VS p99", 8],
    ["VS CPU s", 9],
    ["EP p99", 8],
    ["EP CPU s", 9],
    ["non-EDS", 8],
    ["KB/proxy", 9],
    ["KB/+proxy", 10],
    ["peak MB", 8],
    ["KB push", 8],
    ["LG CPU s", 9],
  ] as const;
  const lines = [cols.map(([h, w]) => pad(h, w)).join(" ")];
  for (const a of aggs) {
    const f = (x: number, d = 0) => (Number.isNaN(x) ? "-" : x.toFixed(d));
    const row = [
      sizeName(a.size),
      a.mode,
      f(a.coldStartAllMs.median / 1000, 2),
      f(a.coldStartAllMs.p99 / 1000, 2),
      f(a.vsAfterDebounceMs.p99),
      f(a.vsCpuSecondsPerChange, 3),
      f(a.churnAfterDebounceMs.p99),
      f(a.churnCpuSecondsPerChange, 3),
      f(a.churnNonEdsResponses),
      f(a.rssPerProxyBytes / 1024),
      f(a.marginalHeapPerProxyBytes / 1024),
      f(a.peakRssBytes / 1024 / 1024),
      f(a.bytesPerProxyInitial / 1024),
      f(a.loadgenCpuSeconds, 1),
    ];
    lines.push(row.map((v, k) => pad(v, (cols[k] as readonly [string, number])[1])).join(" "));
    for (const e of a.errors) lines.push(`    error: ${e}`);
    if (a.vsMissing + a.churnMissing > 0) {
      lines.push(`    timed out: ${a.vsMissing} VS and ${a.churnMissing} endpoint proxy-changes never arrived`);
    }
  }
  console.log(
    `\ncold = s until every proxy had full config (median, p99 over runs); VS/EP p99 = ms, after the ${debounceOf(o)} ms debounce` +
      `\n(${o.debounceQuietMs} quiet + ${FILE_SOURCE_DEBOUNCE_MS} file source); CPU s = control-plane CPU per change; KB/+proxy = heap+external per extra proxy on existing views;` +
      `\nKB push = bytes one proxy receives for its initial full push; LG = load generator CPU for the whole run\n`,
  );
  console.log(lines.join("\n"));
  console.log("\ntargets:");
  for (const t of targets) {
    const where = `${t.mode} ${t.size}${t.atTargetSize ? "" : " (target size 2000x1000 not run)"}`;
    console.log(
      `  ${t.met ? "MET    " : "NOT MET"}  ${t.target}: ${t.value} ${t.unit} (limit ${t.limit} ${t.unit}) [${where}]`,
    );
  }
}

function machineInfo(o: Options): Record<string, unknown> {
  let commit: string | undefined;
  try {
    commit = execFileSync("git", ["-C", REPO, "describe", "--always", "--dirty"], {
      stdio: ["ignore", "pipe", "ignore"],
    })
      .toString()
      .trim();
  } catch {
    commit = undefined;
  }
  return {
    cpu: os.cpus()[0]?.model,
    cores: os.cpus().length,
    totalMemBytes: os.totalmem(),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    loadAverageAtStart: os.loadavg(),
    pinned: o.pin ? { trellis: "taskset -c 0", loadgen: "taskset -c 1" } : false,
    commit,
  };
}

function resultsPath(o: Options, date: Date): string {
  if (o.out.endsWith(".json")) return resolve(o.out);
  const stamp = date.toISOString().replace(/:/g, "").replace("T", "-").slice(0, 17);
  return join(resolve(o.out), `${stamp}-${o.label}.json`);
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  if (!existsSync(TRELLIS) || !existsSync(LOADGEN)) throw new Error("build first: npm run build");
  const started = new Date();
  const machine = machineInfo(o);
  log(
    `sizes ${o.sizes.map(sizeName).join(", ")}; modes ${o.modes.join(", ")}; ${o.runs} run(s)${o.pin ? "; pinned" : ""}`,
  );
  const runs: RunResult[] = [];
  const aggs: Aggregate[] = [];
  for (const size of o.sizes) {
    for (const mode of o.modes) {
      const these: RunResult[] = [];
      for (let run = 1; run <= o.runs; run++) {
        log(`${sizeName(size)} ${mode} run ${run}/${o.runs}`);
        these.push(await runOnce(size, mode, run, o));
      }
      runs.push(...these);
      aggs.push(aggregate(size, mode, these, o));
    }
  }
  const targets = evaluateTargets(aggs, o);
  const file = resultsPath(o, started);
  mkdirSync(dirname(file), { recursive: true });
  const results = {
    label: o.label,
    date: started.toISOString(),
    durationSeconds: Math.round((Date.now() - started.getTime()) / 1000),
    machine,
    config: {
      quick: o.quick,
      runs: o.runs,
      modes: o.modes,
      endpointsPerService: o.endpoints,
      namespaces: o.namespaces,
      routedShare: o.routedShare,
      debounceQuietMs: o.debounceQuietMs,
      debounceMaxMs: o.debounceMaxMs,
      fileSourceDebounceMs: FILE_SOURCE_DEBOUNCE_MS,
      vsChanges: o.vsChanges,
      vsSpacingMs: o.vsSpacingMs,
      churnRatePerSecond: o.churnRate,
      churnSeconds: o.churnSeconds,
    },
    targets,
    aggregates: aggs,
    runs: runs.map(({ samples: _samples, ...r }) => r),
  };
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  printSummary(aggs, targets, o);
  console.log(`\nresults: ${file}`);
  if (o.plots) {
    const written = writePlots(results, o.plots);
    console.log(`plots: ${written.join(", ")}`);
  }
  return runs.some((r) => r.error) ? 1 : 0;
}

main().then(
  (code) => {
    removeTempDirs();
    process.exit(code);
  },
  (err: Error) => {
    console.error(err.message);
    killChildren();
    removeTempDirs();
    process.exit(2);
  },
);
