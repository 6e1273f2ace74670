// The xDS gRPC server: ADS (SotW and Delta), the per-type services (LDS, RDS,
// CDS, EDS, SDS; SotW, Delta and Fetch), all routed through one stream engine
// (stream.ts) and one authentication step (auth.ts) so no RPC can skip either.
// It knows nothing of the mesh: `generate` maps a proxy (and who it proved to
// be) to its view.
//
// Each `listen` is its own gRPC server with its own policy: how callers are
// authenticated, and whether secrets may be served at all. A listener without
// transport security never serves secrets, whatever its authenticator says.
//
// Streams do not live forever: each is ended (a clean end the client retries)
// when the caller's credential expires or after a jittered maximum age, so
// every proxy re-authenticates regularly and a revoked token stops working.
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
import type { Authenticator, AuthRequest, AuthResult, CallerIdentity } from "./auth.js";
import type { XdsMetrics } from "./metrics.js";
import { type ProxyNode, proxyNodeFromRequest } from "./proxy.js";
import { PushSlots } from "./push-slots.js";
import { fastSotwRequestDecoder } from "./request-decoder.js";
import { type EncodedResource, encodeSotwResponse, setVersion } from "./resource.js";
import {
  type NackRecord,
  type ProxyView,
  type StreamHost,
  type StreamKind,
  type StreamStatus,
  XdsStream,
} from "./stream.js";

/**
 * Maps a proxy to everything it can see. Undefined while no configuration is
 * loaded yet. `identity` is who the caller proved to be (for per-identity
 * resources such as its certificate); SECRET resources are removed from the
 * view of anonymous callers and on listeners that may not serve secrets.
 */
export type ViewGenerator = (node: ProxyNode, identity: CallerIdentity) => ProxyView | undefined;

/**
 * Called once a stream's caller is authenticated, before its first response
 * (e.g. to have its certificate issued, so the first SDS request finds it).
 * Bounded by the authentication timeout; a failure is logged and the stream
 * goes on. What it returns is called when the stream closes.
 */
export type ConnectHook = (identity: CallerIdentity, node: ProxyNode) => Promise<(() => void) | undefined>;

export interface ListenOptions {
  /** Default: plaintext. */
  credentials?: grpc.ServerCredentials;
  /** Default: the server's `authenticate`. */
  authenticate?: Authenticator;
}

export interface XdsServerOptions {
  /** Default authenticator of every listener. */
  authenticate: Authenticator;
  generate: ViewGenerator;
  onConnect?: ConnectHook;
  metrics: XdsMetrics;
  logger: Logger;
  /** Sent as `control_plane.identifier` in every response. */
  controlPlaneId?: string;
  /** A stream whose authentication takes longer is refused (UNAVAILABLE). Default 10 s. */
  authTimeoutMs?: number;
  /**
   * Streams are ended after this long (minus up to 10 % jitter, so a fleet that
   * connected together does not reconnect together), and at the latest when the
   * caller's credential expires. Default 30 min.
   */
  maxStreamAgeMs?: number;
  /** How many streams may have responses in flight at once (push-slots.ts). Default 64. */
  pushConcurrency?: number;
}

/** The policy of one listening port. */
interface Listener {
  server: grpc.Server;
  authenticate: Authenticator;
  /** Only a listener with transport security may carry secrets. */
  servesSecrets: boolean;
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
  identity: CallerIdentity;
  servesSecrets: boolean;
}

