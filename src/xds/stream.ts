// One xDS stream: subscription state, version/nonce bookkeeping, ACK/NACK, and
// what to send next. Works for SotW and Delta, aggregated or per-type; the
// gRPC plumbing lives in server.ts.
//
// Ordering and concurrency rules (all on the single Node event loop):
// - At most one response per type is outstanding: the next one is sent only
//   after the client ACKs or NACKs the previous nonce. This keeps the SotW stale
//   nonce rule simple (a request whose nonce is not the outstanding one is stale
//   and ignored, xDS protocol "Resource updates"), and it is the backpressure:
//   changes that arrive meanwhile coalesce, and only the latest state is sent.
// - gRPC write backpressure: when `write` reports a full buffer, nothing more is
//   written until 'drain'; then the latest state is computed afresh.
// - Within one pass, types go out in make-before-break order (PUSH_ORDER:
//   CDS before EDS before LDS before RDS).
// - Listeners and routes are built only from a view whose clusters and
//   endpoints the client has acknowledged (see `advanceRouteView`), so they
//   never overtake the clusters they name, yet keep moving while endpoints churn.
import { randomBytes } from "node:crypto";
import { CLUSTER, ENDPOINT, isFullStateType, LISTENER, PUSH_ORDER, ROUTE } from "../envoy/type-urls.js";
import type { ProxyNode } from "./proxy.js";
import type { PushSlots } from "./push-slots.js";
import { type EncodedResource, encodeDeltaResponse, encodeSotwResponse } from "./resource.js";
import { SentMap } from "./sent-map.js";

/** All resources a proxy can see, per type URL, keyed by resource name. */
export type ProxyView = ReadonlyMap<string, ReadonlyMap<string, EncodedResource>>;

export type StreamKind = "SotW" | "Delta";

export interface NackRecord {
  nonce: string;
  versionInfo: string;
  message: string;
  code: number;
  resourceNames: string[];
  at: string;
}

/** What the stream needs from its owner: a way to write, and hooks for metrics/logs. */
export interface StreamHost {
  /** Writes an encoded response; returns false when the transport buffer is full ('drain' will follow). */
  write(buf: Buffer): boolean;
  onResponse(s: XdsStream, typeUrl: string, resourceCount: number, bytes: number): void;
  onAck(s: XdsStream, typeUrl: string, sinceChangeMs: number | undefined): void;
  onNack(s: XdsStream, typeUrl: string, nack: NackRecord): void;
  onStale(s: XdsStream, typeUrl: string, nonce: string): void;
  controlPlaneId: string;
  /** Bounds how many streams have responses in flight at once (push-slots.ts); unbounded without. */
  slots?: PushSlots;
}

/**
 * How one resource map was made from another: equal to `base` except for the
 * resources named in `changed` (added, replaced or removed). A stream in sync
 * with `base` then looks at `changed` only, so pushing one moved endpoint to
 * 2,000 streams costs 2,000 lookups, not 2,000 × every cluster's assignment.
 */
export interface ResourceDerivation {
  base: ReadonlyMap<string, EncodedResource>;
  changed: readonly string[];
}

const derivations = new WeakMap<ReadonlyMap<string, EncodedResource>, ResourceDerivation>();

/** Records that `next` is `base` with only `changed` names different (see ResourceDerivation). */
export function deriveResources(
  next: ReadonlyMap<string, EncodedResource>,
  base: ReadonlyMap<string, EncodedResource>,
  changed: readonly string[],
): void {
  derivations.set(next, { base, changed });
}

const ABSENT = null;

