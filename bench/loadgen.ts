// The load generator of `npm run bench`: N simulated Envoy sidecars, each on its
// own HTTP/2 connection, speaking ADS (SotW or Delta) to `trellis serve` and
// ACKing as Envoy does: wildcard CDS and LDS, then EDS for the EDS clusters and
// RDS for the route configurations the listeners name, each subscription
// update sent before the ACK of the response that caused it.
//
// It runs in its own process (forked by run.ts, pinned to its own core) so it
// never competes with the control plane's event loop, and it is built not to
// be the bottleneck: responses are decoded by hand down to what an ACK needs
// (type, version, nonce, resource names; the few fields of a Cluster that say
// EDS or not); resources stay bytes. What does need a real decode (listeners,
// for their RDS names) is cached by content hash, and the cluster and listener
// sets that many proxies hold are shared objects reached through a transition
// cache, so 2,000 proxies with the same CDS response parse it once. It reports
// its own CPU time and event-loop delay so a run can show it kept up.
//
// Protocol with the orchestrator: JSON messages over the fork IPC channel,
// `{ id, cmd, ... }` in, `{ id, ok, ... }` or `{ id, ok: false, error }` out.
import { createHash } from "node:crypto";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { messageType } from "../src/envoy/protos.js";
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from "../src/envoy/type-urls.js";
import { type MeshShape, simulatedNode } from "./mesh.js";

// ---- protocol with run.ts ----------------------------------------------------

export type Mode = "sotw" | "delta";
export type TypeName = "CDS" | "EDS" | "LDS" | "RDS" | "other";
export const TYPE_NAMES: readonly TypeName[] = ["CDS", "EDS", "LDS", "RDS", "other"];
export type PerType = Record<TypeName, number>;

export type Command =
  | { cmd: "init"; address: string; mode: Mode; shape: MeshShape }
  /**
   * Connects `count` more proxies (`clones`: copies of proxies 0..count-1 with new
   * ids, so they share views already built) and replies once all of them have full
   * config, or at `timeoutMs`.
   */
  | { cmd: "connect"; count: number; batch?: number; timeoutMs: number; clones?: boolean }
  /**
   * Starts watching, on every proxy subscribed to an EDS name containing `scope`
   * (every proxy for "any"), for the first response of `type` that carries the
   * change: a resource whose bytes contain `contains` (for EDS, a resource whose
   * name contains `scope`). Replies at once.
   */
  | { cmd: "expect"; type: "EDS" | "RDS"; scope: string; contains?: string }
  /** Waits for an expectation; latencies are measured from `t0` (epoch ms). */
  | { cmd: "wait"; expectId: number; t0: number; timeoutMs: number }
  /** Closes the streams of the last `count` proxies connected (the clones, after measuring them). */
  | { cmd: "disconnect"; count: number }
  | { cmd: "stats" }
  /** Responses and bytes per type received since `since` (epoch ms). */
  | { cmd: "count"; since: number }
  | { cmd: "close" };

export interface ConnectReply {
  connected: number;
  full: number;
  /** Time from the start of the command to full config, per proxy that got there (ms, unsorted). */
  fullMs: number[];
  /** When the last stream was opened (ms from the start): how long connecting itself took. */
  lastStreamMs: number;
  elapsedMs: number;
  streamErrors: number;
}
export interface ExpectReply {
  expectId: number;
  affected: number;
}
export interface WaitReply {
  affected: number;
  /** Per proxy that received it, ms from t0. */
  latenciesMs: number[];
  missing: number;
}
export interface StatsReply {
  proxies: number;
  responses: PerType;
  bytes: PerType;
  /** Bytes received per proxy until it had full config (its initial full push), by type and in total. */
  initialBytes: { total: number[] } & PerType;
  initialResponses: PerType;
  cpu: { userMs: number; systemMs: number };
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  streamErrors: number;
  /** Distinct cluster and listener sets the proxies hold (how much they share). */
  distinctClusterSets: number;
  distinctListenerSets: number;
  rssBytes: number;
}
export interface CountReply {
  responses: PerType;
  bytes: PerType;
}

// ---- clock ----------------------------------------------------------------

