// What a translator sees: the snapshot-level inputs (shared by every proxy)
// and the proxy being translated for. Translators are pure functions of a
// TranslationContext.
import type { MeshConfig } from "../config/mesh-config.js";
import type { Sidecar } from "../config/networking/sidecar.js";
import { hostMatches } from "../model/hosts.js";
import type { ServiceModel, ServiceRegistry } from "../model/services.js";
import type { MeshSnapshot, SourcedObject } from "../model/snapshot.js";
import { sidecarFor, type TrafficIndex } from "../model/traffic.js";

/**
 * Which generator a proxy gets. Proxyless gRPC clients get API listeners;
 * Envoy sidecars get the capture listeners (15001 outbound, 15006 inbound).
 */
export type ProxyClass = "proxyless-grpc" | "sidecar";

/** The proxy as translation needs it (from its node metadata; no xDS types). */
export interface ProxyTarget {
  class: ProxyClass;
  /** The workload's namespace (node metadata NAMESPACE, or parsed from an Istio-style node id). */
  namespace: string;
  /** The workload's labels (node metadata LABELS). */
  labels: Readonly<Record<string, string>>;
}

/** Built once per snapshot, shared by every proxy. */
export interface TranslationInputs {
  snapshot: MeshSnapshot;
  mesh: MeshConfig;
  registry: ServiceRegistry;
  traffic: TrafficIndex;
}

export interface TranslationContext extends TranslationInputs {
  proxy: ProxyTarget;
  /** The Sidecar resource scoping this proxy, if any. */
  sidecar: SourcedObject<Sidecar> | undefined;
  /** Services this proxy can see: exported to its namespace and allowed by its Sidecar's egress hosts. */
  services: readonly ServiceModel[];
}

/** `namespace/host` egress patterns of a Sidecar: `./x` is the Sidecar's namespace, `*` any namespace, `~` none. */
function egressAllows(patterns: readonly string[], sidecarNamespace: string, svc: ServiceModel): boolean {
  return patterns.some((p) => {
    const slash = p.indexOf("/");
    const ns = slash < 0 ? "*" : p.slice(0, slash);
    const host = slash < 0 ? p : p.slice(slash + 1);
    if (ns === "~") return false;
    const nsOk = ns === "*" || (ns === "." ? sidecarNamespace : ns) === svc.namespace;
    return nsOk && hostMatches(host, svc.host);
  });
}

export function buildContext(inputs: TranslationInputs, proxy: ProxyTarget): TranslationContext {
  const sidecar =
    proxy.class === "sidecar" ? sidecarFor(inputs.traffic, proxy.namespace, { ...proxy.labels }) : undefined;
  const egress = sidecar?.object.spec.egress;
  const sidecarNs = sidecar?.object.metadata.namespace ?? proxy.namespace;
  const patterns = egress ? egress.flatMap((e) => e.hosts) : undefined;
  const services = inputs.registry.services.filter(
    (svc) =>
      (svc.namespace === proxy.namespace || svc.exportTo.includes("*") || svc.exportTo.includes(proxy.namespace)) &&
      (!patterns || egressAllows(patterns, sidecarNs, svc)),
  );
  return { ...inputs, proxy, sidecar, services };
}

/**
 * What a proxy's generated configuration depends on beyond the snapshot: proxies
 * with the same key get the very same resources (generated and encoded once).
 */
export function viewKey(proxy: ProxyTarget): string {
  const labels = Object.keys(proxy.labels)
    .sort()
    .map((k) => `${k}=${proxy.labels[k]}`)
    .join(",");
  return `${proxy.class}|${proxy.namespace}|${labels}`;
}