class TypeState {
  /** Wildcard subscription (LDS/CDS only). */
  wildcard = false;
  /** Whether the client ever sent an explicit name for this type (legacy wildcard rule). */
  everExplicit = false;
  /** Subscribed names. Possibly shared with other streams (internNames): replaced, never mutated in place. */
  names: ReadonlySet<string> = new Set<string>();
  /** What the client has from us: name → resource, or ABSENT for "told it does not exist" (Delta). */
  readonly sent = new SentMap((r) => !HELD.has(r));
  /** Delta: names to report in removed_resources on the next response. */
  readonly forceRemoved = new Set<string>();
  pendingNonce: string | undefined;
  /** The view the outstanding response was built from. */
  pendingView: ProxyView | undefined;
  pendingSince = 0;
  /** Change timestamp of the view the outstanding response was built from (for convergence). */
  pendingChangeAt: number | undefined;
  responded = false;
  lastNonce = "";
  sentVersion = "";
  ackedVersion = "";
  lastNack: NackRecord | undefined;
  requests = 0;
  /**
   * The resource map this type was last brought in sync with: while the view
   * hands the same map again and the subscription and `sent` did not change,
   * there is nothing to compare. Cleared by anything else that changes them.
   */
  syncedFrom: ReadonlyMap<string, EncodedResource> | undefined;

  constructor(readonly typeUrl: string) {}

  covers(name: string): boolean {
    return this.wildcard || this.names.has(name);
  }
}

let nextStreamId = 1;

export class XdsStream {
  readonly id = nextStreamId++;
  readonly connectedAt = new Date();
  node: ProxyNode | undefined;
  private readonly types = new Map<string, TypeState>();
  private view: ProxyView | undefined;
  private viewChangeAt: number | undefined;
  /** Newest view whose clusters and endpoints the client has acknowledged: listeners and routes are built from it. */
  private routeView: { view: ProxyView; changeAt: number | undefined } | undefined;
  /** A view whose clusters and endpoints are in flight, and the responses that carry them. */
  private routeBarrier: { view: ProxyView; changeAt: number | undefined; waits: [TypeState, string][] } | undefined;
  private blocked = false;
  private nonceCounter = 0;
  closed = false;
  /** Ends the stream from the server side (set by the server that owns the call). */
  end: (() => void) | undefined;

  constructor(
    readonly kind: StreamKind,
    readonly rpc: string,
    private readonly host: StreamHost,
  ) {}

  get currentView(): ProxyView | undefined {
    return this.view;
  }

  /** Installs the proxy's latest view and sends what changed. `changeAt` is when the change entered the system. */
  setView(view: ProxyView, changeAt?: number): void {
    if (view === this.view) return;
    this.view = view;
    this.viewChangeAt = changeAt;
    this.pump();
  }

  // ---- requests -----------------------------------------------------------

  // biome-ignore lint/suspicious/noExplicitAny: decoded DiscoveryRequest
  handleSotwRequest(req: any, typeUrl: string): void {
    const ts = this.typeState(typeUrl);
    ts.requests++;
    const nonce: string = req.response_nonce ?? "";
    const names = (req.resource_names ?? []) as string[];
    if (ts.pendingNonce !== undefined) {
      if (nonce !== ts.pendingNonce) {
        // Stale: a response is outstanding and this request answers an older one.
        // The client will send its full subscription again with the ACK/NACK.
        this.host.onStale(this, typeUrl, nonce);
        this.forgetDropped(ts, names);
        return;
      }
      this.settle(ts, req.version_info ?? "", req.error_detail);
    } else if (ts.responded && nonce !== "" && nonce !== ts.lastNonce) {
      // Only a nonce this stream issued for this type can make a request stale:
      // nonces do not survive a stream (xDS spec, "Basic Protocol Overview"), yet
      // Envoy before 1.28 sent each type's first request on a new stream with the
      // previous stream's nonce (envoy#30155, fixed by envoy#30206). Ignoring that
      // request would leave the proxy without configuration after every reconnect.
      this.host.onStale(this, typeUrl, nonce);
      return;
    }
    this.applySotwNames(ts, names);
    this.pump();
  }