/** Epoch milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

// ---- wire: requests ---------------------------------------------------------

const enc = new TextEncoder();
const TYPE_URLS = [CLUSTER, ENDPOINT, LISTENER, ROUTE] as const;
const T_CDS = 0;
const T_EDS = 1;
const T_LDS = 2;
const T_RDS = 3;
const T_OTHER = 4;
function typeIndex(typeUrl: string): number {
  const i = (TYPE_URLS as readonly string[]).indexOf(typeUrl);
  return i < 0 ? T_OTHER : i;
}

/** A length-delimited field: tag, length, bytes. */
function field(no: number, bytes: Uint8Array): Buffer {
  const w = protobuf.Writer.create();
  w.uint32((no << 3) | 2).bytes(bytes);
  return Buffer.from(w.finish());
}
function strField(no: number, s: string): Buffer {
  return s === "" ? EMPTY_BUF : field(no, enc.encode(s));
}
const EMPTY_BUF = Buffer.alloc(0);

/** Each name as repeated string field `no`, encoded once per name set and reused by every request that lists it. */
function namesField(no: number, names: readonly string[]): Buffer {
  return Buffer.concat(names.map((n) => field(no, enc.encode(n))));
}

// DiscoveryRequest: version_info=1 node=2 resource_names=3 type_url=4 response_nonce=5.
const SOTW_TYPE_FIELD = TYPE_URLS.map((t) => strField(4, t));
function sotwRequest(t: number, version: string, nonce: string, names: Buffer, node?: Buffer): Buffer {
  const parts = [strField(1, version)];
  if (node) parts.push(node);
  parts.push(names, SOTW_TYPE_FIELD[t] as Buffer, strField(5, nonce));
  return Buffer.concat(parts);
}

// DeltaDiscoveryRequest: node=1 type_url=2 subscribe=3 unsubscribe=4 response_nonce=6.
const DELTA_TYPE_FIELD = TYPE_URLS.map((t) => strField(2, t));
function deltaRequest(t: number, nonce: string, subscribe: Buffer, unsubscribe: Buffer, node?: Buffer): Buffer {
  const parts: Buffer[] = [];
  if (node) parts.push(node);
  parts.push(DELTA_TYPE_FIELD[t] as Buffer, subscribe, unsubscribe, strField(6, nonce));
  return Buffer.concat(parts);
}

/** google.protobuf.Value for a JSON value (protobufjs's bundled struct.proto has camelCase field names). */
function toValue(v: unknown): object {
  if (v === null || v === undefined) return { nullValue: 0 };
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "number") return { numberValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v as Record<string, unknown>) };
}
function toStruct(o: Record<string, unknown>): object {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, toValue(v)])) };
}

/** The node of simulated proxy `j`, encoded once; `clone` gives a copy with its own id and the same view. */
function encodeNode(shape: MeshShape, j: number, clone: number | undefined): Uint8Array {
  const sn = simulatedNode(shape, j);
  const id = clone === undefined ? sn.id : sn.id.replace(/~([^~.]+)\./, `~$1-c${clone}.`);
  const Node = messageType("envoy.config.core.v3.Node");
  return Node.encode(
    Node.fromObject({
      id,
      cluster: sn.cluster,
      metadata: toStruct(sn.metadata),
      locality: sn.locality,
      user_agent_name: "envoy",
      user_agent_build_version: { version: { major_number: 1, minor_number: 34, patch: 1 } },
      client_features: ["envoy.lb.does_not_support_overprovisioning", "envoy.lrs.supports_send_all_clusters"],
    }),
  ).finish();
}

// ---- wire: responses ----------------------------------------------------------

/** A response cut into what an ACK needs; resources are [start, end) spans of the serialised resource in `buf`. */
interface Parsed {
  buf: Buffer;
  typeUrl: string;
  version: string;
  nonce: string;
  /** Start/end offsets of each resource's serialised message (the Any's value). */
  spans: number[];
  /** Delta: the Resource wrapper's name per resource (SotW: read from the resource). */
  names: string[] | undefined;
  removed: string[];
}

function lengthDelimited(r: protobuf.Reader): [number, number] {
  const len = r.uint32();
  const start = r.pos;
  r.skip(len);
  return [start, start + len];
}
/** A reader over buf[start, end), offsets staying those of `buf`. */
function readerAt(buf: Buffer, start: number, end: number): protobuf.Reader {
  const r = protobuf.Reader.create(buf);
  r.pos = start;
  r.len = end;
  return r;
}
function str(r: protobuf.Reader, buf: Buffer): string {
  const [s, e] = lengthDelimited(r);
  return buf.toString("utf8", s, e);
}

