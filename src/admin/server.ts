// admin/ is the fastify HTTP server for operators: health, readiness, metrics,
// and debug views of the xDS server's state. It reads state; it writes nothing.
import Fastify, { type FastifyInstance } from "fastify";
import type client from "prom-client";
import { toProtoJson } from "../envoy/proto-json.js";
import { messageNameOf, SECRET, shortTypeName } from "../envoy/type-urls.js";
import { type Diagnostic, formatDiagnostic } from "../model/diagnostic.js";
import type { XdsServer } from "../xds/server.js";
import { ADMIN_ERRORS, errorBody } from "./errors.js";

export interface AdminState {
  /** True once the first configuration has been loaded and is being served. */
  ready(): boolean;
  /** Current diagnostics: source errors (invalid files) and translation warnings. */
  diagnostics(): readonly Diagnostic[];
  /** Facts about the configuration being served (snapshot version, when loaded, …). */
  configInfo(): Record<string, unknown>;
}

export function buildAdminServer(opts: {
  state: AdminState;
  xds: XdsServer;
  registry: client.Registry;
}): FastifyInstance {
  const { state, xds, registry } = opts;
  const app = Fastify({ logger: false });

  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_req, reply) => {
    const errors = state.diagnostics().filter((d) => d.severity === "error");
    if (!state.ready()) return reply.code(ADMIN_ERRORS.notReady.status).send(errorBody(ADMIN_ERRORS.notReady));
    // Ready even with invalid files: the last good configuration is being served.
    return { status: "ready", configErrors: errors.length, errors: errors.map(formatDiagnostic) };
  });

  app.get("/metrics", async (_req, reply) => {
    reply.header("content-type", registry.contentType);
    return registry.metrics();
  });

  app.get("/debug/diagnostics", async () => ({
    config: state.configInfo(),
    diagnostics: state.diagnostics().map((d) => ({ ...d, text: formatDiagnostic(d) })),
  }));

  app.get("/debug/syncz", async () =>
    xds.streamStatuses().map((s) => ({
      ...s,
      types: s.types.map((t) => ({ ...t, type: shortTypeName(t.typeUrl) })),
    })),
  );

  // Memory of this process, for benchmarks and leak hunting. `?gc=1` collects
  // garbage first (only when started with --expose-gc), so the numbers show
  // what is live rather than when the collector last ran.
  app.get<{ Querystring: { gc?: string } }>("/debug/memory", async (req) => {
    const gc = (globalThis as { gc?: () => void }).gc;
    const collect = req.query.gc === "1" && typeof gc === "function";
    if (collect) gc();
    return { ...process.memoryUsage(), gc: collect };
  });

  app.get<{ Querystring: { proxy?: string } }>("/debug/config_dump", async (req, reply) => {
    const proxy = req.query.proxy;
    if (!proxy) return reply.code(ADMIN_ERRORS.proxyRequired.status).send(errorBody(ADMIN_ERRORS.proxyRequired));
    const streams = xds.streamsOf(proxy);
    if (streams.length === 0) {
      return reply.code(ADMIN_ERRORS.proxyNotConnected.status).send(errorBody(ADMIN_ERRORS.proxyNotConnected, proxy));
    }
    return {
      proxy,
      streams: streams.map((s) => ({
        streamId: s.id,
        kind: s.kind,
        rpc: s.rpc,
        resources: Object.fromEntries(
          [...s.sentResources()].map(([typeUrl, list]) => [
            shortTypeName(typeUrl),
            list.map((r) => ({ name: r.name, version: r.version, resource: decodeForDump(typeUrl, r.bytes) })),
          ]),
        ),
      })),
    };
  });

  return app;
}

/**
 * Canonical proto3 JSON, with every Any expanded, as Envoy's own /config_dump shows it —
 * and, as Envoy does there, with secret material redacted: a workload's private key
 * (SDS `default`) must never leave the control plane except to that workload's proxy.
 */
function decodeForDump(typeUrl: string, bytes: Uint8Array): unknown {
  const json = toProtoJson(messageNameOf(typeUrl), bytes);
  if (typeUrl !== SECRET || typeof json !== "object" || json === null) return json;
  const secret = json as { tls_certificate?: Record<string, unknown>; generic_secret?: Record<string, unknown> };
  if (secret.tls_certificate?.private_key !== undefined) secret.tls_certificate.private_key = REDACTED;
  if (secret.generic_secret?.secret !== undefined) secret.generic_secret.secret = REDACTED;
  return secret;
}

const REDACTED = { inline_string: "[redacted]" };
