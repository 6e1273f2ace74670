import pino from "pino";
import client from "prom-client";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { acceptAll } from "../xds/auth.js";
import { XdsMetrics } from "../xds/metrics.js";
import { XdsServer } from "../xds/server.js";
import { ADMIN_ERRORS } from "./errors.js";
import { buildAdminServer } from "./server.js";

describe("admin server", () => {
  let ready = false;
  const registry = new client.Registry();
  const xds = new XdsServer({
    authenticate: acceptAll,
    generate: () => undefined,
    metrics: new XdsMetrics(registry),
    logger: pino({ level: "silent" }),
  });
  const app = buildAdminServer({
    xds,
    registry,
    state: {
      ready: () => ready,
      diagnostics: () => [
        {
          code: "TRL1002",
          severity: "error",
          object: {
            kind: "ServiceEntry",
            namespace: "default",
            name: "x",
            source: { file: "a.yaml", documentIndex: 1 },
          },
          field: "spec.hosts",
          message: 'missing required field "hosts"',
        },
      ],
      configInfo: () => ({ snapshotVersion: 3 }),
    },
  });
  beforeAll(() => app.ready());
  afterAll(() => app.close());

  it("is healthy at once but ready only once configuration is loaded", async () => {
    expect((await app.inject("/healthz")).statusCode).toBe(200);
    const notReady = await app.inject("/readyz");
    expect(notReady.statusCode).toBe(503);
    expect(notReady.json().error.code).toBe(ADMIN_ERRORS.notReady.code);
    ready = true;
    const r = await app.inject("/readyz");
    expect(r.statusCode).toBe(200);
    expect(r.json().errors).toEqual([
      'error TRL1002 ServiceEntry default/x (a.yaml document 1) spec.hosts: missing required field "hosts"',
    ]);
  });

  it("answers config_dump misuse with stable error codes", async () => {
    const noProxy = await app.inject("/debug/config_dump");
    expect(noProxy.statusCode).toBe(400);
    expect(noProxy.json().error.code).toBe("TRL9001");
    const unknown = await app.inject("/debug/config_dump?proxy=nobody");
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error).toEqual({ code: "TRL9002", message: "no connected proxy has this node id: nobody" });
  });

  it("reports process memory, collecting garbage first only when asked and possible", async () => {
    const g = globalThis as { gc?: () => void };
    const original = g.gc;
    try {
      g.gc = undefined;
      const plain = await app.inject("/debug/memory?gc=1");
      expect(plain.statusCode).toBe(200);
      expect(plain.json()).toMatchObject({ gc: false, rss: expect.any(Number), heapUsed: expect.any(Number) });
      const gc = vi.fn();
      g.gc = gc;
      expect((await app.inject("/debug/memory")).json().gc).toBe(false);
      expect(gc).not.toHaveBeenCalled();
      const collected = (await app.inject("/debug/memory?gc=1")).json();
      expect(gc).toHaveBeenCalledOnce();
      expect(collected.gc).toBe(true);
      for (const k of ["rss", "heapTotal", "heapUsed", "external", "arrayBuffers"]) {
        expect(collected[k]).toBeGreaterThan(0);
      }
    } finally {
      g.gc = original;
    }
  });

  it("exposes the xDS metrics and Node process metrics in Prometheus format", async () => {
    client.collectDefaultMetrics({ register: registry });
    const r = await app.inject("/metrics");
    expect(r.headers["content-type"]).toContain("text/plain");
    for (const name of [
      "trellis_xds_connected_proxies",
      "trellis_xds_pushes_total",
      "trellis_xds_push_duration_seconds",
      "trellis_xds_proxy_convergence_seconds",
      "trellis_xds_nacks_total",
      "process_cpu_user_seconds_total",
    ]) {
      expect(r.body).toContain(`# TYPE ${name}`);
    }
  });
});