/** The value span of an Any at [start, end): field 2. */
function anyValue(buf: Buffer, start: number, end: number, spans: number[]): void {
  const r = readerAt(buf, start, end);
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((2 << 3) | 2)) {
      const [s, e] = lengthDelimited(r);
      spans.push(s, e);
      return;
    }
    r.skipType(tag & 7);
  }
  spans.push(end, end); // an Any without a value: an empty message
}

// DiscoveryResponse: version_info=1 resources=2 (Any: type_url=1 value=2) type_url=4 nonce=5.
function parseSotw(buf: Buffer): Parsed {
  const r = protobuf.Reader.create(buf);
  const p: Parsed = { buf, typeUrl: "", version: "", nonce: "", spans: [], names: undefined, removed: [] };
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag) {
      case (1 << 3) | 2:
        p.version = str(r, buf);
        break;
      case (2 << 3) | 2: {
        const [s, e] = lengthDelimited(r);
        anyValue(buf, s, e, p.spans);
        break;
      }
      case (4 << 3) | 2:
        p.typeUrl = str(r, buf);
        break;
      case (5 << 3) | 2:
        p.nonce = str(r, buf);
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return p;
}

// DeltaDiscoveryResponse: system_version_info=1 resources=2 (Resource: version=1 resource=2 (Any) name=3)
// type_url=4 nonce=5 removed_resources=6.
function parseDelta(buf: Buffer): Parsed {
  const r = protobuf.Reader.create(buf);
  const p: Parsed = { buf, typeUrl: "", version: "", nonce: "", spans: [], names: [], removed: [] };
  while (r.pos < r.len) {
    const tag = r.uint32();
    switch (tag) {
      case (1 << 3) | 2:
        p.version = str(r, buf);
        break;
      case (2 << 3) | 2: {
        const [s, e] = lengthDelimited(r);
        const rr = readerAt(buf, s, e);
        let name = "";
        let found = false;
        while (rr.pos < e) {
          const t = rr.uint32();
          if (t === ((3 << 3) | 2)) name = str(rr, buf);
          else if (t === ((2 << 3) | 2)) {
            const [as, ae] = lengthDelimited(rr);
            anyValue(buf, as, ae, p.spans);
            found = true;
          } else rr.skipType(t & 7);
        }
        if (!found) p.spans.push(e, e);
        p.names?.push(name);
        break;
      }
      case (4 << 3) | 2:
        p.typeUrl = str(r, buf);
        break;
      case (5 << 3) | 2:
        p.nonce = str(r, buf);
        break;
      case (6 << 3) | 2:
        p.removed.push(str(r, buf));
        break;
      default:
        r.skipType(tag & 7);
    }
  }
  return p;
}

/** The first tag-1 string of a message: `name` of Cluster, Listener, RouteConfiguration; `cluster_name` of ClusterLoadAssignment. */
function firstName(buf: Buffer, start: number, end: number): string {
  const r = readerAt(buf, start, end);
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | 2)) return str(r, buf);
    r.skipType(tag & 7);
  }
  return "";
}

function resourceName(p: Parsed, k: number): string {
  return p.names?.[k] || firstName(p.buf, p.spans[2 * k] as number, p.spans[2 * k + 1] as number);
}

/**
 * Cluster: name=1, type=2 (EDS = 3), eds_cluster_config=3 (service_name=2).
 * protobufjs writes fields in declaration order, not number order, so scan the
 * whole message; nested messages are skipped by length, so it stays cheap.
 */
function clusterInfo(buf: Buffer, start: number, end: number): { name: string; eds: string | undefined } {
  const r = readerAt(buf, start, end);
  let name = "";
  let type = 0;
  let serviceName = "";
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | 2)) name = str(r, buf);
    else if (tag === 2 << 3) type = r.int32();
    else if (tag === ((3 << 3) | 2)) {
      const [s, e] = lengthDelimited(r);
      const rr = readerAt(buf, s, e);
      while (rr.pos < e) {
        const t = rr.uint32();
        if (t === ((2 << 3) | 2)) serviceName = str(rr, buf);
        else rr.skipType(t & 7);
      }
    } else r.skipType(tag & 7);
  }
  // Envoy subscribes to an EDS cluster's service_name, or to its name when that is empty.
  return { name, eds: type === 3 ? serviceName || name : undefined };
}

