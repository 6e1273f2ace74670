// Wires translate/ to xds/: maps a proxy's node to a translation target,
// translates once per distinct *layer* (translate/layers.ts: outbound, inbound,
// endpoints), encodes once, and hands the xDS server a view assembled from the
// shared layers. Proxies with equal layer keys share the very same layer maps,
// so a push to 1,000 sidecars of one namespace generates and encodes the
// outbound configuration once, and a stream whose layers did not change is
// handed the same map objects again (which it recognises by identity).
//
// An endpoint-only snapshot change (translate/changes.ts) keeps the outbound
// and inbound layers as they are and re-translates only the
// ClusterLoadAssignments of the services whose endpoints moved.
import { DEFAULT_MESH_CONFIG, type MeshConfig } from "../config/mesh-config.js";
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from "../envoy/type-urls.js";
import type { Diagnostic } from "../model/diagnostic.js";
import { diffHashes, type MeshSnapshot } from "../model/snapshot.js";
import { endpointOnlyHosts, reusableAfterRoutingChange } from "../translate/changes.js";
import {
  addressKey,
  layerTargets,
  type ProxyClass,
  type ProxyTarget,
  prepare,
  type TranslationInputs,
  translateEndpoints,
  translateInbound,
  translateOutbound,
} from "../translate/index.js";
import { VIRTUAL_OUTBOUND_LISTENER } from "../translate/names.js";
import type { CallerIdentity } from "../xds/auth.js";
import type { ProxyNode } from "../xds/proxy.js";
import { type ComposedResources, type EncodedResource, encodeResource } from "../xds/resource.js";
import { deriveResources, type ProxyView } from "../xds/stream.js";
import type { SecretViews } from "./secret-views.js";

/** Proxyless gRPC announces itself with GENERATOR=grpc metadata (as Istio's bootstrap does) or its user agent. */
export function proxyClassOf(node: ProxyNode): ProxyClass {
  if (node.metadata.GENERATOR === "grpc") return "proxyless-grpc";
  if (/^grpc/i.test(node.userAgentName)) return "proxyless-grpc";
  return "sidecar";
}

/**
 * The translation target of a node: namespace from metadata NAMESPACE or an
 * Istio-style node id (`sidecar~<ip>~<pod>.<ns>~<ns>.svc.<domain>`), labels
 * from metadata LABELS.
 */
export function proxyTargetOf(node: ProxyNode): ProxyTarget {
  const md = node.metadata;
  let namespace = typeof md.NAMESPACE === "string" ? md.NAMESPACE : undefined;
  if (!namespace) {
    const parts = node.id.split("~");
    const podDotNs = parts.length === 4 ? parts[2] : undefined;
    namespace = podDotNs?.includes(".") ? podDotNs.slice(podDotNs.lastIndexOf(".") + 1) : undefined;
  }
  const labels: Record<string, string> = {};
  if (md.LABELS && typeof md.LABELS === "object") {
    for (const [k, v] of Object.entries(md.LABELS as Record<string, unknown>)) if (typeof v === "string") labels[k] = v;
  }
  const { region = "", zone = "", sub_zone = "" } = node.locality;
  const locality = [region, zone, sub_zone].join("/").replace(/\/+$/, "");
  return { class: proxyClassOf(node), namespace: namespace ?? "default", labels, locality };
}

type ResourceMap = ReadonlyMap<string, EncodedResource>;

interface OutboundEntry {
  clusters: ResourceMap;
  listeners: ResourceMap;
  routes: ResourceMap;
  /** Where each outbound port listener binds (addressKey → name), for Sidecar ingress conflicts. */
  listenerAddresses: ReadonlyMap<string, string>;
}

interface InboundEntry {
  clusters: ResourceMap;
  listeners: ResourceMap;
  listenerAddresses: readonly string[];
}