  /**
   * A stale SotW request is not answered and does not change the subscription
   * (the ACK that follows carries the full set), but a name it drops has been
   * dropped by the client, which may also have dropped its copy (grpc-js forgets
   * a resource when its last watcher goes). Forget that it was sent, so that if
   * the ACK names it again it is re-sent: "the server must resend any newly
   * requested resources" (xDS spec, "How the client specifies what resources to
   * return"). LDS/CDS need nothing here: every response carries the full state.
   */
  private forgetDropped(ts: TypeState, names: readonly string[]): void {
    if (isFullStateType(ts.typeUrl)) return;
    ts.syncedFrom = undefined;
    const still = new Set(names);
    for (const n of ts.names) if (!still.has(n)) ts.sent.delete(n);
  }

  // biome-ignore lint/suspicious/noExplicitAny: decoded DeltaDiscoveryRequest
  handleDeltaRequest(req: any, typeUrl: string): void {
    const ts = this.typeState(typeUrl);
    const first = ts.requests === 0;
    ts.requests++;
    const subscribe: string[] = req.resource_names_subscribe ?? [];
    const unsubscribe: string[] = req.resource_names_unsubscribe ?? [];
    if (first || subscribe.length > 0 || unsubscribe.length > 0) ts.syncedFrom = undefined;
    // Interned sets are shared: change a copy (interned again below).
    const names = subscribe.length > 0 || unsubscribe.length > 0 ? new Set(ts.names) : undefined;
    if (names) ts.names = names;
    // Delta: subscription changes are honoured even with a stale nonce (xDS
    // protocol, "Incremental xDS": the nonce must not be used to reject them).
    if (first) {
      // What a reconnecting client already holds. Every entry is remembered, not
      // only those we can match now: one whose version differs is re-sent, and one
      // we no longer have (or never had) goes out in removed_resources, or the
      // client would keep a deleted resource for the life of the stream (xDS
      // spec, "Incremental xDS" reconnect and "Deleting Resources").
      for (const [name, version] of Object.entries((req.initial_resource_versions ?? {}) as Record<string, string>)) {
        const known = this.view?.get(typeUrl)?.get(name);
        ts.sent.set(name, known && known.version === version ? known : heldByClient(typeUrl, name, String(version)));
      }
      if (subscribe.length === 0 && unsubscribe.length === 0 && isFullStateType(typeUrl)) ts.wildcard = true;
    }
    for (const name of subscribe) {
      if (name === "*") {
        if (isFullStateType(typeUrl)) ts.wildcard = true;
        continue;
      }
      names?.add(name);
      ts.everExplicit = true;
      // "The client may have forgotten": a subscribe is always answered.
      if (!first || ts.sent.get(name) === undefined) ts.sent.delete(name);
    }
    for (const name of unsubscribe) {
      if (name === "*") {
        ts.wildcard = false;
        for (const n of [...ts.sent.keys()]) if (!ts.names.has(n)) ts.sent.delete(n);
        continue;
      }
      names?.delete(name);
      ts.sent.delete(name);
      // Still covered by the wildcard: the client must be told again whether it exists.
      if (ts.wildcard && !this.view?.get(typeUrl)?.has(name)) ts.forceRemoved.add(name);
    }
    if (names) ts.names = internNames(names);
    const nonce: string = req.response_nonce ?? "";
    if (nonce !== "") {
      if (nonce === ts.pendingNonce) this.settle(ts, "", req.error_detail);
      else this.host.onStale(this, typeUrl, nonce);
    }
    this.pump();
  }