const HCM_TYPE =
  "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
/** RDS route configuration names a listener's HttpConnectionManagers name: a real decode, cached by content hash. */
const listenerRoutes = new Map<string, string[]>();
function routesOf(bytes: Buffer): string[] {
  const key = createHash("sha1").update(bytes).digest("base64");
  const cached = listenerRoutes.get(key);
  if (cached) return cached;
  const Listener = messageType("envoy.config.listener.v3.Listener");
  const Hcm = messageType(HCM_TYPE.slice(HCM_TYPE.indexOf("/") + 1));
  // biome-ignore lint/suspicious/noExplicitAny: decoded Envoy Listener
  const l = Listener.toObject(Listener.decode(bytes), { defaults: false }) as any;
  const names = new Set<string>();
  // biome-ignore lint/suspicious/noExplicitAny: decoded Envoy message
  const fromAny = (a: any) => {
    if (a?.type_url !== HCM_TYPE) return;
    // biome-ignore lint/suspicious/noExplicitAny: decoded HttpConnectionManager
    const hcm = Hcm.toObject(Hcm.decode(a.value), { defaults: false }) as any;
    if (hcm.rds?.route_config_name) names.add(hcm.rds.route_config_name);
  };
  // biome-ignore lint/suspicious/noExplicitAny: decoded FilterChain
  const chains: any[] = [...(l.filter_chains ?? []), ...(l.default_filter_chain ? [l.default_filter_chain] : [])];
  for (const fc of chains) for (const f of fc.filters ?? []) fromAny(f.typed_config);
  fromAny(l.api_listener?.api_listener);
  const out = [...names].sort();
  listenerRoutes.set(key, out);
  return out;
}

// ---- shared subscription state --------------------------------------------------

/** An immutable set of names (EDS or RDS subscription), shared by every proxy that holds the same one. */
class NameSet {
  private static nextId = 1;
  readonly id = NameSet.nextId++;
  readonly set: ReadonlySet<string>;
  /** The names as repeated field 3 (SotW resource_names, Delta subscribe). */
  private encoded: Buffer | undefined;
  private readonly diffs = new Map<
    number,
    { subscribe: Buffer; unsubscribe: Buffer; added: string[]; removed: string[] }
  >();
  private readonly matchCache = new Map<string, boolean>();
  constructor(readonly names: readonly string[]) {
    this.set = new Set(names);
  }
  get field3(): Buffer {
    this.encoded ??= namesField(3, this.names);
    return this.encoded;
  }
  /** What changed from `old`: Delta subscribe (field 3) and unsubscribe (field 4). */
  diffFrom(old: NameSet) {
    let d = this.diffs.get(old.id);
    if (!d) {
      const added = this.names.filter((n) => !old.set.has(n));
      const removed = old.names.filter((n) => !this.set.has(n));
      d = { subscribe: namesField(3, added), unsubscribe: namesField(4, removed), added, removed };
      this.diffs.set(old.id, d);
    }
    return d;
  }
  matches(match: string): boolean {
    let m = this.matchCache.get(match);
    if (m === undefined) {
      m = match === "any" || this.names.some((n) => n.includes(match));
      this.matchCache.set(match, m);
    }
    return m;
  }
}
const EMPTY_NAMES = new NameSet([]);
const nameSets = new Map<string, NameSet>();
function nameSet(names: Iterable<string>): NameSet {
  const sorted = [...new Set(names)].sort();
  const key = sorted.join("\n");
  let s = nameSets.get(key);
  if (!s) {
    s = new NameSet(sorted);
    nameSets.set(key, s);
  }
  return s;
}

/**
 * The clusters (or listeners) a proxy holds, name → what it subscribes to
 * because of it (EDS service name; RDS route names). Immutable and shared: a
 * response moves a proxy from one set to the next through `transitions`, keyed
 * by the response's content, so proxies that see the same thing share one set.
 */
