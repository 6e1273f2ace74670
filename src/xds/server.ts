// The xDS gRPC server: ADS (SotW and Delta), the per-type services (LDS, RDS,
// CDS, EDS, SDS; SotW, Delta and Fetch), all routed through one stream engine
// (stream.ts) and one authentication step (auth.ts) so no RPC can skip either.
// It knows nothing of the mesh: `generate` maps a proxy to its view.
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { discoveryPackage } from "../envoy/protos.js";
import {
  CLUSTER,
  ENDPOINT,
  isFullStateType,
  LISTENER,
  ROUTE,
  SECRET,
  shortTypeName,
  XDS_TYPES,
} from "../envoy/type-urls.js";
import type { Authenticator, AuthRequest, AuthResult } from "./auth.js";
import type { XdsMetrics } from "./metrics.js";
import { type ProxyNode, proxyNodeFromRequest } from "./proxy.js";
import { type EncodedResource, encodeSotwResponse, setVersion } from "./resource.js";
import {
  type NackRecord,
  type ProxyView,
  type StreamHost,
  type StreamKind,
  type StreamStatus,
  XdsStream,
} from "./stream.js";

/** Maps a proxy to everything it can see. Undefined while no configuration is loaded yet. */
export type ViewGenerator = (node: ProxyNode) => ProxyView | undefined;

export interface XdsServerOptions {
  authenticate: Authenticator;
  generate: ViewGenerator;
  metrics: XdsMetrics;
  logger: Logger;
  /** Sent as `control_plane.identifier` in every response. */
  controlPlaneId?: string;
  /** A stream whose authentication takes longer is refused (UNAVAILABLE). Default 10 s. */
  authTimeoutMs?: number;
}

interface Method {
  service: string;
  method: string;
  kind: StreamKind | "Fetch";
  typeUrl?: string;
}

const PKG = "envoy.service";
const METHODS: Method[] = [
  { service: `${PKG}.discovery.v3.AggregatedDiscoveryService`, method: "StreamAggregatedResources", kind: "SotW" },
  { service: `${PKG}.discovery.v3.AggregatedDiscoveryService`, method: "DeltaAggregatedResources", kind: "Delta" },
  ...perType(`${PKG}.listener.v3.ListenerDiscoveryService`, "Listeners", LISTENER),
  ...perType(`${PKG}.route.v3.RouteDiscoveryService`, "Routes", ROUTE),
  ...perType(`${PKG}.cluster.v3.ClusterDiscoveryService`, "Clusters", CLUSTER),
  ...perType(`${PKG}.endpoint.v3.EndpointDiscoveryService`, "Endpoints", ENDPOINT),
  ...perType(`${PKG}.secret.v3.SecretDiscoveryService`, "Secrets", SECRET),
];

function perType(service: string, noun: string, typeUrl: string): Method[] {
  return [
    { service, method: `Stream${noun}`, kind: "SotW", typeUrl },
    { service, method: `Delta${noun}`, kind: "Delta", typeUrl },
    { service, method: `Fetch${noun}`, kind: "Fetch", typeUrl },
  ];
}

interface Connection {
  stream: XdsStream;
  identity: Extract<AuthResult, { ok: true }>["identity"];
}

export class XdsServer {
  readonly grpcServer = new grpc.Server({
    // A proxy must not be able to hold the server with an idle stream forever,
    // but xDS streams are long-lived: keepalive pings detect dead peers.
    "grpc.keepalive_time_ms": 60_000,
    "grpc.keepalive_timeout_ms": 20_000,
    "grpc.max_receive_message_length": 16 * 1024 * 1024,
  });
  private readonly connections = new Set<Connection>();
  private readonly controlPlaneId: string;
  private lastChangeAt: number | undefined;