  private applySotwNames(ts: TypeState, names: string[]): void {
    const full = isFullStateType(ts.typeUrl);
    // Most requests are ACKs repeating the subscription: recognise them without allocating.
    // (Same names in the same order; ts.names holds the previous request's order.)
    if (names.length > 0 && names.length === ts.names.size && !ts.wildcard && ts.everExplicit) {
      let i = 0;
      let same = true;
      for (const n of ts.names) {
        if (names[i++] !== n) {
          same = false;
          break;
        }
      }
      if (same) return;
    }
    const explicit = names.filter((n) => n !== "*");
    const wildcard = full && (names.includes("*") || (names.length === 0 && !ts.everExplicit));
    if (names.length > 0) ts.everExplicit = true;
    const next = new Set(explicit);
    const changed = next.size !== ts.names.size || explicit.some((n) => !ts.names.has(n));
    if (wildcard !== ts.wildcard || changed) ts.syncedFrom = undefined;
    ts.wildcard = wildcard;
    if (!changed) return;
    for (const n of ts.names) {
      // Forget what was sent so a later re-subscribe is answered (xDS spec:
      // newly requested resources must be sent even if unchanged). For LDS/CDS
      // `sent` mirrors the last full-state response and is rebuilt on send.
      if (!next.has(n) && !full) ts.sent.delete(n);
    }
    ts.names = internNames(next);
  }

  // biome-ignore lint/suspicious/noExplicitAny: google.rpc.Status
  private settle(ts: TypeState, versionInfo: string, errorDetail: any): void {
    const nonce = ts.pendingNonce ?? "";
    ts.pendingNonce = undefined;
    // NACK is the presence of error_detail, never a version comparison (xDS spec,
    // "ACK/NACK"): presence, even of an empty google.rpc.Status.
    if (errorDetail !== undefined && errorDetail !== null) {
      const nack: NackRecord = {
        nonce,
        versionInfo,
        message: String(errorDetail.message ?? ""),
        code: Number(errorDetail.code ?? 0),
        resourceNames: [...iterSent(ts)].map((r) => r.name),
        at: new Date().toISOString(),
      };
      ts.lastNack = nack;
      // The client keeps its last accepted config; `sent` stays as it is so the
      // rejected content is not re-sent until it changes (no NACK loops).
      this.host.onNack(this, ts.typeUrl, nack);
      return;
    }
    ts.ackedVersion = ts.sentVersion;
    ts.lastNack = undefined;
    const since = ts.pendingChangeAt === undefined ? undefined : Date.now() - ts.pendingChangeAt;
    this.host.onAck(this, ts.typeUrl, since);
  }

  // ---- responses ----------------------------------------------------------

  /** Writes whatever is due, type by type in push order, unless the transport is full. */
  pump(): void {
    if (this.closed || !this.view || !this.node) return;
    const slots = this.host.slots;
    // Without a slot the stream waits; the slot's release pumps it again.
    if (slots && !slots.acquire(this)) return;
    try {
      this.pumpTypes(this.view);
    } finally {
      // A slot is held while responses are in flight (their bytes are buffered).
      if (slots && (this.closed || this.outstanding() === 0)) slots.release(this);
    }
  }

  /** Called by PushSlots when a slot is free for this stream. */
  readonly slotFree = (): void => this.pump();

  private pumpTypes(view: ProxyView): void {
    let routesFrom: typeof this.routeView | null = null;
    for (const typeUrl of PUSH_ORDER) {
      if (this.blocked) return;
      const ts = this.types.get(typeUrl);
      if (!ts) continue;
      if (typeUrl === LISTENER || typeUrl === ROUTE) {
        // Clusters and endpoints have been dealt with in this pass (sent, or up
        // to date, or still awaiting their ACK): decide once which view the
        // listeners and routes may be built from.
        if (routesFrom === null) routesFrom = this.advanceRouteView(view);
        if (!routesFrom) continue;
        if (ts.pendingNonce === undefined) this.send(ts, routesFrom.view, routesFrom.changeAt);
        continue;
      }
      if (ts.pendingNonce === undefined) this.send(ts, view, this.viewChangeAt);
    }
  }

  private send(ts: TypeState, view: ProxyView, changeAt: number | undefined): void {
    if (this.kind === "SotW") this.sendSotw(ts, view, changeAt);
    else this.sendDelta(ts, view, changeAt);
  }