/** setTimeout's limit (about 24.8 days); longer delays fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class XdsServer {
  private readonly listeners: Listener[] = [];
  private readonly definitions = new Map<string, Record<string, grpc.MethodDefinition<unknown, unknown>>>();
  private readonly connections = new Set<Connection>();
  private readonly controlPlaneId: string;
  private lastChangeAt: number | undefined;
  private readonly slots: PushSlots;

  constructor(private readonly opts: XdsServerOptions) {
    this.controlPlaneId = opts.controlPlaneId ?? "trellis";
    this.slots = new PushSlots(opts.pushConcurrency ?? 64);
    opts.metrics.slots = () => ({ inUse: this.slots.inUse, queued: this.slots.queued });
    const pkg = discoveryPackage();
    for (const m of METHODS) {
      const svc = pkg[m.service] as grpc.ServiceDefinition;
      const original = svc[m.method];
      if (!original) throw new Error(`xDS method ${m.service}/${m.method} missing from the Envoy protos`);
      let def = this.definitions.get(m.service);
      if (!def) {
        def = { ...svc } as Record<string, grpc.MethodDefinition<unknown, unknown>>;
        this.definitions.set(m.service, def);
      }
      // Responses are pre-encoded Buffers (resource.ts): serialise as identity.
      // SotW requests repeat their subscription: request-decoder.ts reuses it.
      def[m.method] = {
        ...original,
        responseSerialize: (b: unknown) => b as Buffer,
        ...(m.kind === "SotW" ? { requestDeserialize: fastSotwRequestDecoder(original.requestDeserialize) } : {}),
      };
    }
  }

  /**
   * Binds `host:port` with its own policy (plaintext and the server's
   * authenticator by default); resolves to the bound port. A listener without
   * transport security never serves secrets.
   */
  listen(address: string, options: ListenOptions | grpc.ServerCredentials = {}): Promise<number> {
    const o: ListenOptions = options instanceof grpc.ServerCredentials ? { credentials: options } : options;
    const credentials = o.credentials ?? grpc.ServerCredentials.createInsecure();
    const listener: Listener = {
      server: new grpc.Server({
        // A proxy must not be able to hold the server with an idle stream forever,
        // but xDS streams are long-lived: keepalive pings detect dead peers.
        "grpc.keepalive_time_ms": 60_000,
        "grpc.keepalive_timeout_ms": 20_000,
        "grpc.max_receive_message_length": 16 * 1024 * 1024,
      }),
      authenticate: o.authenticate ?? this.opts.authenticate,
      servesSecrets: credentials._isSecure(),
    };
    const byService = new Map<string, grpc.UntypedServiceImplementation>();
    for (const m of METHODS) {
      let impl = byService.get(m.service);
      if (!impl) {
        impl = {};
        byService.set(m.service, impl);
      }
      impl[m.method] =
        m.kind === "Fetch"
          ? (call: grpc.ServerUnaryCall<unknown, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
              this.fetch(listener, m, call, cb)
          : (call: grpc.ServerDuplexStream<unknown, Buffer>) => this.open(listener, m, call);
    }
    for (const [name, def] of this.definitions)
      listener.server.addService(def as grpc.ServiceDefinition, byService.get(name) ?? {});
    this.listeners.push(listener);
    return new Promise((resolve, reject) => {
      listener.server.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port)));
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

  /**
   * Recomputes and pushes the view of the streams whose caller matches, e.g.
   * those of one workload identity after its certificate was re-issued.
   */
  pushWhere(matches: (identity: CallerIdentity) => boolean, changeAt?: number): void {
    for (const c of this.connections) if (matches(c.identity)) this.refresh(c, changeAt);
  }

  private refresh(c: Connection, changeAt?: number): void {
    const node = c.stream.node;
    if (!node) return;
    const view = this.viewOf(node, c.identity, c.servesSecrets);
    if (view && view !== "failed") c.stream.setView(view, changeAt);
  }

  /** The caller's view with the secrets it may not have taken out; "failed" when generating threw (logged). */
  private viewOf(node: ProxyNode, identity: CallerIdentity, servesSecrets: boolean): ProxyView | undefined | "failed" {
    let view: ProxyView | undefined;
    try {
      view = this.opts.generate(node, identity);
    } catch (err) {
      this.opts.logger.error({ err, proxy: node.id }, "generating the proxy's configuration failed");
      return "failed";
    }
    if (view?.has(SECRET) && (identity.kind === "anonymous" || !servesSecrets)) {
      // Secrets are only ever served to an authenticated workload identity, over TLS.
      const copy = new Map(view);
      copy.delete(SECRET);
      view = copy;
    }
    return view;
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
        for (const l of this.listeners) l.server.forceShutdown();
        resolve();
      }, graceMs);
      let open = this.listeners.length;
      if (open === 0) {
        clearTimeout(timer);
        resolve();
      }
      for (const l of this.listeners) {
        l.server.tryShutdown(() => {
          if (--open > 0) return;
          clearTimeout(timer);
          resolve();
        });
      }
      // Long-lived streams never finish on their own: end them so tryShutdown can complete.
      for (const c of this.connections) c.stream.end?.();
    });
  }

  // ---- streams --------------------------------------------------------------

  private open(listener: Listener, m: Method, call: grpc.ServerDuplexStream<unknown, Buffer>): void {
    const rpc = `${m.service.split(".").pop()}/${m.method}`;
    const kind = m.kind as StreamKind;
    const log = this.opts.logger;
    const metrics = this.opts.metrics;
    let conn: Connection | undefined;
    let phase: "awaiting-node" | "authenticating" | "ready" | "closed" = "awaiting-node";
    const queued: unknown[] = [];
    let ageTimer: NodeJS.Timeout | undefined;
    let detach: (() => void) | undefined;
    const closed = () => phase === "closed";

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
      slots: this.slots,
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
      this.slots.release(stream);
      clearTimeout(ageTimer);
      try {
        detach?.();
      } catch (err) {
        log.error({ err, proxy: stream.node?.id }, "releasing the stream's resources failed");
      }
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
      const started = Date.now();
      this.authenticate(listener, {
        method: call.getPath(),
        typeUrl: m.typeUrl,
        node,
        metadata: call.metadata,
        peer: call.getPeer(),
      })
        .then(
          async (res) => {
            if (phase === "closed") return;
            if (!res.ok) {
              metrics.authFailures.inc({ reason: grpc.status[res.code] ?? String(res.code) });
              log.warn({ proxy: node.id, peer: call.getPeer(), rpc, reason: res.message }, "xds stream refused");
              return fail(res.code, res.message);
            }
            const release = await this.connectHook(res.identity, node, started);
            // The stream may have been cancelled meanwhile (close() runs from event handlers).
            if (closed()) {
              release?.();
              return;
            }
            detach = release;
            conn = { stream, identity: res.identity, servesSecrets: listener.servesSecrets };
            this.connections.add(conn);
            metrics.connected.inc({ kind });
            phase = "ready";
            const closeIn = this.streamLifetime(res.identity);
            ageTimer = setTimeout(() => {
              // A clean end: Envoy and gRPC clients reconnect at once and authenticate afresh.
              log.info(
                { proxy: node.id, rpc },
                "xds stream reached its maximum age or its credential expired: ending it",
              );
              stream.end?.();
            }, closeIn);
            ageTimer.unref?.();
            log.info(
              { proxy: node.id, rpc, peer: call.getPeer(), identity: res.identity, closeInMs: closeIn },
              "xds stream connected",
            );
            this.refresh(conn, this.lastChangeAt);
            for (const q of queued.splice(0)) if (phase === "ready") dispatch(q);
            if (phase === "ready") call.resume();
          },
          (err) => {
            log.error({ err, proxy: node.id }, "authentication failed with an internal error");
            fail(grpc.status.INTERNAL, "authentication failed");
          },
        )
        .catch((err: unknown) => {
          log.error({ err, proxy: node.id }, "connecting the stream failed with an internal error");
          fail(grpc.status.INTERNAL, "internal error");
        });
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
  private fetch(
    listener: Listener,
    m: Method,
    call: grpc.ServerUnaryCall<unknown, Buffer>,
    cb: grpc.sendUnaryData<Buffer>,
  ): void {
    // biome-ignore lint/suspicious/noExplicitAny: decoded proto-loader request
    const req = call.request as any;
    const typeUrl = m.typeUrl as string;
    const node = proxyNodeFromRequest(req.node);
    if (!node) {
      cb({ code: grpc.status.INVALID_ARGUMENT, details: "the request must carry node.id" });
      return;
    }
    const started = Date.now();
    const peer = call.getPeer();
    this.authenticate(listener, { method: call.getPath(), typeUrl, node, metadata: call.metadata, peer })
      .then(
        async (res) => {
          if (!res.ok) {
            this.opts.metrics.authFailures.inc({ reason: grpc.status[res.code] ?? String(res.code) });
            this.opts.logger.warn({ proxy: node.id, peer, rpc: m.method, reason: res.message }, "xds fetch refused");
            return cb({ code: res.code, details: res.message });
          }
          if (typeUrl === SECRET && (res.identity.kind === "anonymous" || !listener.servesSecrets)) {
            return cb({
              code: grpc.status.PERMISSION_DENIED,
              details: "secrets are only served to authenticated workload identities over TLS",
            });
          }
          let release: (() => void) | undefined;
          if (typeUrl === SECRET) release = await this.connectHook(res.identity, node, started);
          let view: ReturnType<typeof this.viewOf>;
          try {
            view = this.viewOf(node, res.identity, listener.servesSecrets);
          } finally {
            release?.();
          }
          if (view === "failed") return cb({ code: grpc.status.INTERNAL, details: "generating configuration failed" });
          const available = view?.get(typeUrl);
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
      )
      .catch((err: unknown) => {
        this.opts.logger.error({ err, proxy: node.id }, "answering a fetch failed with an internal error");
        cb({ code: grpc.status.INTERNAL, details: "internal error" });
      });
  }

  /**
   * The connect hook, bounded by what is left of the authentication budget;
   * a failure or a timeout is logged and the stream goes on without it.
   */
  private async connectHook(
    identity: CallerIdentity,
    node: ProxyNode,
    startedAt: number,
  ): Promise<(() => void) | undefined> {
    const hook = this.opts.onConnect;
    if (!hook) return undefined;
    const budget = Math.max(0, (this.opts.authTimeoutMs ?? 10_000) - (Date.now() - startedAt));
    let timer: NodeJS.Timeout | undefined;
    const running = hook(identity, node);
    const outcome = await Promise.race([
      running.then(
        (release) => ({ release }),
        (err: unknown) => ({ err }),
      ),
      new Promise<{ timeout: true }>((r) => {
        timer = setTimeout(() => r({ timeout: true }), budget);
      }),
    ]).finally(() => clearTimeout(timer));
    if ("release" in outcome) return outcome.release;
    if ("err" in outcome) {
      this.opts.logger.error({ err: outcome.err, proxy: node.id }, "preparing the stream's resources failed");
      return undefined;
    }
    this.opts.logger.warn({ proxy: node.id, budgetMs: budget }, "preparing the stream's resources is slow; going on");
    // It may still finish: whatever it acquired is released once it does.
    let late: (() => void) | undefined;
    let closed = false;
    running.then(
      (release) => {
        if (closed) release?.();
        else late = release;
      },
      () => {},
    );
    return () => {
      closed = true;
      late?.();
    };
  }

  /** How long a stream may live: the maximum age minus up to 10 % jitter, and no later than its credential expires. */
  private streamLifetime(identity: CallerIdentity): number {
    const maxAge = this.opts.maxStreamAgeMs ?? 30 * 60_000;
    let ms = maxAge * (1 - 0.1 * Math.random());
    if (identity.kind === "workload" && identity.expiresAt)
      ms = Math.min(ms, identity.expiresAt.getTime() - Date.now());
    return Math.min(MAX_TIMER_MS, Math.max(0, ms));
  }

  /** The one authentication step, bounded in time so a hung check cannot hold a stream forever. */
  private authenticate(listener: Listener, req: AuthRequest): Promise<AuthResult> {
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
    return Promise.race([listener.authenticate(req), timeout]).finally(() => clearTimeout(timer));
  }
}
