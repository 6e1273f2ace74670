// Which parts of a proxy's configuration depend on which of its properties, so
// that proxies share as much generated configuration as the mesh allows.
//
// A proxy's resources fall into three layers:
// - outbound: clusters, outbound listeners and route configurations — what the
//   proxy can reach. It depends on the proxy class, its namespace, the Sidecar
//   that scopes it, and only those of its labels that some outbound rule
//   selects on (DestinationRule workloadSelector, VirtualService sourceLabels,
//   failoverPriority); its locality only when a DNS cluster inlines endpoints.
// - inbound: the listeners and clusters for traffic to the proxy's own workload
//   — depends on the labels that services and policies select on.
// - endpoints: the ClusterLoadAssignments of the outbound EDS clusters —
//   the outbound layer's inputs plus the proxy's locality.
//
// Each layer is translated from a copy of the proxy whose labels are cut down
// to the keys that layer may read (`projectLabels`). A translator reading any
// other key would simply not see it, so two proxies with the same layer key
// get identical resources by construction: sharing can never leak one proxy's
// configuration into another's. The key sets over-approximate (every key any
// selector of that kind names), which costs sharing, never correctness.

import { sidecarFor } from "../model/traffic.js";
import type { ProxyTarget, TranslationInputs } from "./context.js";
import { TLS_MODE_LABEL } from "./security/tls-mode.js";

export interface LabelKeys {
  /** Label keys the outbound layer (and endpoints) may read. */
  readonly outbound: ReadonlySet<string>;
  /** Label keys the inbound layer may read. */
  readonly inbound: ReadonlySet<string>;
  /** Whether any cluster inlines endpoints (DNS resolution), so clusters depend on the proxy's locality. */
  readonly clustersUseLocality: boolean;
}

export interface LayerTargets {
  outbound: ProxyTarget;
  inbound: ProxyTarget;
  /** Equal to `outbound` with the locality set (EDS priorities are relative to the proxy). */
  endpoints: ProxyTarget;
  keys: { outbound: string; inbound: string; endpoints: string };
}

const labelKeyCache = new WeakMap<TranslationInputs, LabelKeys>();

/** The label keys each layer may depend on, for one snapshot (computed once). */
export function labelKeys(inputs: TranslationInputs): LabelKeys {
  const cached = labelKeyCache.get(inputs);
  if (cached) return cached;
  const outbound = new Set<string>();
  const inbound = new Set<string>([TLS_MODE_LABEL]);
  for (const { object } of inputs.snapshot.objects) {
    const spec = (object as { spec?: unknown }).spec;
    if (spec === undefined) continue;
    switch (object.kind) {
      case "DestinationRule":
        collect(spec, outbound, { workloadSelector: true, failoverPriority: true });
        break;
      case "VirtualService":
        collect(spec, outbound, { sourceLabels: true });
        break;
      case "Sidecar":
        // Which Sidecar applies decides both layers.
        collect(spec, outbound, { workloadSelector: true });
        collect(spec, inbound, { workloadSelector: true });
        break;
      case "Pod":
      case "EndpointSlice":
      case "Node":
      case "Namespace":
        // Platform objects select nothing a proxy's configuration depends on.
        break;
      default:
        // Services, ServiceEntries and every policy kind select workloads for the inbound side.
        collect(spec, inbound, { selector: true, workloadSelector: true, matchLabels: true, sourceLabels: true });
    }
  }
  const clustersUseLocality = inputs.registry.services.some(
    (s) => s.resolution === "DNS" || s.resolution === "DNS_ROUND_ROBIN",
  );
  const keys: LabelKeys = { outbound, inbound, clustersUseLocality };
  labelKeyCache.set(inputs, keys);
  return keys;
}

interface Wanted {
  selector?: boolean;
  workloadSelector?: boolean;
  matchLabels?: boolean;
  sourceLabels?: boolean;
  failoverPriority?: boolean;
}

/** Adds the keys of every label map found under the wanted property names, at any depth. */
function collect(value: unknown, into: Set<string>, wanted: Wanted): void {
  if (Array.isArray(value)) {
    for (const v of value) collect(v, into, wanted);
    return;
  }
  if (value === null || typeof value !== "object") return;
  for (const [k, v] of Object.entries(value)) {
    if (k === "failoverPriority" && wanted.failoverPriority && Array.isArray(v)) {
      // `key` or `key=value` (Istio's override form).
      for (const entry of v) if (typeof entry === "string") into.add(entry.split("=")[0] as string);
      continue;
    }
    if (k === "workloadSelector" && wanted.workloadSelector) {
      addKeys((v as { labels?: unknown; matchLabels?: unknown } | undefined)?.labels, into);
      addKeys((v as { matchLabels?: unknown } | undefined)?.matchLabels, into);
      continue;
    }
    if (
      (k === "selector" && wanted.selector) ||
      (k === "matchLabels" && wanted.matchLabels) ||
      (k === "sourceLabels" && wanted.sourceLabels)
    ) {
      if (isStringMap(v)) addKeys(v, into);
      else collect(v, into, wanted);
      continue;
    }
    collect(v, into, wanted);
  }
}

function isStringMap(v: unknown): v is Record<string, string> {
  return (
    v !== null && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string")
  );
}

function addKeys(v: unknown, into: Set<string>): void {
  if (v !== null && typeof v === "object" && !Array.isArray(v)) for (const k of Object.keys(v)) into.add(k);
}

/** `labels` restricted to `keys`, in sorted key order (so equal projections print equally). */
export function projectLabels(
  labels: Readonly<Record<string, string>>,
  keys: ReadonlySet<string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort()) if (keys.has(k)) out[k] = labels[k] as string;
  return out;
}

function labelString(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** The per-layer targets and keys of a proxy: proxies with equal keys get identical layers. */
export function layerTargets(inputs: TranslationInputs, proxy: ProxyTarget): LayerTargets {
  const keys = labelKeys(inputs);
  const sidecar =
    proxy.class === "sidecar" ? sidecarFor(inputs.traffic, proxy.namespace, { ...proxy.labels }) : undefined;
  const sidecarRef = sidecar ? `${sidecar.object.metadata.namespace ?? "default"}/${sidecar.object.metadata.name}` : "";
  const base = `${proxy.class}|${proxy.namespace}|${sidecarRef}`;
  const locality = proxy.locality ?? "";
  const outLabels = projectLabels(proxy.labels, keys.outbound);
  const inLabels = projectLabels(proxy.labels, keys.inbound);
  const outLocality = keys.clustersUseLocality ? locality : "";
  const outbound: ProxyTarget = {
    class: proxy.class,
    namespace: proxy.namespace,
    labels: outLabels,
    locality: outLocality,
  };
  const endpoints: ProxyTarget = { ...outbound, locality };
  const inbound: ProxyTarget = { class: proxy.class, namespace: proxy.namespace, labels: inLabels, locality: "" };
  const outKey = `${base}|${labelString(outLabels)}`;
  return {
    outbound,
    inbound,
    endpoints,
    keys: {
      outbound: `${outKey}|${outLocality}`,
      inbound: `${base}|${labelString(inLabels)}`,
      endpoints: `${outKey}|${locality}`,
    },
  };
}