class ResourceSet {
  private static nextId = 1;
  readonly id = ResourceSet.nextId++;
  readonly subscriptions: NameSet;
  readonly transitions = new Map<string, ResourceSet>();
  constructor(readonly entries: ReadonlyMap<string, readonly string[]>) {
    const all: string[] = [];
    for (const v of entries.values()) all.push(...v);
    this.subscriptions = nameSet(all);
  }
}
const EMPTY_SET = new ResourceSet(new Map());

/** The set after response `p` (full state for SotW, changes for Delta), from the transition cache or parsed once. */
function nextSet(from: ResourceSet, p: Parsed, delta: boolean, t: number): ResourceSet {
  const h = createHash("sha1");
  if (delta) h.update(String(from.id));
  for (let k = 0; k < p.spans.length; k += 2) {
    h.update(p.buf.subarray(p.spans[k], p.spans[k + 1]));
    h.update("\u0000");
  }
  for (const n of p.removed) h.update(`-${n}\u0000`);
  const key = h.digest("base64");
  // SotW responses are full state: the result does not depend on where the proxy was.
  const cache = delta ? from.transitions : sotwSets;
  const hit = cache.get(key);
  if (hit) return hit;
  const entries = new Map<string, readonly string[]>(delta ? from.entries : []);
  for (const n of p.removed) entries.delete(n);
  for (let k = 0; k < p.spans.length; k += 2) {
    const s = p.spans[k] as number;
    const e = p.spans[k + 1] as number;
    if (t === T_CDS) {
      const c = clusterInfo(p.buf, s, e);
      entries.set(p.names?.[k / 2] || c.name, c.eds === undefined ? [] : [c.eds]);
    } else {
      entries.set(resourceName(p, k / 2), routesOf(p.buf.subarray(s, e)));
    }
  }
  const next = new ResourceSet(entries);
  cache.set(key, next);
  return next;
}
const sotwSets = new Map<string, ResourceSet>();

// ---- expectations ------------------------------------------------------------

interface Expectation {
  id: number;
  t: number;
  scope: string;
  contains: string | undefined;
  since: number;
  pending: Set<SimProxy>;
  affected: number;
  received: number[];
  done: (() => void) | undefined;
}
let nextExpectId = 1;
const expectations = new Map<number, Expectation>();
/** Active expectations per type index, checked on every response of that type. */
const watching: Expectation[][] = [[], [], [], [], []];

function satisfies(e: Expectation, p: Parsed, t: number): boolean {
  for (let k = 0; k < p.spans.length; k += 2) {
    if (t === T_EDS && e.scope !== "any" && !resourceName(p, k / 2).includes(e.scope)) continue;
    if (e.contains === undefined || p.buf.subarray(p.spans[k], p.spans[k + 1]).includes(e.contains)) return true;
  }
  return false;
}

// ---- counters ----------------------------------------------------------------

const totals = { responses: [0, 0, 0, 0, 0], bytes: [0, 0, 0, 0, 0] };
/** Receipt log for `count`: time, type, bytes (grows by doubling). */
let log = new Float64Array(3 * 65536);
let logLen = 0;
function record(t: number, bytes: number, at: number): void {
  totals.responses[t] = (totals.responses[t] ?? 0) + 1;
  totals.bytes[t] = (totals.bytes[t] ?? 0) + bytes;
  if (logLen + 3 > log.length) {
    const bigger = new Float64Array(log.length * 2);
    bigger.set(log);
    log = bigger;
  }
  log[logLen++] = at;
  log[logLen++] = t;
  log[logLen++] = bytes;
}
function perType(values: readonly number[]): PerType {
  return { CDS: values[0] ?? 0, EDS: values[1] ?? 0, LDS: values[2] ?? 0, RDS: values[3] ?? 0, other: values[4] ?? 0 };
}

// ---- one simulated proxy --------------------------------------------------------

interface Config {
  address: string;
  mode: Mode;
  shape: MeshShape;
}
let config: Config | undefined;
const proxies: SimProxy[] = [];
let streamErrors = 0;
let fullWaiter: { target: Set<SimProxy>; resolve: () => void } | undefined;

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // One HTTP/2 connection per proxy, as real sidecars have.
  "grpc.use_local_subchannel_pool": 1,
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
  "grpc.max_send_message_length": 64 * 1024 * 1024,
  // Envoy's HTTP/2 defaults (initial stream and connection windows of 256 MiB): a
  // full push is not throttled by 64 KB flow-control round trips, as it would be
  // with Node's default window.
  "grpc-node.flow_control_window": 256 * 1024 * 1024,
};
const ADS = "/envoy.service.discovery.v3.AggregatedDiscoveryService/";
const identity = (b: Buffer) => b;