  /**
   * Listeners and routes wait for the clusters and endpoints they may name to be
   * acknowledged, so a route never reaches the proxy before its cluster (routes
   * are not warmed; xDS spec "Eventual consistency considerations"; Consul gates
   * the same way). Waiting for "nothing in flight" would starve them, though:
   * under endpoint churn a new EDS response goes out with every EDS ACK. So the
   * wait is for specific responses: once every cluster/endpoint response built
   * from view V is acknowledged, listeners and routes may be built from V, even
   * if newer endpoints are already on their way.
   */
  private advanceRouteView(view: ProxyView): typeof this.routeView {
    const inFlight: TypeState[] = [];
    for (const t of [CLUSTER, ENDPOINT]) {
      const ts = this.types.get(t);
      if (ts?.pendingNonce !== undefined) inFlight.push(ts as TypeState);
    }
    const barrier = this.routeBarrier;
    if (barrier?.waits.every(([ts, nonce]) => ts.pendingNonce !== nonce)) {
      this.routeView = { view: barrier.view, changeAt: barrier.changeAt };
      this.routeBarrier = undefined;
    }
    if (inFlight.length === 0) {
      // Clusters and endpoints were just found up to date with this view.
      this.routeView = { view, changeAt: this.viewChangeAt };
      this.routeBarrier = undefined;
    } else if (!this.routeBarrier && inFlight.every((ts) => ts.pendingView === view)) {
      this.routeBarrier = {
        view,
        changeAt: this.viewChangeAt,
        waits: inFlight.map((ts) => [ts, ts.pendingNonce as string]),
      };
    }
    return this.routeView;
  }

  /** Called by the server when the transport drains after a full write buffer. */
  drained(): void {
    this.blocked = false;
    this.pump();
  }

  private sendSotw(ts: TypeState, view: ProxyView, changeAt: number | undefined): void {
    const available = view.get(ts.typeUrl) ?? EMPTY;
    if (ts.syncedFrom === available) return;
    const derived = derivations.get(available);
    const full = isFullStateType(ts.typeUrl);
    let out: EncodedResource[];
    let changed: EncodedResource[];
    /** Set when `out` is every resource of `available` (or of it by `names`) in order: its encoding is shared. */
    let allOf: ReadonlyMap<string, EncodedResource> | undefined;
    let allNames: ReadonlySet<string> | undefined;
    if (!full && derived && ts.syncedFrom === derived.base) {
      // In sync with the map this one was derived from: only its changed names can differ.
      out = [];
      for (const n of derived.changed) {
        const r = ts.names.has(n) ? available.get(n) : undefined;
        if (r && ts.sent.get(n)?.version !== r.version) out.push(r);
      }
      ts.syncedFrom = available;
      if (out.length === 0) return;
      for (const r of out) ts.sent.set(r.name, r);
      ts.sent.rebase(available, (n) => ts.names.has(n));
      changed = out;
    } else if (full) {
      // LDS/CDS: every response carries the full set; omission is deletion.
      const desired: EncodedResource[] = [];
      if (ts.wildcard) desired.push(...available.values());
      else
        for (const n of ts.names) {
          const r = available.get(n);
          if (r) desired.push(r);
        }
      const unchanged =
        ts.responded &&
        desired.length === ts.sent.size &&
        desired.every((r) => ts.sent.get(r.name)?.version === r.version);
      ts.syncedFrom = available;
      if (unchanged) return;
      if (!ts.wildcard && ts.names.size === 0 && ts.responded) {
        // The client dropped every name: it is no longer interested, and Envoy
        // does not ACK a response for a type it no longer watches, which would
        // leave this type (and the listeners and routes gated on it) waiting.
        ts.sent.clear();
        return;
      }
      // What the client will see as new or changed. After a NACK we cannot tell
      // what it kept (it may have accepted part of the rejected response), so
      // then everything counts as changed.
      changed = ts.lastNack ? desired : desired.filter((r) => ts.sent.get(r.name)?.version !== r.version);
      if (ts.wildcard) {
        ts.sent.resetTo(available);
        allOf = available;
      } else {
        ts.sent.clear();
        for (const r of desired) ts.sent.set(r.name, r);
      }
      out = desired;
    } else {
      // RDS/EDS/SDS: any subset may be sent; send only what the client lacks.
      out = [];
      for (const n of ts.names) {
        const r = available.get(n);
        if (r && ts.sent.get(n)?.version !== r.version) out.push(r);
      }
      ts.syncedFrom = available;
      if (out.length === 0) return;
      if (out.length === ts.names.size && ts.names.size >= NAMES_SHARED_FROM) {
        // Every subscribed resource, in subscription order, and the subscription is
        // shared (internNames): so is the encoding. A small subscription is not
        // shared, and caching by it would keep a copy per stream.
        allOf = available;
        allNames = ts.names;
      }
      for (const r of out) ts.sent.set(r.name, r);
      ts.sent.rebase(available, (n) => ts.names.has(n));
      changed = out;
    }
    const version = ts.sent.version();
    this.afterSend(ts, changed);
    const nonce = this.nextNonce();
    const buf = encodeSotwResponse({
      versionInfo: version,
      typeUrl: ts.typeUrl,
      nonce,
      resources: out,
      controlPlane: this.host.controlPlaneId,
      allOf,
      names: allNames,
    });
    this.commit(ts, nonce, version, buf, out.length, view, changeAt);
  }

