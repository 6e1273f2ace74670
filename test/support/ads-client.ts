// A raw xDS test client written from the xDS protocol specification: it sends
// exactly the DiscoveryRequests a test scripts and records every response, so
// protocol edge cases (NACK, stale nonce, Delta subscribe/unsubscribe) can be
// driven precisely. It decodes resources with Envoy's own protos.
import * as grpc from "@grpc/grpc-js";
import { discoveryPackage, messageType } from "../../src/envoy/protos.js";
import { messageNameOf } from "../../src/envoy/type-urls.js";

export interface DecodedResource {
  name: string;
  version?: string;
  typeUrl: string;
  // biome-ignore lint/suspicious/noExplicitAny: decoded Envoy message
  value: any;
}

export interface SotwResponse {
  version_info: string;
  nonce: string;
  type_url: string;
  resources: DecodedResource[];
}

export interface DeltaResponse {
  system_version_info: string;
  nonce: string;
  type_url: string;
  resources: DecodedResource[];
  removed_resources: string[];
}

// biome-ignore lint/suspicious/noExplicitAny: proto-loader client constructors
type AnyClient = any;
let pkgCache: AnyClient;
function pkg(): AnyClient {
  if (!pkgCache) pkgCache = grpc.loadPackageDefinition(discoveryPackage());
  return pkgCache;
}

// biome-ignore lint/suspicious/noExplicitAny: Any from proto-loader
export function decodeAny(any: any): { typeUrl: string; value: any } {
  const typeUrl: string = any.type_url;
  const type = messageType(messageNameOf(typeUrl));
  const value = type.toObject(type.decode(any.value), { longs: String, enums: String, defaults: false, oneofs: true });
  return { typeUrl, value };
}

function nameOf(typeUrl: string, value: { name?: string; cluster_name?: string }): string {
  return typeUrl.endsWith("ClusterLoadAssignment") ? (value.cluster_name ?? "") : (value.name ?? "");
}