class SimProxy {
  readonly client: grpc.Client;
  private call: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
  private readonly node: Buffer;
  private nodeSent = false;
  fullAt: number | undefined;
  clusters = EMPTY_SET;
  listeners = EMPTY_SET;
  /** SotW: last accepted version and nonce per type (what every request of that type carries). */
  private readonly versions = ["", "", "", "", ""];
  private readonly nonces = ["", "", "", "", ""];
  private cdsAcked = false;
  private ldsAcked = false;
  /** Subscribed names not yet received at least once (empty once converged: kept small). */
  private readonly pendingEds = new Set<string>();
  private readonly pendingRds = new Set<string>();
  readonly bytes = [0, 0, 0, 0, 0];
  readonly responses = [0, 0, 0, 0, 0];
  initialBytes: number[] | undefined;
  initialResponses: number[] | undefined;
  failed = false;
  private closed = false;

  constructor(
    readonly index: number,
    private readonly cfg: Config,
    clone: number | undefined,
  ) {
    this.client = new grpc.Client(cfg.address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    this.node = field(cfg.mode === "sotw" ? 2 : 1, encodeNode(cfg.shape, index, clone));
  }

  get edsNames(): NameSet {
    return this.clusters.subscriptions;
  }

  ready(deadlineMs: number): Promise<void> {
    return new Promise((resolve) => this.client.waitForReady(Date.now() + deadlineMs, () => resolve()));
  }

  start(): void {
    const method = this.cfg.mode === "sotw" ? "StreamAggregatedResources" : "DeltaAggregatedResources";
    const call = this.client.makeBidiStreamRequest(`${ADS}${method}`, identity, identity, new grpc.Metadata());
    this.call = call;
    call.on("data", (buf: Buffer) => this.onResponse(buf));
    call.on("error", () => this.fail());
    call.on("end", () => this.fail());
    // Envoy's first requests: CDS and LDS wildcard, the node on the first message of the stream only.
    this.send(T_CDS, EMPTY_BUF, EMPTY_BUF);
    this.send(T_LDS, EMPTY_BUF, EMPTY_BUF);
  }

  private fail(): void {
    if (this.failed || this.closed || closing) return;
    this.failed = true;
    streamErrors++;
  }

  close(): void {
    this.closed = true;
    this.call?.cancel();
    this.client.close();
  }

  /**
   * SotW: a request carrying the type's current names, and the version and nonce
   * of the last response of that type (every SotW request does). Delta:
   * subscribe/unsubscribe, and the nonce only when it is an ACK (`ack`).
   */
  private send(t: number, names: Buffer, unsubscribe: Buffer, ack = false): void {
    const node = this.nodeSent ? undefined : this.node;
    this.nodeSent = true;
    const req =
      this.cfg.mode === "sotw"
        ? sotwRequest(t, this.versions[t] as string, this.nonces[t] as string, names, node)
        : deltaRequest(t, ack ? (this.nonces[t] as string) : "", names, unsubscribe, node);
    this.call?.write(req);
  }

  private onResponse(buf: Buffer): void {
    const at = nowMs();
    const delta = this.cfg.mode === "delta";
    const p = delta ? parseDelta(buf) : parseSotw(buf);
    const t = typeIndex(p.typeUrl);
    this.bytes[t] = (this.bytes[t] ?? 0) + buf.length;
    this.responses[t] = (this.responses[t] ?? 0) + 1;
    record(t, buf.length, at);
    // Bookkeeping first, so the ACK below carries this response's version and nonce.
    this.versions[t] = p.version;
    this.nonces[t] = p.nonce;
    if (t === T_CDS) {
      const before = this.edsNames;
      this.clusters = nextSet(this.clusters, p, delta, T_CDS);
      this.resubscribe(T_EDS, before, this.edsNames, this.pendingEds);
      this.ack(T_CDS, EMPTY_NAMES);
      this.cdsAcked = true;
    } else if (t === T_LDS) {
      const before = this.listeners.subscriptions;
      this.listeners = nextSet(this.listeners, p, delta, T_LDS);
      this.resubscribe(T_RDS, before, this.listeners.subscriptions, this.pendingRds);
      this.ack(T_LDS, EMPTY_NAMES);
      this.ldsAcked = true;
    } else if (t === T_EDS || t === T_RDS) {
      const pending = t === T_EDS ? this.pendingEds : this.pendingRds;
      if (pending.size > 0) {
        for (let k = 0; k < p.spans.length; k += 2) pending.delete(resourceName(p, k / 2));
        // Delta: "does not exist" counts as an answer.
        for (const n of p.removed) pending.delete(n);
      }
      this.ack(t, t === T_EDS ? this.edsNames : this.listeners.subscriptions);
    } else {
      this.ack(t, EMPTY_NAMES);
    }
    for (const e of watching[t] as Expectation[]) {
      if (e.since <= at && e.pending.has(this) && satisfies(e, p, t)) {
        e.pending.delete(this);
        e.received.push(at);
        if (e.pending.size === 0) e.done?.();
      }
    }
    if (this.fullAt === undefined && this.cdsAcked && this.ldsAcked) {
      if (this.pendingEds.size === 0 && this.pendingRds.size === 0) {
        this.fullAt = at;
        this.initialBytes = [...this.bytes];
        this.initialResponses = [...this.responses];
        if (fullWaiter?.target.delete(this) && fullWaiter.target.size === 0) fullWaiter.resolve();
      }
    }
  }

  /** Envoy updates a subscription (EDS after CDS, RDS after LDS) before it ACKs the response that changed it. */
  private resubscribe(t: number, before: NameSet, after: NameSet, pending: Set<string>): void {
    if (after === before) return;
    const d = after.diffFrom(before);
    for (const n of d.added) pending.add(n);
    for (const n of d.removed) pending.delete(n);
    if (this.cfg.mode === "sotw") this.send(t, after.field3, EMPTY_BUF);
    else this.send(t, d.subscribe, d.unsubscribe);
  }

  private ack(t: number, names: NameSet): void {
    if (this.cfg.mode === "sotw") this.send(t, names.field3, EMPTY_BUF);
    else this.send(t, EMPTY_BUF, EMPTY_BUF, true);
  }
}
let closing = false;

// ---- commands ------------------------------------------------------------------

async function connect(c: Extract<Command, { cmd: "connect" }>): Promise<ConnectReply> {
  const cfg = config;
  if (!cfg) throw new Error("init first");
  const start = nowMs();
  const batch = c.batch ?? 200;
  const base = proxies.length;
  const added: SimProxy[] = [];
  const target = new Set<SimProxy>();
  const allFull = new Promise<void>((resolve) => {
    fullWaiter = { target, resolve };
  });
  const deadline = start + c.timeoutMs;
  // At most `batch` TCP/HTTP/2 handshakes in flight at once, so the listen
  // backlog never overflows; each proxy starts its stream as soon as it is
  // connected and the next handshake begins (as independent Envoys would),
  // rather than a whole group waiting for its slowest member.
  let next = 0;
  const worker = async () => {
    while (next < c.count) {
      const j = next++;
      const p = c.clones ? new SimProxy(j, cfg, base + j) : new SimProxy(base + j, cfg, undefined);
      added.push(p);
      proxies.push(p);
      target.add(p);
      await p.ready(Math.max(1, deadline - nowMs()));
      p.start();
    }
  };
  await Promise.all(Array.from({ length: Math.min(batch, c.count) }, worker));
  const lastStreamMs = nowMs() - start;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    allFull,
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, Math.max(0, deadline - nowMs()));
    }),
  ]);
  clearTimeout(timer);
  fullWaiter = undefined;
  const fullMs = added.filter((p) => p.fullAt !== undefined).map((p) => (p.fullAt as number) - start);
  return {
    connected: added.length,
    full: fullMs.length,
    fullMs,
    lastStreamMs,
    elapsedMs: nowMs() - start,
    streamErrors,
  };
}