export class ViewCache {
  private snapshot: MeshSnapshot | undefined;
  private inputs: TranslationInputs | undefined;
  private snapshotDiagnostics: Diagnostic[] = [];
  private readonly internalDiagnostics: Diagnostic[] = [];
  private outbound = new Map<string, OutboundEntry>();
  private inbound = new Map<string, InboundEntry>();
  private endpoints = new Map<string, ResourceMap>();
  /**
   * The last map built for each layer slot (`<layer>|<key>|<type>`). A layer
   * re-translated to the same resources hands out the same map object again,
   * so streams see "unchanged" by identity and skip the type entirely.
   */
  private maps = new Map<string, ResourceMap>();
  private previousMaps = new Map<string, ResourceMap>();
  private views = new Map<string, ProxyView>();
  /**
   * After endpoint-only changes: the endpoint layers of before, and the hosts
   * whose assignments must be re-translated when a layer is next asked for.
   */
  private stale: { layers: Map<string, ResourceMap>; hosts: Set<string> } | undefined;
  /** Merged per-type maps by (outbound map, inbound map): unchanged layers give the same merged object. */
  private readonly merged = new WeakMap<ResourceMap, WeakMap<ResourceMap, ResourceMap>>();
  /**
   * Resources by type, name and content version: identical resources produced
   * for several layers, or again by the next snapshot, share one object and one
   * set of bytes (and streams compare them by identity first).
   */
  private interned = new Map<string, EncodedResource>();
  private previous = new Map<string, EncodedResource>();
  /** Layers translated since the cache was created, by layer: for tests and /metrics. */
  readonly translations = { outbound: 0, inbound: 0, endpoints: 0, endpointsIncremental: 0 };

  constructor(
    private readonly mesh: MeshConfig = DEFAULT_MESH_CONFIG,
    /** Adds each authenticated workload's SDS secrets on top of its shared view (secret-views.ts). */
    private readonly secrets?: SecretViews,
  ) {}

  setSnapshot(s: MeshSnapshot): void {
    const before = this.snapshot;
    const prevInputs = this.inputs;
    const prepared = prepare(s, this.mesh);
    const kinds = before ? diffHashes(before.hashes, s.hashes).kinds : undefined;
    const hosts = prevInputs && kinds ? endpointOnlyHosts(prevInputs, prepared.inputs, kinds) : undefined;
    const reuse =
      prevInputs && kinds && !hosts
        ? reusableAfterRoutingChange(prevInputs, prepared.inputs, kinds)
        : { inbound: false, endpoints: false };
    this.snapshot = s;
    this.inputs = prepared.inputs;
    this.snapshotDiagnostics = prepared.diagnostics;
    this.internalDiagnostics.length = 0;
    this.views = new Map();
    this.previous = this.interned;
    this.interned = new Map();
    if (hosts) {
      // Outbound and inbound layers stay valid. Endpoint layers not rebuilt since
      // an earlier endpoint-only change still owe that change's hosts as well.
      const layers = new Map(this.stale?.layers ?? []);
      for (const [k, v] of this.endpoints) layers.set(k, v);
      this.stale = { layers, hosts: new Set([...(this.stale?.hosts ?? []), ...hosts]) };
      this.endpoints = new Map();
      return;
    }
    this.outbound = new Map();
    if (!reuse.inbound) this.inbound = new Map();
    if (!reuse.endpoints) {
      this.endpoints = new Map();
      this.stale = undefined;
    }
    // Slots of layers kept as they are stay known; the others are matched against once more.
    this.previousMaps = this.maps;
    this.maps = new Map();
    const keep = (prefix: string) => {
      for (const [slot, m] of this.previousMaps) if (slot.startsWith(prefix)) this.maps.set(slot, m);
    };
    if (reuse.inbound) keep("in|");
    if (reuse.endpoints) keep("eds|");
  }

  get current(): MeshSnapshot | undefined {
    return this.snapshot;
  }

  diagnostics(): Diagnostic[] {
    return [...this.snapshotDiagnostics, ...this.internalDiagnostics];
  }

  /** The view of a proxy: shared per layer keys, plus its own secrets if it proved a workload identity. */
  generate = (node: ProxyNode, identity: CallerIdentity = { kind: "anonymous" }): ProxyView | undefined => {
    const view = this.viewFor(proxyTargetOf(node));
    return view && this.secrets ? this.secrets.decorate(view, identity) : view;
  };