  constructor(private readonly opts: XdsServerOptions) {
    this.controlPlaneId = opts.controlPlaneId ?? "trellis";
    const pkg = discoveryPackage();
    const byService = new Map<string, grpc.UntypedServiceImplementation>();
    const definitions = new Map<string, Record<string, grpc.MethodDefinition<unknown, unknown>>>();
    for (const m of METHODS) {
      const svc = pkg[m.service] as grpc.ServiceDefinition;
      const original = svc[m.method];
      if (!original) throw new Error(`xDS method ${m.service}/${m.method} missing from the Envoy protos`);
      let def = definitions.get(m.service);
      if (!def) {
        def = { ...svc } as Record<string, grpc.MethodDefinition<unknown, unknown>>;
        definitions.set(m.service, def);
        byService.set(m.service, {});
      }
      // Responses are pre-encoded Buffers (resource.ts): serialise as identity.
      def[m.method] = { ...original, responseSerialize: (b: unknown) => b as Buffer };
      const impl = byService.get(m.service) as grpc.UntypedServiceImplementation;
      impl[m.method] =
        m.kind === "Fetch"
          ? (call: grpc.ServerUnaryCall<unknown, Buffer>, cb: grpc.sendUnaryData<Buffer>) => this.fetch(m, call, cb)
          : (call: grpc.ServerDuplexStream<unknown, Buffer>) => this.open(m, call);
    }
    for (const [name, def] of definitions)
      this.grpcServer.addService(def as grpc.ServiceDefinition, byService.get(name) ?? {});
  }