class Queue<T> {
  private items: T[] = [];
  private waiters: ((v: T) => void)[] = [];
  closed: Error | undefined;
  private failWaiters: ((e: Error) => void)[] = [];
  push(v: T) {
    const w = this.waiters.shift();
    this.failWaiters.shift();
    if (w) w(v);
    else this.items.push(v);
  }
  fail(e: Error) {
    this.closed = e;
    for (const f of this.failWaiters.splice(0)) f(e);
    this.waiters = [];
  }
  get pending(): number {
    return this.items.length;
  }
  next(timeoutMs: number): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    if (this.closed) return Promise.reject(this.closed);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(ok);
        if (i >= 0) {
          this.waiters.splice(i, 1);
          this.failWaiters.splice(i, 1);
        }
        reject(new Error(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      const ok = (v: T) => {
        clearTimeout(timer);
        resolve(v);
      };
      this.waiters.push(ok);
      this.failWaiters.push((e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }
}

/** How to reach the server: plaintext by default; TLS (xDS on 15012) with channel credentials and options. */
export interface ConnectOptions {
  credentials?: grpc.ChannelCredentials;
  /** e.g. grpc.ssl_target_name_override to check the server's certificate for a name when dialling an IP. */
  channelOptions?: grpc.ChannelOptions;
}

abstract class BaseClient<Res> {
  protected readonly client: AnyClient;
  // biome-ignore lint/suspicious/noExplicitAny: grpc duplex
  protected call: any;
  protected readonly responses = new Queue<Res>();
  readonly received: Res[] = [];
  status: grpc.StatusObject | undefined;

  constructor(
    address: string,
    service: string,
    method: string,
    protected readonly metadata = new grpc.Metadata(),
    conn: ConnectOptions = {},
  ) {
    const parts = service.split(".");
    let ctor = pkg();
    for (const p of parts) ctor = ctor[p];
    this.client = new ctor(address, conn.credentials ?? grpc.credentials.createInsecure(), conn.channelOptions ?? {});
    this.call = this.client[method](this.metadata);
    this.call.on("data", (raw: unknown) => {
      const res = this.decode(raw);
      this.received.push(res);
      this.responses.push(res);
    });
    this.call.on("status", (s: grpc.StatusObject) => {
      this.status = s;
    });
    this.call.on("error", (e: Error) => this.responses.fail(e));
    this.call.on("end", () => this.responses.fail(new Error("stream ended")));
  }

  protected abstract decode(raw: unknown): Res;

  /** Waits for the next response. */
  next(timeoutMs = 3_000): Promise<Res> {
    return this.responses.next(timeoutMs);
  }

  /** Resolves true when no response arrives within `ms`. */
  async quiet(ms = 300): Promise<boolean> {
    try {
      await this.responses.next(ms).then((r) => {
        this.unread = r;
      });
      return false;
    } catch {
      return true;
    }
  }
  unread: Res | undefined;

  /** Requests written but not yet accepted by the transport (non-zero while the server pushes back). */
  get pendingWrites(): number {
    return this.call.writableLength;
  }

  /** Stops reading from the transport (HTTP/2 flow control then pushes back on the server). */
  pause(): void {
    this.call.pause();
  }
  resume(): void {
    this.call.resume();
  }

  close(): void {
    this.call.end();
    this.client.close();
  }
}

export const ADS_SERVICE = "envoy.service.discovery.v3.AggregatedDiscoveryService";

export class SotwClient extends BaseClient<SotwResponse> {
  constructor(
    address: string,
    service = ADS_SERVICE,
    method = "StreamAggregatedResources",
    md?: grpc.Metadata,
    conn?: ConnectOptions,
  ) {
    super(address, service, method, md, conn);
  }
  // biome-ignore lint/suspicious/noExplicitAny: DiscoveryRequest
  send(req: any): void {
    this.call.write(req);
  }
  // biome-ignore lint/suspicious/noExplicitAny: decoded response
  protected decode(raw: any): SotwResponse {
    return {
      version_info: raw.version_info,
      nonce: raw.nonce,
      type_url: raw.type_url,
      resources: (raw.resources ?? []).map((a: unknown) => {
        const { typeUrl, value } = decodeAny(a);
        return { name: nameOf(typeUrl, value), typeUrl, value };
      }),
    };
  }
}

export class DeltaClient extends BaseClient<DeltaResponse> {
  constructor(
    address: string,
    service = ADS_SERVICE,
    method = "DeltaAggregatedResources",
    md?: grpc.Metadata,
    conn?: ConnectOptions,
  ) {
    super(address, service, method, md, conn);
  }
  // biome-ignore lint/suspicious/noExplicitAny: DeltaDiscoveryRequest
  send(req: any): void {
    this.call.write(req);
  }
  // biome-ignore lint/suspicious/noExplicitAny: decoded response
  protected decode(raw: any): DeltaResponse {
    return {
      system_version_info: raw.system_version_info,
      nonce: raw.nonce,
      type_url: raw.type_url,
      removed_resources: raw.removed_resources ?? [],
      // biome-ignore lint/suspicious/noExplicitAny: Resource wrapper
      resources: (raw.resources ?? []).map((r: any) => {
        const { typeUrl, value } = decodeAny(r.resource);
        return { name: r.name, version: r.version, typeUrl, value };
      }),
    };
  }
}

export function node(id: string, extra: Record<string, unknown> = {}) {
  return { id, cluster: "test", locality: {}, ...extra };
}

/** A plain proto-loader client for one xDS service (for unary Fetch calls). */
// biome-ignore lint/suspicious/noExplicitAny: proto-loader client
export function rawClient(address: string, service: string, conn: ConnectOptions = {}): any {
  let ctor = pkg();
  for (const p of service.split(".")) ctor = ctor[p];
  return new ctor(address, conn.credentials ?? grpc.credentials.createInsecure(), conn.channelOptions ?? {});
}

/** Metadata carrying a bearer token, as Envoy's credential injector (or a gRPC client) sends it. */
export function bearer(token: string | undefined, scheme = "Bearer "): grpc.Metadata {
  const md = new grpc.Metadata();
  if (token !== undefined) md.set("authorization", `${scheme}${token}`);
  return md;
}