  viewFor(proxy: ProxyTarget): ProxyView | undefined {
    const inputs = this.inputs;
    if (!inputs) return undefined;
    const targets = layerTargets(inputs, proxy);
    const { keys } = targets;
    const key = `${keys.outbound}\n${keys.inbound}\n${keys.endpoints}`;
    const cached = this.views.get(key);
    if (cached) return cached;
    const out = this.outboundLayer(inputs, keys.outbound, targets.outbound);
    const inb = this.inboundLayer(inputs, keys.inbound, targets.inbound);
    const eds = this.endpointLayer(inputs, keys.endpoints, targets.endpoints);
    const view = new Map<string, ResourceMap>([
      [CLUSTER, this.merge(out.clusters, inb.clusters)],
      [ENDPOINT, eds],
      [LISTENER, this.listenersOf(out, inb)],
      [ROUTE, out.routes],
    ]);
    this.views.set(key, view);
    return view;
  }

  private outboundLayer(inputs: TranslationInputs, key: string, target: ProxyTarget): OutboundEntry {
    const hit = this.outbound.get(key);
    if (hit) return hit;
    this.translations.outbound++;
    const t = translateOutbound(inputs, target);
    const listenerAddresses = new Map<string, string>();
    if (target.class === "sidecar")
      for (const l of t.listeners)
        if (l.name !== VIRTUAL_OUTBOUND_LISTENER) listenerAddresses.set(addressKey(l), l.name ?? "");
    const entry: OutboundEntry = {
      clusters: this.encodeAll(`out|${key}|c`, CLUSTER, t.clusters, (c) => c.name ?? ""),
      listeners: this.encodeAll(`out|${key}|l`, LISTENER, t.listeners, (l) => l.name ?? ""),
      routes: this.encodeAll(`out|${key}|r`, ROUTE, t.routes, (r) => r.name ?? ""),
      listenerAddresses,
    };
    this.outbound.set(key, entry);
    return entry;
  }

  private inboundLayer(inputs: TranslationInputs, key: string, target: ProxyTarget): InboundEntry {
    const hit = this.inbound.get(key);
    if (hit) return hit;
    this.translations.inbound++;
    const t = translateInbound(inputs, target);
    const entry: InboundEntry = {
      clusters: this.encodeAll(`in|${key}|c`, CLUSTER, t.clusters, (c) => c.name ?? ""),
      listeners: this.encodeAll(`in|${key}|l`, LISTENER, t.listeners, (l) => l.name ?? ""),
      listenerAddresses: target.class === "sidecar" ? t.listeners.map(addressKey) : [],
    };
    this.inbound.set(key, entry);
    return entry;
  }

  private endpointLayer(inputs: TranslationInputs, key: string, target: ProxyTarget): ResourceMap {
    const hit = this.endpoints.get(key);
    if (hit) return hit;
    const before = this.stale?.layers.get(key);
    let layer: ResourceMap;
    if (before && this.stale) {
      // Endpoint-only: the same assignments exist under the same names; only the moved services' change.
      this.translations.endpointsIncremental++;
      const next = new Map(before);
      const changed: string[] = [];
      const moved = translateEndpoints(inputs, target, this.stale.hosts);
      for (const [name, r] of this.encodeAll(undefined, ENDPOINT, moved, (c) => c.cluster_name ?? "")) {
        if (next.get(name) === r) continue;
        next.set(name, r);
        changed.push(name);
      }
      // Streams in sync with `before` compare only the changed names (xds/stream.ts).
      deriveResources(next, before, changed);
      layer = next;
      this.maps.set(`eds|${key}`, next);
    } else {
      this.translations.endpoints++;
      layer = this.encodeAll(`eds|${key}`, ENDPOINT, translateEndpoints(inputs, target), (c) => c.cluster_name ?? "");
    }
    this.endpoints.set(key, layer);
    return layer;
  }

  /** Sidecar ingress listeners bound to an outbound listener's address take it (translate/listeners combineListeners). */
  private listenersOf(out: OutboundEntry, inb: InboundEntry): ResourceMap {
    const shadowed = inb.listenerAddresses.map((a) => out.listenerAddresses.get(a)).filter((n) => n !== undefined);
    if (shadowed.length === 0) return this.merge(out.listeners, inb.listeners);
    const m = new Map(out.listeners);
    for (const n of shadowed) m.delete(n);
    for (const [n, r] of inb.listeners) m.set(n, r);
    return m;
  }

