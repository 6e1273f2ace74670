// Traffic management with real peers: a @grpc/grpc-js-xds client makes real
// RPCs to real gRPC servers through VirtualServices and DestinationRules that
// `trellis serve` translates. Features grpc-js-xds does not implement (CORS,
// mirroring, redirects, direct responses, header rewrites, ...) are covered by
// the golden files in src/translate/testdata instead.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as grpcXds from "@grpc/grpc-js-xds";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoClient } from "../support/backends.js";
import { type BehaviourBackend, startBehaviourBackend } from "../support/behaviour-backends.js";
import { runTrellis, startTrellis, type TrellisProcess } from "../support/trellis-process.js";

type Reply = { backend: string; text: string };

function call(client: grpc.Client, headers: Record<string, string> = {}, deadlineMs = 5_000): Promise<Reply> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  return new Promise((resolve, reject) => {
    // biome-ignore lint/suspicious/noExplicitAny: generic client method
    (client as any).Echo({ text: "hi" }, md, { deadline: Date.now() + deadlineMs }, (err: Error | null, res: Reply) =>
      err ? reject(err) : resolve(res),
    );
  });
}

async function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; code: number; ms: number }> {
  const start = Date.now();
  try {
    return { ok: true, value: await p };
  } catch (err) {
    return { ok: false, code: (err as grpc.ServiceError).code, ms: Date.now() - start };
  }
}

/** Calls until `pred` holds for a reply (config has converged), failing after `timeoutMs`. */
async function until(client: grpc.Client, pred: (r: Reply) => boolean, headers: Record<string, string> = {}) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const r = await settle(call(client, headers, 2_000));
    if (r.ok && pred(r.value)) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error("configuration did not converge");
}

const NS = "default";
const host = (svc: string) => `${svc}.${NS}.svc.cluster.local`;

function serviceEntry(name: string, endpoints: { port: number; labels: Record<string, string> }[]) {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: ${NS} }
spec:
  hosts: [${host(name)}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 9090, name: grpc, protocol: GRPC }]
  endpoints:
${endpoints.map((e) => `  - address: 127.0.0.1\n    ports: { grpc: ${e.port} }\n    labels: ${JSON.stringify(e.labels)}`).join("\n")}
---
`;
}

describe("traffic management through grpc-js-xds", () => {
  let dir: string;
  let trellis: TrellisProcess;
  let bootstrap: string;
  const backends: Record<string, BehaviourBackend> = {};
  const clients: grpc.Client[] = [];
  const client = (svc: string) => {
    const c = new EchoClient(`xds:///${host(svc)}:9090`, grpc.credentials.createInsecure(), {
      "grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config": bootstrap,
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    grpcXds.register();
    const start = async (name: string, opts = {}) => {
      backends[name] = await startBehaviourBackend(name, opts);
      return backends[name].port;
    };
    const p = {
      v1: await start("reviews-v1"),
      v2: await start("reviews-v2"),
      r1: await start("ratings-v1"),
      r2: await start("ratings-v2"),
      faulty: await start("faulty"),
      flaky: await start("flaky", { failEvery: 2 }),
      flaky2: await start("flaky-no-retry", { failEvery: 2 }),
      slow: await start("slow", { delayMs: 1_000 }),
      good: await start("outlier-good"),
      bad: await start("outlier-bad", { failAll: true }),
      h1: await start("hash-1"),
      h2: await start("hash-2"),
      h3: await start("hash-3"),
      held: await start("breaker", { delayMs: 500 }),
    };
    const yaml = [
      serviceEntry("reviews", [
        { port: p.v1, labels: { version: "v1" } },
        { port: p.v2, labels: { version: "v2" } },
      ]),
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: ${NS} }
spec:
  host: reviews
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews, namespace: ${NS} }
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: { host: reviews, subset: v1 }
      weight: 80
    - destination: { host: reviews, subset: v2 }
      weight: 20