  private sendDelta(ts: TypeState, view: ProxyView, changeAt: number | undefined): void {
    const available = view.get(ts.typeUrl) ?? EMPTY;
    if (ts.syncedFrom === available && ts.forceRemoved.size === 0) return;
    const derived = derivations.get(available);
    const out: EncodedResource[] = [];
    const removed: string[] = [...ts.forceRemoved];
    ts.forceRemoved.clear();
    if (derived && ts.syncedFrom === derived.base) {
      // In sync with the map this one was derived from: only its changed names can differ.
      for (const n of derived.changed) {
        const r = available.get(n);
        if (r) {
          if (ts.covers(n) && !clientHas(ts, r)) out.push(r);
        } else if (ts.names.has(n)) {
          if (ts.sent.get(n) !== ABSENT) {
            removed.push(n);
            ts.sent.set(n, ABSENT);
          }
        } else {
          const had = ts.sent.get(n);
          if (had !== undefined && had !== ABSENT) {
            removed.push(n);
            ts.sent.delete(n);
          }
        }
      }
    } else {
      this.deltaFull(ts, available, out, removed);
    }
    ts.syncedFrom = available;
    // The first wildcard response is sent even when empty, so the client's
    // initial fetch completes instead of waiting for its timeout.
    if (out.length === 0 && removed.length === 0 && (ts.responded || !ts.wildcard)) return;
    this.finishDelta(ts, view, changeAt, out, removed);
    ts.sent.rebase(available, (n) => ts.covers(n));
  }

  /** Everything the client lacks or holds in vain, compared name by name. */
  private deltaFull(
    ts: TypeState,
    available: ReadonlyMap<string, EncodedResource>,
    out: EncodedResource[],
    removed: string[],
  ): void {
    if (ts.wildcard) {
      for (const r of available.values()) if (!clientHas(ts, r)) out.push(r);
    }
    for (const n of ts.names) {
      const r = available.get(n);
      if (r) {
        if (!ts.wildcard && !clientHas(ts, r)) out.push(r);
      } else if (ts.sent.get(n) !== ABSENT) {
        // Subscribed but does not exist: Delta says so with removed_resources.
        removed.push(n);
        ts.sent.set(n, ABSENT);
      }
    }
    for (const [n, r] of ts.sent) {
      if (r !== ABSENT && !available.has(n)) {
        removed.push(n);
        if (ts.names.has(n)) ts.sent.set(n, ABSENT);
        else ts.sent.delete(n);
      }
    }
  }