  private merge(a: ResourceMap, b: ResourceMap): ResourceMap {
    if (b.size === 0) return a;
    if (a.size === 0) return b;
    let byB = this.merged.get(a);
    if (!byB) {
      byB = new WeakMap();
      this.merged.set(a, byB);
    }
    let m = byB.get(b);
    if (!m) {
      m = new MergedMap(a, b);
      byB.set(b, m);
    }
    return m;
  }

  /** Encodes and interns; with a `slot`, returns the slot's previous map when nothing in it changed. */
  private encodeAll<T extends object>(
    slot: string | undefined,
    typeUrl: string,
    items: readonly T[],
    nameOf: (o: T) => string,
  ): ResourceMap {
    const m = new Map<string, EncodedResource>();
    for (const item of items) {
      const name = nameOf(item);
      const enc = encodeResource(typeUrl, name, item);
      if (enc.ok) m.set(name, this.intern(enc.value));
      else this.internalDiagnostics.push({ code: "TRL3900", severity: "error", message: `internal: ${enc.error}` });
    }
    if (slot === undefined) return m;
    const before = this.maps.get(slot) ?? this.previousMaps.get(slot);
    const out = before && sameResources(before, m) ? before : m;
    this.maps.set(slot, out);
    return out;
  }

  private intern(r: EncodedResource): EncodedResource {
    const key = `${r.typeUrl}\u0000${r.name}\u0000${r.version}`;
    const existing = this.interned.get(key) ?? this.previous.get(key);
    if (existing) {
      this.interned.set(key, existing);
      return existing;
    }
    this.interned.set(key, r);
    return r;
  }
}

/** Same names, each with the very same (interned) resource. */
function sameResources(a: ResourceMap, b: ResourceMap): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of b) if (a.get(k) !== v) return false;
  return true;
}

/**
 * Two disjoint resource maps read as one, without copying either: the outbound
 * layer's thousand clusters are shared, not duplicated per inbound variant.
 * A name in both (never produced by the translators) reads as the first map's.
 */
class MergedMap implements ReadonlyMap<string, EncodedResource>, Partial<ComposedResources> {
  readonly size: number;
  /** Set when the maps share no name: responses are built from each part's shared encoding (xds/resource.ts). */
  readonly parts: readonly ResourceMap[] | undefined;
  /** Entries in order, built on first iteration: streams iterate these maps on every full-state send. */
  private list: [string, EncodedResource][] | undefined;
  constructor(
    private readonly a: ResourceMap,
    private readonly b: ResourceMap,
  ) {
    let extra = 0;
    for (const k of b.keys()) if (!a.has(k)) extra++;
    this.size = a.size + extra;
    this.parts = extra === b.size ? [a, b] : undefined;
  }
  get(k: string): EncodedResource | undefined {
    return this.a.get(k) ?? this.b.get(k);
  }
  has(k: string): boolean {
    return this.a.has(k) || this.b.has(k);
  }
  private all(): [string, EncodedResource][] {
    if (!this.list) {
      const list = [...this.a.entries()];
      for (const e of this.b.entries()) if (!this.a.has(e[0])) list.push(e);
      this.list = list;
    }
    return this.list;
  }
  entries(): MapIterator<[string, EncodedResource]> {
    return this.all().values() as MapIterator<[string, EncodedResource]>;
  }
  keys(): MapIterator<string> {
    return this.all()
      .map((e) => e[0])
      .values() as MapIterator<string>;
  }
  private vals: EncodedResource[] | undefined;
  values(): MapIterator<EncodedResource> {
    this.vals ??= this.all().map((e) => e[1]);
    return this.vals.values() as MapIterator<EncodedResource>;
  }
  [Symbol.iterator](): MapIterator<[string, EncodedResource]> {
    return this.entries();
  }
  forEach(fn: (v: EncodedResource, k: string, m: ReadonlyMap<string, EncodedResource>) => void): void {
    for (const [k, v] of this.all()) fn(v, k, this);
  }
}
