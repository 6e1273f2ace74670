// Stock Envoy in the loop, on one machine: real envoyproxy/envoy containers,
// bootstrapped by Trellis's own bootstrap generator, get their listeners,
// routes, clusters and endpoints from `trellis serve` (running in this
// process) and route real HTTP requests to two backends (node:http servers in
// this process) as the VirtualService says. One Envoy speaks Delta ADS (the
// bootstrap's default), the other state-of-the-world ADS.
//
//   test ──HTTP──► <docker host>:<published 9080> ──► Envoy listener 0.0.0.0_9080 (see mesh.ts)
//   Envoy ──ADS───► host.testcontainers.internal:<xds port>  ──► trellis serve
//   Envoy ──HTTP──► <host.testcontainers.internal IP>:<v1|v2> ──► backends
//
// host.testcontainers.internal is testcontainers' port forwarder: an sshd
// container that every later container finds in its /etc/hosts; each port
// given to `TestContainers.exposeHostPorts` is forwarded over SSH to
// `localhost:<port>` in this process, so Trellis and the backends listen on
// 127.0.0.1 only.
//
// Needs a Docker engine. Without one, every test reports itself as skipped
// with the reason (runtime.ts); with TRELLIS_E2E_REQUIRE_DOCKER=1 they fail.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { type AddressInfo, isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GenericContainer, type StartedTestContainer, TestContainers, Wait } from "testcontainers";
import { afterAll, beforeAll, describe, expect, it, type TestContext } from "vitest";
import { type RunningServer, serve } from "../../src/cli/serve.js";
import { DEFAULT_PROXY_IMAGE } from "../../src/config/mesh-config.js";
import {
  type AdsApiType,
  ENVOY_READINESS_PORT,
  ENVOY_STATS_PORT,
  envoyBootstrap,
  READINESS_PATH,
  STATS_PATH,
} from "../../src/envoy/bootstrap.js";
import {
  HOST,
  NAMESPACE,
  nodeId,
  type Routing,
  reviewsMesh,
  SERVICE_PORT,
  sidecar,
  USER_HEADER,
  type VersionEndpoint,
} from "./mesh.js";
import { detectContainerRuntime, dockerRequired, REQUIRE_ENV } from "./runtime.js";
import { notInSync, routeVersion, streamOf, waitInSync } from "./syncz.js";

const ENVOY_IMAGE = process.env.TRELLIS_E2E_ENVOY_IMAGE ?? DEFAULT_PROXY_IMAGE;
const FORWARDED_HOST = "host.testcontainers.internal";
const BOOTSTRAP_PATH = "/etc/envoy/trellis-bootstrap.json";
const APIS: readonly AdsApiType[] = ["DELTA_GRPC", "GRPC"];
const CONVERGE_MS = 60_000;

const runtime = await detectContainerRuntime();

/** Skips the test, with the reason in the report, when there is no Docker engine. */
function needsDocker(ctx: TestContext): void {
  if (runtime.ok) return;
  if (dockerRequired()) throw new Error(`${REQUIRE_ENV}=1 but there is ${runtime.reason}`);
  ctx.skip(runtime.reason);
}

const apiName = (api: AdsApiType) => (api === "DELTA_GRPC" ? "Delta" : "SotW");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- backends ---------------------------------------------------------------

interface Backend {
  version: VersionEndpoint["version"];
  port: number;
  server: http.Server;
}

/** Answers every request with its version, the way the kind suite's http-echo pods do. */
async function startBackend(version: Backend["version"]): Promise<Backend> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end(version);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return { version, port: (server.address() as AddressInfo).port, server };
}

function stopBackend(b: Backend): Promise<void> {
  b.server.closeAllConnections();
  return new Promise((resolve) => b.server.close(() => resolve()));
}

// ---- Envoy ------------------------------------------------------------------

interface EnvoyUnderTest {
  api: AdsApiType;
  nodeId: string;
  container: StartedTestContainer;
  log: string[];
}

const tail = (log: string[], n = 60) => log.join("").split("\n").slice(-n).join("\n");

