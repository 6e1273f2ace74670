// Starts an in-process XdsServer on a loopback port with a view the test controls.
import pino from "pino";
import client from "prom-client";
import { type Authenticator, acceptAll } from "../../src/xds/auth.js";
import { XdsMetrics } from "../../src/xds/metrics.js";
import { XdsServer, type XdsServerOptions } from "../../src/xds/server.js";
import type { ProxyView } from "../../src/xds/stream.js";
import { makeView, type PlainConfig } from "./views.js";

export interface TestServer {
  server: XdsServer;
  address: string;
  registry: client.Registry;
  /** Replaces the configuration every proxy sees and pushes it. */
  set(cfg: PlainConfig): void;
  /** Replaces the view (as built by the caller) and pushes it. */
  setView(view: ProxyView): void;
  stop(): Promise<void>;
}

/** `cfg` undefined: the server starts with no configuration loaded (the generator returns undefined). */
export async function startTestServer(
  cfg: PlainConfig | undefined,
  authenticate: Authenticator = acceptAll,
  options: Pick<XdsServerOptions, "authTimeoutMs" | "pushConcurrency"> = {},
): Promise<TestServer> {
  let view: ProxyView | undefined = cfg ? makeView(cfg) : undefined;
  const registry = new client.Registry();
  const server = new XdsServer({
    authenticate,
    generate: () => view,
    metrics: new XdsMetrics(registry),
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    ...options,
  });
  const port = await server.listen("127.0.0.1:0");
  return {
    server,
    registry,
    address: `127.0.0.1:${port}`,
    set(next) {
      view = makeView(next);
      server.pushAll(Date.now());
    },
    setView(next) {
      view = next;
      server.pushAll(Date.now());
    },
    stop: () => server.shutdown(1_000),
  };
}