---
`,
      serviceEntry("ratings", [
        { port: p.r1, labels: { version: "v1" } },
        { port: p.r2, labels: { version: "v2" } },
      ]),
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ratings, namespace: ${NS} }
spec:
  host: ratings
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings, namespace: ${NS} }
spec:
  hosts: [ratings]
  http:
  - match:
    - headers:
        end-user: { exact: jason }
    route:
    - destination: { host: ratings, subset: v2 }
  - route:
    - destination: { host: ratings, subset: v1 }
---
`,
      serviceEntry("faulty", [{ port: p.faulty, labels: {} }]),
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: faulty, namespace: ${NS} }
spec:
  hosts: [faulty]
  http:
  - match:
    - headers:
        x-fault: { exact: delay }
    fault:
      delay: { fixedDelay: 400ms, percentage: { value: 100 } }
    route:
    - destination: { host: faulty }
  - fault:
      abort: { httpStatus: 503, percentage: { value: 50 } }
    route:
    - destination: { host: faulty }
---
`,
      serviceEntry("flaky", [{ port: p.flaky, labels: {} }]),
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: flaky, namespace: ${NS} }
spec:
  hosts: [flaky]
  http:
  - route:
    - destination: { host: flaky }
    retries: { attempts: 3, retryOn: unavailable }
---
`,
      serviceEntry("flaky-no-retry", [{ port: p.flaky2, labels: {} }]),
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: flaky-no-retry, namespace: ${NS} }
spec:
  hosts: [flaky-no-retry]
  http:
  - route:
    - destination: { host: flaky-no-retry }
    retries: { attempts: 0 }
---
`,
      serviceEntry("slow", [{ port: p.slow, labels: {} }]),
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: slow, namespace: ${NS} }
spec:
  hosts: [slow]
  http:
  - route:
    - destination: { host: slow }
    timeout: 0.2s
---
`,
      serviceEntry("outlier", [
        { port: p.good, labels: {} },
        { port: p.bad, labels: {} },
      ]),
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: outlier, namespace: ${NS} }
spec:
  host: outlier
  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 3
      interval: 1s
      baseEjectionTime: 30s
      maxEjectionPercent: 50
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: outlier, namespace: ${NS} }
spec:
  hosts: [outlier]
  http:
  - route:
    - destination: { host: outlier }
    retries: { attempts: 0 }
---
`,
      serviceEntry("hash", [
        { port: p.h1, labels: {} },
        { port: p.h2, labels: {} },
        { port: p.h3, labels: {} },
      ]),
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: hash, namespace: ${NS} }
spec:
  host: hash
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpHeaderName: x-user
---
`,
      serviceEntry("breaker", [{ port: p.held, labels: {} }]),
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: breaker, namespace: ${NS} }
spec:
  host: breaker
  trafficPolicy:
    connectionPool:
      http:
        http2MaxRequests: 1
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: breaker, namespace: ${NS} }
spec:
  hosts: [breaker]
  http:
  - route:
    - destination: { host: breaker }
    retries: { attempts: 0 }