function expect(c: Extract<Command, { cmd: "expect" }>): ExpectReply {
  const t = c.type === "EDS" ? T_EDS : T_RDS;
  const pending = new Set(proxies.filter((p) => !p.failed && p.edsNames.matches(c.scope)));
  const e: Expectation = {
    id: nextExpectId++,
    t,
    scope: c.scope,
    contains: c.contains,
    since: nowMs(),
    pending,
    affected: pending.size,
    received: [],
    done: undefined,
  };
  expectations.set(e.id, e);
  (watching[t] as Expectation[]).push(e);
  return { expectId: e.id, affected: e.affected };
}

async function wait(c: Extract<Command, { cmd: "wait" }>): Promise<WaitReply> {
  const e = expectations.get(c.expectId);
  if (!e) throw new Error(`no expectation ${c.expectId}`);
  if (e.pending.size > 0) {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      e.done = resolve;
      timer = setTimeout(resolve, c.timeoutMs);
    });
    clearTimeout(timer);
  }
  expectations.delete(e.id);
  const list = watching[e.t] as Expectation[];
  list.splice(list.indexOf(e), 1);
  return { affected: e.affected, latenciesMs: e.received.map((at) => at - c.t0), missing: e.pending.size };
}

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

function stats(): StatsReply {
  const initial = proxies.filter((p) => p.initialBytes);
  const initialBytes = {
    total: [] as number[],
    CDS: 0,
    EDS: 0,
    LDS: 0,
    RDS: 0,
    other: 0,
  } as StatsReply["initialBytes"];
  const initialResponses = perType([0, 0, 0, 0, 0]);
  for (const p of initial) {
    const b = p.initialBytes as number[];
    initialBytes.total.push(b.reduce((a, x) => a + x, 0));
    TYPE_NAMES.forEach((name, t) => {
      initialBytes[name] += (b[t] ?? 0) / initial.length;
      initialResponses[name] += ((p.initialResponses as number[])[t] ?? 0) / initial.length;
    });
  }
  const cpu = process.cpuUsage();
  return {
    proxies: proxies.length,
    responses: perType(totals.responses),
    bytes: perType(totals.bytes),
    initialBytes,
    initialResponses,
    cpu: { userMs: cpu.user / 1000, systemMs: cpu.system / 1000 },
    eventLoopDelayMs: {
      p50: loopDelay.percentile(50) / 1e6,
      p99: loopDelay.percentile(99) / 1e6,
      max: loopDelay.max / 1e6,
    },
    streamErrors,
    distinctClusterSets: new Set(proxies.map((p) => p.clusters)).size,
    distinctListenerSets: new Set(proxies.map((p) => p.listeners)).size,
    rssBytes: process.memoryUsage().rss,
  };
}

