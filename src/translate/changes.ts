// Classifies a change between two snapshots for translation: when only
// endpoints moved, every cluster, listener and route stays exactly as it was,
// and only the ClusterLoadAssignments of the services whose endpoints changed
// need translating again (DESIGN.md: endpoint-only changes must never
// regenerate listeners, routes or clusters).
import type { EndpointModel, ServiceModel } from "../model/services.js";
import type { TranslationInputs } from "./context.js";

/** Kinds whose changes can only move endpoints (addresses, readiness, pod labels, locality, weights). */
const ENDPOINT_KINDS: ReadonlySet<string> = new Set(["EndpointSlice", "Pod", "Node", "WorkloadEntry"]);

/**
 * The hosts whose endpoints changed, when the change from `prev` to `next` is
 * endpoint-only; undefined when anything else may have changed.
 *
 * Endpoint-only means: only endpoint kinds changed, the mesh config is the
 * same, the same services exist in the same order, and each service differs at
 * most in what only its ClusterLoadAssignments carry. Clusters also read a
 * few endpoint facts, which must then be unchanged too: the workload identities
 * (ISTIO_MUTUAL subject alt names), whether every endpoint has a sidecar (auto
 * mTLS to passthrough clusters), and for DNS services the endpoints themselves
 * (inlined in the cluster).
 */
export function endpointOnlyHosts(
  prev: TranslationInputs,
  next: TranslationInputs,
  changedKinds: ReadonlySet<string>,
): Set<string> | undefined {
  if (prev.mesh !== next.mesh) return undefined;
  for (const k of changedKinds) if (!ENDPOINT_KINDS.has(k)) return undefined;
  // Passthrough clusters decide auto mTLS from their (subset's) endpoints: rare, so not worth tracking.
  if (next.traffic.destinationRules.some((r) => JSON.stringify(r.object.object.spec).includes('"PASSTHROUGH"')))
    return undefined;
  const a = prev.registry.services;
  const b = next.registry.services;
  if (a.length !== b.length) return undefined;
  const hosts = new Set<string>();
  for (let i = 0; i < a.length; i++) {
    const before = a[i] as ServiceModel;
    const after = b[i] as ServiceModel;
    if (shape(before) !== shape(after)) return undefined;
    const eb = endpointsSignature(before.endpoints);
    const ea = endpointsSignature(after.endpoints);
    if (eb === ea) continue;
    if (before.resolution !== "STATIC") return undefined;
    if (clusterFacts(before) !== clusterFacts(after)) return undefined;
    hosts.add(after.host);
  }
  return hosts;
}

/** Everything about a service but its endpoints. */
function shape(s: ServiceModel): string {
  return JSON.stringify([
    s.host,
    s.namespace,
    s.addresses,
    s.exportTo,
    s.ports,
    s.resolution,
    s.location,
    s.selector ?? null,
    s.origin.kind,
    s.origin.namespace ?? "",
    s.origin.name,
  ]);
}

/** The endpoint facts clusters read (see endpointOnlyHosts). */
function clusterFacts(s: ServiceModel): string {
  const accounts = [...new Set(s.endpoints.map((e) => e.serviceAccount ?? ""))].sort();
  return JSON.stringify(accounts);
}

function endpointsSignature(endpoints: readonly EndpointModel[]): string {
  return JSON.stringify(
    endpoints.map((e) => [
      e.address,
      [...e.ports],
      Object.entries(e.labels),
      e.locality,
      e.weight,
      e.serviceAccount ?? "",
      e.network ?? "",
    ]),
  );
}

/** Which layers a change leaves valid (translate/layers.ts). */
export interface ReusableLayers {
  inbound: boolean;
  endpoints: boolean;
}

/**
 * VirtualService changes leave the inbound layers as they are (inbound
 * listeners and clusters read services and policies, and DestinationRules for
 * inbound connection settings, never VirtualServices), and the endpoint layers
 * too (assignments read services and DestinationRules). Only without Sidecars:
 * a Sidecar's egress imports the destinations of the VirtualServices it
 * imports, so there routing decides which services a proxy sees at all.
 */
export function reusableAfterRoutingChange(
  prev: TranslationInputs,
  next: TranslationInputs,
  changedKinds: ReadonlySet<string>,
): ReusableLayers {
  const none = { inbound: false, endpoints: false };
  if (prev.mesh !== next.mesh || changedKinds.size !== 1 || !changedKinds.has("VirtualService")) return none;
  if (prev.traffic.sidecars.length > 0 || next.traffic.sidecars.length > 0) return none;
  return { inbound: true, endpoints: true };
}