async function startEnvoy(api: AdsApiType, xdsPort: number): Promise<EnvoyUnderTest> {
  const name = `envoy-${apiName(api).toLowerCase()}`;
  const id = nodeId(name);
  const bootstrap = envoyBootstrap({
    nodeId: id,
    cluster: `${name}.${NAMESPACE}`,
    xdsAddress: `${FORWARDED_HOST}:${xdsPort}`,
    apiType: api,
    metadata: { NAMESPACE, LABELS: { app: name } },
  });
  const log: string[] = [];
  try {
    const container = await new GenericContainer(ENVOY_IMAGE)
      .withCopyContentToContainer([
        { content: JSON.stringify(bootstrap, null, 2), target: BOOTSTRAP_PATH, mode: 0o644 },
      ])
      // The image's entrypoint runs `envoy …` as its unprivileged envoy user.
      .withCommand(["envoy", "-c", BOOTSTRAP_PATH, "--concurrency", "1", "--log-level", "info"])
      .withExposedPorts(SERVICE_PORT, ENVOY_READINESS_PORT, ENVOY_STATS_PORT)
      .withLogConsumer((stream) => {
        stream.on("data", (chunk: Buffer | string) => {
          log.push(String(chunk));
          if (log.length > 2_000) log.splice(0, log.length - 1_000);
        });
      })
      // Envoy's /ready turns LIVE once the initial CDS and LDS from Trellis are applied
      // (the bootstrap's initial_fetch_timeout is 0s): readiness means xDS works.
      .withWaitStrategy(
        Wait.forHttp(READINESS_PATH, ENVOY_READINESS_PORT, { abortOnContainerExit: true }).forStatusCode(200),
      )
      .withStartupTimeout(CONVERGE_MS)
      .start();
    return { api, nodeId: id, container, log };
  } catch (err) {
    throw new Error(`Envoy (${apiName(api)} ADS) did not become ready: ${(err as Error).message}\n${tail(log)}`);
  }
}

/** The address Docker wrote for host.testcontainers.internal: the backends' endpoint IP (STATIC, so Envoy uses EDS). */
async function forwardedHostAddress(envoy: EnvoyUnderTest): Promise<string> {
  const { stdout, exitCode } = await envoy.container.exec(["cat", "/etc/hosts"]);
  for (const line of stdout.split("\n")) {
    const [ip, ...names] = line.trim().split(/\s+/);
    if (ip && names.includes(FORWARDED_HOST) && isIP(ip) !== 0) return ip;
  }
  throw new Error(`no ${FORWARDED_HOST} in the Envoy container's /etc/hosts (cat exited ${exitCode}):\n${stdout}`);
}

// ---- HTTP through Envoy -----------------------------------------------------

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

interface Reply {
  status: number;
  body: string;
}

/** One request into Envoy's outbound listener, addressed to the service by its Host header. */
function request(envoy: EnvoyUnderTest, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: envoy.container.getHost(),
        port: envoy.container.getMappedPort(SERVICE_PORT),
        path: "/",
        headers: { host: HOST, ...headers },
        agent,
        timeout: 5_000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("no response within 5 s")));
    req.on("error", reject);
    req.end();
  });
}