function count(c: Extract<Command, { cmd: "count" }>): CountReply {
  const responses = [0, 0, 0, 0, 0];
  const bytes = [0, 0, 0, 0, 0];
  for (let k = 0; k < logLen; k += 3) {
    if ((log[k] as number) < c.since) continue;
    const t = log[k + 1] as number;
    responses[t] = (responses[t] ?? 0) + 1;
    bytes[t] = (bytes[t] ?? 0) + (log[k + 2] as number);
  }
  return { responses: perType(responses), bytes: perType(bytes) };
}

function shutdown(): void {
  closing = true;
  for (const p of proxies) p.close();
}

async function handle(msg: Command): Promise<unknown> {
  switch (msg.cmd) {
    case "init":
      config = { address: msg.address, mode: msg.mode, shape: msg.shape };
      messageType("envoy.config.listener.v3.Listener"); // load the protos now, not inside a measurement
      loopDelay.reset(); // what counts is the delay while serving proxies, not loading protos
      return {};
    case "connect":
      return connect(msg);
    case "expect":
      return expect(msg);
    case "wait":
      return wait(msg);
    case "disconnect":
      for (const p of proxies.splice(Math.max(0, proxies.length - msg.count))) p.close();
      return {};
    case "stats":
      return stats();
    case "count":
      return count(msg);
    case "close":
      shutdown();
      setTimeout(() => process.exit(0), 50).unref();
      return {};
  }
}

if (process.send) {
  process.on("message", (m: Command & { id: number }) => {
    handle(m).then(
      (r) => process.send?.({ id: m.id, ok: true, ...(r as object) }),
      (err: Error) => process.send?.({ id: m.id, ok: false, error: err.stack ?? String(err) }),
    );
  });
  // The orchestrator went away (crash, SIGKILL): do not linger.
  process.on("disconnect", () => {
    shutdown();
    process.exit(0);
  });
}
