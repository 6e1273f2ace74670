// Wires translate/ to xds/: maps a proxy's node to a translation target,
// translates once per distinct view (`viewKey`), encodes once, and hands the
// xDS server the shared view. Proxies with the same key share one view object,
// so a push to 1,000 identical sidecars generates and encodes once.
import { DEFAULT_MESH_CONFIG, type MeshConfig } from "../config/mesh-config.js";
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from "../envoy/type-urls.js";
import type { Diagnostic } from "../model/diagnostic.js";
import type { MeshSnapshot } from "../model/snapshot.js";
import {
  type ProxyClass,
  type ProxyTarget,
  prepare,
  type TranslationInputs,
  translateProxy,
  viewKey,
} from "../translate/index.js";
import type { CallerIdentity } from "../xds/auth.js";
import type { ProxyNode } from "../xds/proxy.js";
import { type EncodedResource, encodeResource } from "../xds/resource.js";
import type { ProxyView } from "../xds/stream.js";
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

export class ViewCache {
  private snapshot: MeshSnapshot | undefined;
  private inputs: TranslationInputs | undefined;
  private snapshotDiagnostics: Diagnostic[] = [];
  private readonly views = new Map<string, ProxyView>();
  private readonly internalDiagnostics: Diagnostic[] = [];
  /**
   * Resources by type, name and content version: identical resources produced
   * for several views, or again by the next snapshot, share one object and one
   * set of bytes (and streams compare them by identity first).
   */
  private interned = new Map<string, EncodedResource>();
  private previous = new Map<string, EncodedResource>();

  constructor(
    private readonly mesh: MeshConfig = DEFAULT_MESH_CONFIG,
    /** Adds each authenticated workload's SDS secrets on top of its shared view (secret-views.ts). */
    private readonly secrets?: SecretViews,
  ) {}

  setSnapshot(s: MeshSnapshot): void {
    this.snapshot = s;
    const prepared = prepare(s, this.mesh);
    this.inputs = prepared.inputs;
    this.snapshotDiagnostics = prepared.diagnostics;
    this.views.clear();
    this.internalDiagnostics.length = 0;
    this.previous = this.interned;
    this.interned = new Map();
  }

  get current(): MeshSnapshot | undefined {
    return this.snapshot;
  }

  diagnostics(): Diagnostic[] {
    return [...this.snapshotDiagnostics, ...this.internalDiagnostics];
  }

  /** The view of a proxy: shared per viewKey, plus its own secrets if it proved a workload identity. */
  generate = (node: ProxyNode, identity: CallerIdentity = { kind: "anonymous" }): ProxyView | undefined => {
    const view = this.viewFor(proxyTargetOf(node));
    return view && this.secrets ? this.secrets.decorate(view, identity) : view;
  };

  viewFor(proxy: ProxyTarget): ProxyView | undefined {
    if (!this.inputs) return undefined;
    const key = viewKey(proxy);
    const cached = this.views.get(key);
    if (cached) return cached;
    const t = translateProxy(this.inputs, proxy);
    const view = new Map<string, Map<string, EncodedResource>>();
    const add = (typeUrl: string, items: object[], nameOf: (o: never) => string) => {
      const m = new Map<string, EncodedResource>();
      for (const item of items) {
        const name = nameOf(item as never);
        const enc = encodeResource(typeUrl, name, item);
        if (enc.ok) m.set(name, this.intern(enc.value));
        else this.internalDiagnostics.push({ code: "TRL3900", severity: "error", message: `internal: ${enc.error}` });
      }
      view.set(typeUrl, m);
    };
    add(CLUSTER, t.clusters, (c: { name: string }) => c.name);
    add(ENDPOINT, t.endpoints, (c: { cluster_name: string }) => c.cluster_name);
    add(LISTENER, t.listeners, (c: { name: string }) => c.name);
    add(ROUTE, t.routes, (c: { name: string }) => c.name);
    this.views.set(key, view);
    return view;
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