/** Sends `n` requests, 8 at a time, and counts the answers: "v1", "v2", or "<status> <body>" for anything else. */
async function tally(envoy: EnvoyUnderTest, n: number, headers: Record<string, string> = {}) {
  const counts = new Map<string, number>();
  let sent = 0;
  const worker = async () => {
    while (sent < n) {
      sent++;
      const r = await request(envoy, headers).catch((err: Error) => ({ status: 0, body: err.message }));
      const key = r.status === 200 ? r.body : `${r.status} ${r.body}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b)));
}

/** Retries until Envoy answers 200 (listeners warm up after the ACK that follows RDS). */
async function firstSuccess(envoy: EnvoyUnderTest): Promise<void> {
  const deadline = Date.now() + CONVERGE_MS;
  let last = "";
  while (Date.now() < deadline) {
    const r = await request(envoy).catch((err: Error) => ({ status: 0, body: err.message }));
    if (r.status === 200) return;
    last = `${r.status} ${r.body}`;
    await sleep(250);
  }
  throw new Error(`Envoy (${apiName(envoy.api)}) never answered 200; last: ${last}\n${tail(envoy.log)}`);
}

// ---- the suite --------------------------------------------------------------

describe(`stock Envoy (${ENVOY_IMAGE}) configured by trellis serve`, () => {
  let dir: string | undefined;
  let trellis: RunningServer | undefined;
  const backends: Backend[] = [];
  const envoys: EnvoyUnderTest[] = [];
  let endpoints: VersionEndpoint[] = [];
  /** SE, DR and VS in one file, so each change is loaded whole (one rename, one snapshot). */
  const writeMesh = (routing: Routing) => writeConfig("reviews.yaml", reviewsMesh(endpoints, routing));

  /** Writes a config file the way an editor saves: a temporary name, then a rename over the old one. */
  const writeConfig = (file: string, content: string) => {
    if (!dir) throw new Error("no config directory");
    writeFileSync(join(dir, `.${file}.tmp`), content);
    renameSync(join(dir, `.${file}.tmp`), join(dir, file));
  };
  const adminPort = () => need(trellis).adminPort;
  const inSync = (envoy: EnvoyUnderTest, routeVersionBefore?: string) =>
    waitInSync(adminPort(), envoy.nodeId, {
      timeoutMs: CONVERGE_MS,
      routeVersionBefore,
      context: () => `Envoy (${apiName(envoy.api)} ADS) log:\n${tail(envoy.log)}`,
    });

  beforeAll(async () => {
    if (!runtime.ok) return;
    backends.push(await startBackend("v1"), await startBackend("v2"));
    dir = mkdtempSync(join(tmpdir(), "trellis-envoy-e2e-"));
    // Only the Sidecar at first: the backends' address is known once a container exists.
    writeConfig("sidecar.yaml", sidecar());
    trellis = await serve({
      config: dir,
      xdsAddress: "127.0.0.1:0",
      adminAddress: "127.0.0.1:0",
      debounceQuietMs: 50,
      debounceMaxMs: 200,
      logLevel: process.env.TRELLIS_E2E_LOG_LEVEL ?? "warn",
    });
    await TestContainers.exposeHostPorts(trellis.xdsPort, ...backends.map((b) => b.port));
    envoys.push(...(await Promise.all(APIS.map((api) => startEnvoy(api, need(trellis).xdsPort)))));

    // The mesh arrives as a live change, pushed to Envoys that are already connected.
    const address = await forwardedHostAddress(need(envoys[0]));
    endpoints = backends.map((b) => ({ version: b.version, address, port: b.port }));
    writeMesh({ kind: "by-user", user: "jason" });
    await Promise.all(envoys.map((e) => inSync(e)));
    await Promise.all(envoys.map(firstSuccess));
  });

  afterAll(async () => {
    agent.destroy();
    await Promise.allSettled(envoys.map((e) => e.container.stop()));
    await trellis?.stop();
    await Promise.allSettled(backends.map(stopBackend));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const api of APIS) {
    it(`Envoy over ${apiName(api)} ADS reports ready and connected to the control plane`, async (ctx) => {
      needsDocker(ctx);
      const envoy = need(envoys.find((e) => e.api === api));
      const host = envoy.container.getHost();
      const ready = await fetch(
        `http://${host}:${envoy.container.getMappedPort(ENVOY_READINESS_PORT)}${READINESS_PATH}`,
      );
      expect(ready.status).toBe(200);
      expect((await ready.text()).trim()).toBe("LIVE");
      const stats = await (
        await fetch(`http://${host}:${envoy.container.getMappedPort(ENVOY_STATS_PORT)}${STATS_PATH}`)
      ).text();
      expect(stats).toMatch(/^envoy_control_plane_connected_state(\{\})? 1$/m);
    });

    it(`Envoy over ${apiName(api)} ADS ACKs every resource type Trellis sends (CDS, EDS, LDS, RDS), NACKing none`, async (ctx) => {
      needsDocker(ctx);
      const envoy = need(envoys.find((e) => e.api === api));
      const stream = await streamOf(adminPort(), envoy.nodeId);
      expect(notInSync(stream)).toBeUndefined();
      expect(stream?.kind).toBe(api === "DELTA_GRPC" ? "Delta" : "SotW");
      expect(stream?.types.filter((t) => t.lastNack !== null)).toEqual([]);
    });

    it(`Envoy over ${apiName(api)} ADS routes ${USER_HEADER}: jason to reviews v2 and everyone else to v1`, async (ctx) => {
      needsDocker(ctx);
      const envoy = need(envoys.find((e) => e.api === api));
      expect(await tally(envoy, 50, { [USER_HEADER]: "jason" })).toEqual({ v2: 50 });
      expect(await tally(envoy, 50, { [USER_HEADER]: "someone-else" })).toEqual({ v1: 50 });
      expect(await tally(envoy, 50)).toEqual({ v1: 50 });
    });
  }

  it("both Envoys split traffic 80/20 once the VirtualService file changes, without a restart", async (ctx) => {
    needsDocker(ctx);
    const before = await Promise.all(envoys.map(async (e) => routeVersion(await streamOf(adminPort(), e.nodeId))));
    writeMesh({ kind: "weighted", v2Percent: 20 });
    await Promise.all(envoys.map((e, i) => inSync(e, before[i])));
    for (const envoy of envoys) {
      const n = 1_000;
      const counts = await tally(envoy, n);
      expect(Object.keys(counts).sort(), `answers through Envoy (${apiName(envoy.api)})`).toEqual(["v1", "v2"]);
      // 20% ± 5 points: about four standard deviations of a fair 80/20 draw of 1,000.
      const v2Share = (counts.v2 ?? 0) / n;
      expect(v2Share, `v2 share through Envoy (${apiName(envoy.api)}): ${JSON.stringify(counts)}`).toBeGreaterThan(
        0.15,
      );
      expect(v2Share, `v2 share through Envoy (${apiName(envoy.api)}): ${JSON.stringify(counts)}`).toBeLessThan(0.25);
    }
  });
});

function need<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("suite setup did not complete (see beforeAll)");
  return value;
}