  private finishDelta(
    ts: TypeState,
    view: ProxyView,
    changeAt: number | undefined,
    out: EncodedResource[],
    removed: string[],
  ): void {
    for (const r of out) ts.sent.set(r.name, r);
    const version = ts.sent.version();
    this.afterSend(ts, out);
    const nonce = this.nextNonce();
    const buf = encodeDeltaResponse({
      systemVersionInfo: version,
      typeUrl: ts.typeUrl,
      nonce,
      resources: out,
      removed: [...new Set(removed)],
      controlPlane: this.host.controlPlaneId,
    });
    this.commit(ts, nonce, version, buf, out.length, view, changeAt);
  }

  /**
   * Envoy re-warms a cluster on every CDS update that changes it and finishes
   * warming only on a fresh ClusterLoadAssignment, even an unchanged one
   * (envoy#13009). So a changed cluster invalidates what we recorded as sent for
   * its EDS resource (Trellis names a cluster's EDS resource after the cluster).
   * Clusters the update leaves as they were are not re-warmed (Envoy skips an
   * identical cluster), so their endpoints are not re-sent: that would be the
   * "needless work" of xDS spec "When to send an update", fleet-wide.
   */
  private afterSend(ts: TypeState, changed: readonly EncodedResource[]): void {
    if (ts.typeUrl !== CLUSTER) return;
    const eds = this.types.get(ENDPOINT);
    if (!eds) return;
    for (const r of changed) {
      if (eds.sent.get(r.name)) {
        eds.sent.delete(r.name);
        eds.syncedFrom = undefined;
      }
    }
  }

  private commit(
    ts: TypeState,
    nonce: string,
    version: string,
    buf: Buffer,
    count: number,
    view: ProxyView,
    changeAt: number | undefined,
  ): void {
    ts.pendingNonce = nonce;
    ts.pendingView = view;
    // More clusters or endpoints of the view the routes are waiting for (say the
    // EDS a client requests for a cluster that view added): the routes wait for
    // them too. Only responses of that very view join, so the wait still ends.
    const barrier = this.routeBarrier;
    if (barrier?.view === view && (ts.typeUrl === CLUSTER || ts.typeUrl === ENDPOINT)) barrier.waits.push([ts, nonce]);
    ts.pendingSince = Date.now();
    ts.pendingChangeAt = changeAt;
    ts.lastNonce = nonce;
    ts.sentVersion = version;
    ts.responded = true;
    this.host.onResponse(this, ts.typeUrl, count, buf.length);
    if (!this.host.write(buf)) this.blocked = true;
  }

  private nextNonce(): string {
    this.nonceCounter++;
    // Nonces are stream-scoped; the per-process prefix keeps them unambiguous in
    // logs across restarts and replicas.
    return `${NONCE_PREFIX}-${this.id.toString(36)}-${this.nonceCounter.toString(36)}`;
  }

  private typeState(typeUrl: string): TypeState {
    let ts = this.types.get(typeUrl);
    if (!ts) {
      ts = new TypeState(typeUrl);
      this.types.set(typeUrl, ts);
    }
    return ts;
  }

  // ---- introspection (admin) ----------------------------------------------

  status(): StreamStatus {
    const types: TypeStatus[] = [];
    for (const ts of this.types.values()) {
      types.push({
        typeUrl: ts.typeUrl,
        wildcard: ts.wildcard,
        resourceNames: [...ts.names].sort(),
        sentVersion: ts.sentVersion,
        ackedVersion: ts.ackedVersion,
        lastNonce: ts.lastNonce,
        pendingNonce: ts.pendingNonce ?? null,
        state: ts.lastNack ? "NACKED" : ts.pendingNonce !== undefined ? "STALE" : ts.responded ? "SYNCED" : "NOT_SENT",
        lastNack: ts.lastNack ?? null,
        requests: ts.requests,
      });
    }
    return {
      streamId: this.id,
      nodeId: this.node?.id ?? "",
      kind: this.kind,
      rpc: this.rpc,
      connectedAt: this.connectedAt.toISOString(),
      types,
    };
  }