  /** Binds `host:port` (plaintext); resolves to the bound port. */
  listen(address: string, credentials = grpc.ServerCredentials.createInsecure()): Promise<number> {
    return new Promise((resolve, reject) => {
      this.grpcServer.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port)));
    });
  }

  /**
   * Recomputes every connected proxy's view and sends what changed.
   * `changeAt` (ms epoch) is when the change entered Trellis, for convergence metrics.
   */
  pushAll(changeAt?: number): void {
    const end = this.opts.metrics.pushDuration.startTimer();
    this.lastChangeAt = changeAt;
    for (const c of this.connections) this.refresh(c, changeAt);
    end();
  }

  private refresh(c: Connection, changeAt?: number): void {
    const node = c.stream.node;
    if (!node) return;
    let view: ProxyView | undefined;
    try {
      view = this.opts.generate(node);
    } catch (err) {
      this.opts.logger.error({ err, proxy: node.id }, "generating the proxy's configuration failed");
      return;
    }
    if (!view) return;
    if (c.identity.kind === "anonymous" && view.has(SECRET)) {
      // Secrets are only ever served to an authenticated workload identity.
      const copy = new Map(view);
      copy.delete(SECRET);
      view = copy;
    }
    c.stream.setView(view, changeAt);
  }

  streamStatuses(): StreamStatus[] {
    return [...this.connections].map((c) => c.stream.status());
  }

  /** Streams of a proxy (by node id), for /debug/config_dump. */
  streamsOf(nodeId: string): XdsStream[] {
    return [...this.connections].filter((c) => c.stream.node?.id === nodeId).map((c) => c.stream);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops accepting RPCs, ends open streams, and waits up to `graceMs` for them to close. */
  async shutdown(graceMs = 5_000): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.grpcServer.forceShutdown();
        resolve();
      }, graceMs);
      this.grpcServer.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
      // Long-lived streams never finish on their own: end them so tryShutdown can complete.
      for (const c of this.connections) c.stream.end?.();
    });
  }

  // ---- streams --------------------------------------------------------------

  private open(m: Method, call: grpc.ServerDuplexStream<unknown, Buffer>): void {
    const rpc = `${m.service.split(".").pop()}/${m.method}`;
    const kind = m.kind as StreamKind;
    const log = this.opts.logger;
    const metrics = this.opts.metrics;
    let conn: Connection | undefined;
    let phase: "awaiting-node" | "authenticating" | "ready" | "closed" = "awaiting-node";
    const queued: unknown[] = [];

    const host: StreamHost = {
      controlPlaneId: this.controlPlaneId,
      write: (buf) => call.write(buf),
      onResponse: (_s, typeUrl, count, bytes) => {
        metrics.pushes.inc({ type: shortTypeName(typeUrl) });
        metrics.pushBytes.inc({ type: shortTypeName(typeUrl) }, bytes);
        log.debug({ proxy: stream.node?.id, type: shortTypeName(typeUrl), resources: count, bytes }, "xds push");
      },
      onAck: (_s, typeUrl, sinceChangeMs) => {
        if (sinceChangeMs !== undefined)
          metrics.convergence.observe({ type: shortTypeName(typeUrl) }, sinceChangeMs / 1000);
      },
      onNack: (s, typeUrl, nack: NackRecord) => {
        metrics.nacks.inc({ type: shortTypeName(typeUrl) });
        log.warn(
          {
            proxy: s.node?.id,
            type: shortTypeName(typeUrl),
            nonce: nack.nonce,
            resources: nack.resourceNames,
            error: nack.message,
          },
          "proxy rejected configuration (NACK); it keeps its last accepted config",
        );
      },
      onStale: (_s, typeUrl) => metrics.staleNonces.inc({ type: shortTypeName(typeUrl) }),
    };
    const stream = new XdsStream(kind, rpc, host);

    const fail = (code: grpc.status, message: string) => {
      if (phase === "closed") return;
      close();
      call.emit("error", { code, details: message, metadata: new grpc.Metadata() });
    };
    const close = () => {
      if (phase === "closed") return;
      phase = "closed";
      stream.closed = true;
      if (conn) {
        this.connections.delete(conn);
        metrics.connected.dec({ kind });
        log.info({ proxy: stream.node?.id, rpc }, "xds stream closed");
      }
    };
    stream.end = () => {
      close();
      call.end();
    };

    const dispatch = (req: unknown) => {
      // biome-ignore lint/suspicious/noExplicitAny: decoded proto-loader request
      const r = req as any;
      const typeUrl: string = m.typeUrl ?? r.type_url ?? "";
      if (m.typeUrl && r.type_url && r.type_url !== m.typeUrl) {
        return fail(
          grpc.status.INVALID_ARGUMENT,
          `type_url ${r.type_url} on the ${rpc} stream, which serves ${m.typeUrl}`,
        );
      }
      if (!typeUrl) return fail(grpc.status.INVALID_ARGUMENT, "type_url is required on an aggregated stream");
      metrics.requests.inc({ type: shortTypeName(typeUrl), kind });
      if (!XDS_TYPES.includes(typeUrl as never)) {
        // Unknown types are not answered; the client's own does-not-exist timer applies.
        log.debug({ proxy: stream.node?.id, type: typeUrl }, "request for a type Trellis does not serve");
        return;
      }
      if (kind === "SotW") stream.handleSotwRequest(r, typeUrl);
      else stream.handleDeltaRequest(r, typeUrl);
    };

    call.on("data", (req: unknown) => {
      if (phase === "closed") return;
      if (phase === "ready") return dispatch(req);
      queued.push(req);
      if (phase === "authenticating") return;
      // Until the peer is authenticated, read nothing more: a paused call stops
      // pulling messages off the transport and HTTP/2 flow control pushes back on
      // the sender. Otherwise an unauthenticated peer could make the server
      // buffer requests without bound for as long as authentication takes (a
      // TokenReview round trip). At most a few already-decoded messages land in
      // `queued` before the pause takes effect.
      call.pause();
      // biome-ignore lint/suspicious/noExplicitAny: decoded proto-loader request
      const node = proxyNodeFromRequest((req as any).node);
      if (!node) return fail(grpc.status.INVALID_ARGUMENT, "the first request on an xDS stream must carry node.id");
      stream.node = node;
      phase = "authenticating";
      this.authenticate({
        method: call.getPath(),
        typeUrl: m.typeUrl,
        node,
        metadata: call.metadata,
        peer: call.getPeer(),
      }).then(
        (res) => {
          if (phase === "closed") return;
          if (!res.ok) {
            metrics.authFailures.inc({ reason: grpc.status[res.code] ?? String(res.code) });
            log.warn({ proxy: node.id, peer: call.getPeer(), rpc, reason: res.message }, "xds stream refused");
            return fail(res.code, res.message);
          }
          conn = { stream, identity: res.identity };
          this.connections.add(conn);
          metrics.connected.inc({ kind });
          phase = "ready";
          log.info({ proxy: node.id, rpc, peer: call.getPeer(), identity: res.identity }, "xds stream connected");
          this.refresh(conn, this.lastChangeAt);
          for (const q of queued.splice(0)) if (phase === "ready") dispatch(q);
          if (phase === "ready") call.resume();
        },
        (err) => {
          log.error({ err, proxy: node.id }, "authentication failed with an internal error");
          fail(grpc.status.INTERNAL, "authentication failed");
        },
      );
    });
    call.on("drain", () => stream.drained());
    call.on("end", () => {
      close();
      call.end();
    });
    call.on("cancelled", close);
    call.on("error", close);
    call.on("close", close);
  }

  /** Unary Fetch*: authenticated like every other RPC, answered with the current state. */
  private fetch(m: Method, call: grpc.ServerUnaryCall<unknown, Buffer>, cb: grpc.sendUnaryData<Buffer>): void {
    // biome-ignore lint/suspicious/noExplicitAny: decoded proto-loader request
    const req = call.request as any;
    const typeUrl = m.typeUrl as string;
    const node = proxyNodeFromRequest(req.node);
    if (!node) {
      cb({ code: grpc.status.INVALID_ARGUMENT, details: "the request must carry node.id" });
      return;
    }
    this.authenticate({ method: call.getPath(), typeUrl, node, metadata: call.metadata, peer: call.getPeer() }).then(
      (res) => {
        if (!res.ok) {
          this.opts.metrics.authFailures.inc({ reason: grpc.status[res.code] ?? String(res.code) });
          return cb({ code: res.code, details: res.message });
        }
        if (typeUrl === SECRET && res.identity.kind === "anonymous") {
          return cb({ code: grpc.status.PERMISSION_DENIED, details: "secrets are only served to workload identities" });
        }
        let available: ReadonlyMap<string, EncodedResource> | undefined;
        try {
          available = this.opts.generate(node)?.get(typeUrl);
        } catch (err) {
          this.opts.logger.error({ err, proxy: node.id }, "generating the proxy's configuration failed");
          return cb({ code: grpc.status.INTERNAL, details: "generating configuration failed" });
        }
        if (!available) return cb({ code: grpc.status.UNAVAILABLE, details: "no configuration loaded yet" });
        const names: string[] = req.resource_names ?? [];
        const out: EncodedResource[] =
          names.length === 0 && isFullStateType(typeUrl)
            ? [...available.values()]
            : names.map((n) => available.get(n)).filter((r): r is EncodedResource => r !== undefined);
        cb(null, encodeSotwResponse({ versionInfo: setVersion(out), typeUrl, nonce: "", resources: out }));
      },
      (err) => {
        this.opts.logger.error({ err, proxy: node.id }, "authentication failed with an internal error");
        cb({ code: grpc.status.INTERNAL, details: "authentication failed" });
      },
    );
  }

  /** The one authentication step, bounded in time so a hung check cannot hold a stream forever. */
  private authenticate(req: AuthRequest): Promise<AuthResult> {
    const timeoutMs = this.opts.authTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<AuthResult>((resolve) => {
      timer = setTimeout(
        () =>
          resolve({
            ok: false,
            code: grpc.status.UNAVAILABLE,
            message: `authentication did not finish within ${timeoutMs} ms`,
          }),
        timeoutMs,
      );
    });
    return Promise.race([this.opts.authenticate(req), timeout]).finally(() => clearTimeout(timer));
  }
}