`,
    ].join("");
    dir = mkdtempSync(join(tmpdir(), "trellis-traffic-"));
    writeFileSync(join(dir, "mesh.yaml"), yaml);
    trellis = await startTrellis(dir);
    const boot = await runTrellis(["bootstrap", "--grpc", "--xds-address", trellis.xdsAddress, "--node-id", "traffic"]);
    bootstrap = boot.stdout;
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await trellis?.stop();
    await Promise.all(Object.values(backends).map((b) => b.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("has no diagnostics for this mesh", async () => {
    const d = (await (await fetch(`${trellis.adminUrl}/debug/diagnostics`)).json()) as {
      diagnostics: { text: string }[];
    };
    expect(d.diagnostics.map((x) => x.text)).toEqual([]);
  });

  it("splits traffic 80/20 between subsets (±5 points over 2,000 calls)", async () => {
    const c = client("reviews");
    await until(c, () => true);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 2_000; i++) {
      const r = await call(c);
      counts[r.backend] = (counts[r.backend] ?? 0) + 1;
    }
    const v2 = ((counts["reviews-v2"] ?? 0) / 2_000) * 100;
    expect(Object.keys(counts).sort()).toEqual(["reviews-v1", "reviews-v2"]);
    expect(v2).toBeGreaterThanOrEqual(15);
    expect(v2).toBeLessThanOrEqual(25);
  }, 60_000);

  it("routes by header to a subset selected by labels", async () => {
    const c = client("ratings");
    await until(c, (r) => r.backend === "ratings-v2", { "end-user": "jason" });
    for (let i = 0; i < 20; i++) expect((await call(c, { "end-user": "jason" })).backend).toBe("ratings-v2");
    for (let i = 0; i < 20; i++) expect((await call(c, { "end-user": "someone-else" })).backend).toBe("ratings-v1");
    for (let i = 0; i < 20; i++) expect((await call(c)).backend).toBe("ratings-v1");
  });

  it("aborts about 50% of calls with the injected fault (±5 points over 1,000 calls)", async () => {
    const c = client("faulty");
    await until(c, () => true);
    let aborted = 0;
    for (let i = 0; i < 1_000; i++) {
      const r = await settle(call(c));
      if (!r.ok) {
        expect(r.code).toBe(grpc.status.UNAVAILABLE); // HTTP 503 maps to UNAVAILABLE
        aborted++;
      }
    }
    expect(aborted / 10).toBeGreaterThanOrEqual(45);
    expect(aborted / 10).toBeLessThanOrEqual(55);
  }, 60_000);

  it("delays calls with the injected delay", async () => {
    const c = client("faulty");
    const start = Date.now();
    const r = await settle(call(c, { "x-fault": "delay" }));
    // The delay applies before the (independent) abort fault of the other route; this route has none.
    expect(r.ok).toBe(true);
    expect(Date.now() - start).toBeGreaterThanOrEqual(390);
  });

  it("retries turn a flaky upstream into successes; without retries the failures show", async () => {
    const withRetries = client("flaky");
    await until(withRetries, () => true);
    for (let i = 0; i < 50; i++) expect((await call(withRetries)).backend).toBe("flaky");
    const without = client("flaky-no-retry");
    await until(without, () => true);
    let failures = 0;
    for (let i = 0; i < 50; i++) if (!(await settle(call(without))).ok) failures++;
    expect(failures).toBeGreaterThanOrEqual(20);
  });

  it("enforces the route timeout", async () => {
    const c = client("slow");
    // Until the configuration arrives the 1 s backend answers; once it has, every call times out after 0.2 s.
    const deadline = Date.now() + 20_000;
    let last = await settle(call(c, {}, 5_000));
    while (Date.now() < deadline && (last.ok || last.ms >= 900)) last = await settle(call(c, {}, 5_000));
    expect(last.ok).toBe(false);
    if (!last.ok) {
      expect(last.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(last.ms).toBeLessThan(900);
    }
  });

  it("ejects a failing endpoint with outlier detection", async () => {
    const c = client("outlier");
    await until(c, () => true);
    // Warm up: let the detector see the failures of the bad endpoint.
    for (let i = 0; i < 40; i++) await settle(call(c));
    await new Promise((r) => setTimeout(r, 1_500));
    let failures = 0;
    for (let i = 0; i < 40; i++) if (!(await settle(call(c))).ok) failures++;
    expect(failures).toBe(0);
  }, 30_000);

  it("keeps a header's calls on one endpoint with a consistent hash", async () => {
    const c = client("hash");
    await until(c, () => true, { "x-user": "alice" });
    const seen = new Map<string, Set<string>>();
    for (const user of ["alice", "bob", "carol", "dave", "erin", "frank"]) {
      const backendsSeen = new Set<string>();
      for (let i = 0; i < 15; i++) backendsSeen.add((await call(c, { "x-user": user })).backend);
      seen.set(user, backendsSeen);
    }
    for (const [, s] of seen) expect(s.size).toBe(1);
    const distinct = new Set([...seen.values()].map((s) => [...s][0]));
    expect(distinct.size).toBeGreaterThan(1);
  });

  it("rejects calls beyond http2MaxRequests with the circuit breaker", async () => {
    const c = client("breaker");
    await until(c, () => true);
    // Calls are staggered: grpc-js counts a call against max_requests only once
    // it has started, so calls picked in the same instant all pass the check.
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => new Promise((r) => setTimeout(r, i * 50)).then(() => settle(call(c)))),
    );
    const rejected = results.filter((r) => !r.ok);
    expect(rejected.length).toBeGreaterThanOrEqual(4);
    for (const r of rejected) if (!r.ok) expect(r.code).toBe(grpc.status.UNAVAILABLE);
    expect(backends.breaker?.maxInFlight).toBe(1);
  });
});