  /** Resources last sent per type (what the client should hold), for /debug/config_dump. */
  sentResources(): Map<string, EncodedResource[]> {
    const out = new Map<string, EncodedResource[]>();
    for (const ts of this.types.values()) out.set(ts.typeUrl, [...iterSent(ts)]);
    return out;
  }

  /** Outstanding (unacknowledged) responses; bounded by the number of types. */
  outstanding(): number {
    let n = 0;
    for (const ts of this.types.values()) if (ts.pendingNonce !== undefined) n++;
    return n;
  }
}

export type SyncState = "SYNCED" | "STALE" | "NACKED" | "NOT_SENT";

export interface TypeStatus {
  typeUrl: string;
  wildcard: boolean;
  resourceNames: string[];
  sentVersion: string;
  ackedVersion: string;
  lastNonce: string;
  pendingNonce: string | null;
  state: SyncState;
  lastNack: NackRecord | null;
  requests: number;
}

export interface StreamStatus {
  streamId: number;
  nodeId: string;
  kind: StreamKind;
  rpc: string;
  connectedAt: string;
  types: TypeStatus[];
}

const EMPTY: ReadonlyMap<string, EncodedResource> = new Map();
const NONCE_PREFIX = randomBytes(3).toString("hex");

/** What we sent on this stream (not what the client only told us it holds). */
function* iterSent(ts: TypeState): Iterable<EncodedResource> {
  for (const r of ts.sent.values()) if (r !== ABSENT && !HELD.has(r)) yield r;
}

/**
 * Delta: a resource the client listed in initial_resource_versions that we have
 * not sent on this stream. Only its name and version are known.
 */
const HELD = new WeakSet<EncodedResource>();
const NO_BYTES = new Uint8Array(0);
function heldByClient(typeUrl: string, name: string, version: string): EncodedResource {
  const r: EncodedResource = { typeUrl, name, version, bytes: NO_BYTES, source: undefined };
  HELD.add(r);
  return r;
}

/** Whether the client already has `r` at its current version (adopting it as sent if it said so on reconnect). */
function clientHas(ts: TypeState, r: EncodedResource): boolean {
  const have = ts.sent.get(r.name);
  if (!have || have.version !== r.version) return false;
  if (HELD.has(have)) ts.sent.set(r.name, r);
  return true;
}

/**
 * Subscriptions are mostly the same lists (every sidecar of a namespace asks
 * for the same thousand EDS names): equal large sets are shared between streams
 * instead of each holding its own copy. Held weakly, so a subscription nobody
 * uses any more is collected.
 */
const NAMES_SHARED_FROM = 64;
const internedNames = new Map<string, WeakRef<ReadonlySet<string>>>();
const namesCollected = new FinalizationRegistry<string>((key) => {
  if (internedNames.get(key)?.deref() === undefined) internedNames.delete(key);
});

function internNames(set: Set<string>): ReadonlySet<string> {
  if (set.size < NAMES_SHARED_FROM) return set;
  let h = 0x811c9dc5;
  for (const n of set) {
    for (let i = 0; i < n.length; i++) h = Math.imul(h ^ n.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ 0xff, 0x01000193);
  }
  const key = `${set.size}:${h >>> 0}`;
  const existing = internedNames.get(key)?.deref();
  if (existing && sameOrder(existing, set)) return existing;
  internedNames.set(key, new WeakRef(set));
  namesCollected.register(set, key);
  return set;
}

function sameOrder(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  if (a.size !== b.size) return false;
  const it = b.values();
  for (const x of a) if (it.next().value !== x) return false;
  return true;
}
