// Wires translate/ to xds/: maps a proxy to its class, translates once per
// (snapshot, class), encodes once, and hands the xDS server the shared view.
// Proxies of the same class share one view object, so a push to 1,000 of them
// generates and encodes once.
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from "../envoy/type-urls.js";
import type { Diagnostic } from "../model/diagnostic.js";
import type { MeshSnapshot } from "../model/snapshot.js";
import { type ProxyClass, translateSnapshot } from "../translate/index.js";
import type { ProxyNode } from "../xds/proxy.js";
import { type EncodedResource, encodeResource } from "../xds/resource.js";
import type { ProxyView } from "../xds/stream.js";

/** Proxyless gRPC announces itself with GENERATOR=grpc metadata (as Istio's bootstrap does) or its user agent. */
export function proxyClassOf(node: ProxyNode): ProxyClass {
  if (node.metadata.GENERATOR === "grpc") return "proxyless-grpc";
  if (/^grpc/i.test(node.userAgentName)) return "proxyless-grpc";
  return "sidecar";
}

export class ViewCache {
  private snapshot: MeshSnapshot | undefined;
  private readonly views = new Map<ProxyClass, ProxyView>();
  private readonly translationDiagnostics = new Map<ProxyClass, Diagnostic[]>();
  /**
   * Resources by type, name and content version: identical resources produced
   * for several classes, or again by the next snapshot, share one object and
   * one set of bytes (and streams compare them by identity first).
   */
  private interned = new Map<string, EncodedResource>();
  private previous = new Map<string, EncodedResource>();

  setSnapshot(s: MeshSnapshot): void {
    this.snapshot = s;
    this.views.clear();
    this.translationDiagnostics.clear();
    this.previous = this.interned;
    this.interned = new Map();
    // Translate the sidecar view eagerly so diagnostics are known before any proxy connects.
    this.viewFor("sidecar");
  }

  get current(): MeshSnapshot | undefined {
    return this.snapshot;
  }

  diagnostics(): Diagnostic[] {
    const seen = new Set<string>();
    const out: Diagnostic[] = [];
    for (const list of this.translationDiagnostics.values()) {
      for (const d of list) {
        const key = JSON.stringify(d);
        if (!seen.has(key)) {
          seen.add(key);
          out.push(d);
        }
      }
    }
    return out;
  }

  generate = (node: ProxyNode): ProxyView | undefined => this.viewFor(proxyClassOf(node));

  private viewFor(cls: ProxyClass): ProxyView | undefined {
    if (!this.snapshot) return undefined;
    const cached = this.views.get(cls);
    if (cached) return cached;
    const t = translateSnapshot(this.snapshot, cls);
    const diagnostics = [...t.diagnostics];
    const view = new Map<string, Map<string, EncodedResource>>();
    const add = (typeUrl: string, items: object[], nameOf: (o: never) => string) => {
      const m = new Map<string, EncodedResource>();
      for (const item of items) {
        const name = nameOf(item as never);
        const enc = encodeResource(typeUrl, name, item);
        if (enc.ok) m.set(name, this.intern(enc.value));
        else diagnostics.push({ code: "TRL3900", severity: "error", message: `internal: ${enc.error}` });
      }
      view.set(typeUrl, m);
    };
    add(CLUSTER, t.clusters, (c: { name: string }) => c.name);
    add(ENDPOINT, t.endpoints, (c: { cluster_name: string }) => c.cluster_name);
    add(LISTENER, t.listeners, (c: { name: string }) => c.name);
    add(ROUTE, t.routes, (c: { name: string }) => c.name);
    this.views.set(cls, view);
    this.translationDiagnostics.set(cls, diagnostics);
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
