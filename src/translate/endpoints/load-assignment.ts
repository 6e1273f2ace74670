// ClusterLoadAssignment from the model's endpoints, grouped by locality.
// gRPC clients drop a locality without load_balancing_weight and NACK one
// without `locality`, so both are always set; the locality weight is the sum
// of its endpoints' weights, as Istio does. Endpoint addresses are unique
// within a cluster (gRPC rejects duplicates): the first occurrence wins.
//
// Groups are built first (each member with its endpoint, whose labels
// locality failoverPriority matches against), once per service port and subset
// for all views; then locality load balancing may split, reweigh or
// reprioritise them for the proxy (clusters/locality.ts, into new groups), then
// they become Envoy objects.
import type { Subset } from "../../config/networking/destination-rule.js";
import type { ClusterLoadAssignment } from "../../envoy/generated/envoy/config/endpoint/v3/ClusterLoadAssignment.js";
import type { LbEndpoint } from "../../envoy/generated/envoy/config/endpoint/v3/LbEndpoint.js";
import type { LocalityLbEndpoints } from "../../envoy/generated/envoy/config/endpoint/v3/LocalityLbEndpoints.js";
import type { EndpointModel, ServiceModel } from "../../model/services.js";
import { endpointTlsMode, TRANSPORT_SOCKET_MATCH_KEY, tlsModeStruct } from "../security/tls-mode.js";

export interface GroupMember {
  endpoint: LbEndpoint;
  weight: number;
  /** The endpoint it stands for (its labels plus topology labels: `memberLabels`). */
  source: EndpointModel;
}

export interface LocalityGroup {
  /** `region/zone/subzone`, any part may be empty. */
  locality: string;
  priority: number;
  /** Locality weight; the sum of the members' weights unless locality `distribute` set it. */
  weight: number;
  members: GroupMember[];
}

export interface ParsedLocality {
  region: string;
  zone: string;
  subZone: string;
}

// Parsed localities, shared: every locality group of every view parses its
// locality (and the proxy's) again, and a mesh has few distinct localities.
// Bounded, since localities come from configuration and proxies.
const parsedLocalities = new Map<string, Readonly<ParsedLocality>>();
const MAX_PARSED_LOCALITIES = 4096;

export function parseLocality(l: string): Readonly<ParsedLocality> {
  let parsed = parsedLocalities.get(l);
  if (!parsed) {
    const [region = "", zone = "", subZone = ""] = l.split("/");
    parsed = Object.freeze({ region, zone, subZone });
    if (parsedLocalities.size >= MAX_PARSED_LOCALITIES) parsedLocalities.clear();
    parsedLocalities.set(l, parsed);
  }
  return parsed;
}

function envoyLocality(l: string): { region?: string; zone?: string; sub_zone?: string } {
  const { region, zone, subZone } = parseLocality(l);
  const out: { region?: string; zone?: string; sub_zone?: string } = {};
  if (region) out.region = region;
  if (zone) out.zone = zone;
  if (subZone) out.sub_zone = subZone;
  return out;
}

/** Kubernetes/Istio topology labels for a locality (and network), as Istio adds them to endpoints and proxies. */
export function topologyLabels(locality: string, network?: string): Record<string, string> {
  const { region, zone, subZone } = parseLocality(locality);
  const out: Record<string, string> = {};
  if (region) out["topology.kubernetes.io/region"] = region;
  if (zone) out["topology.kubernetes.io/zone"] = zone;
  if (subZone) out["topology.istio.io/subzone"] = subZone;
  if (network) out["topology.istio.io/network"] = network;
  return out;
}

// An endpoint's labels with its topology labels, by endpoint: only locality
// failoverPriority reads them, so they are merged when it first does.
const memberLabelsByEndpoint = new WeakMap<EndpointModel, Readonly<Record<string, string>>>();

/** A member's labels plus its topology labels (region, zone, subzone, network), as failoverPriority matches them. */
export function memberLabels(m: GroupMember): Readonly<Record<string, string>> {
  const e = m.source;
  let labels = memberLabelsByEndpoint.get(e);
  if (!labels) {
    labels = { ...e.labels, ...topologyLabels(e.locality, e.network) };
    memberLabelsByEndpoint.set(e, labels);
  }
  return labels;
}

/** Endpoints grouped by locality (sorted), each endpoint at the port it serves `servicePort` on. */
export function localityGroups(servicePort: number, endpoints: readonly EndpointModel[]): LocalityGroup[] {
  const byLocality = new Map<string, EndpointModel[]>();
  for (const e of endpoints) {
    const list = byLocality.get(e.locality);
    if (list) list.push(e);
    else byLocality.set(e.locality, [e]);
  }
  const seen = new Set<string>();
  const groups: LocalityGroup[] = [];
  const localities = [...byLocality.keys()];
  if (localities.length > 1) localities.sort();
  for (const locality of localities) {
    const members: GroupMember[] = [];
    let weight = 0;
    for (const e of byLocality.get(locality) ?? []) {
      const port = e.ports.get(servicePort) ?? servicePort;
      const key = `${e.address}:${port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const endpoint: LbEndpoint = {
        endpoint: { address: { socket_address: { address: e.address, port_value: port } } },
        health_status: "HEALTHY",
        load_balancing_weight: { value: e.weight },
      };
      // Whether the endpoint has a sidecar: auto-mTLS clusters choose their transport socket by it.
      const tlsMode = endpointTlsMode(e.labels);
      if (tlsMode) endpoint.metadata = { filter_metadata: { [TRANSPORT_SOCKET_MATCH_KEY]: tlsModeStruct(tlsMode) } };
      members.push({ endpoint, weight: e.weight, source: e });
      weight += e.weight;
    }
    if (members.length === 0) continue;
    groups.push({ locality, priority: 0, weight, members });
  }
  return groups;
}

// Locality groups by service (then port and subset): every view's EDS (and DNS
// clusters) would group the same endpoints again. Shared: applyLocality
// derives new groups for a proxy, nothing changes these.
const groupsByService = new WeakMap<
  ServiceModel,
  { port: number; subset: Subset | undefined; groups: readonly LocalityGroup[] }[]
>();

/**
 * `localityGroups(servicePort, endpoints)`, remembered per service: `endpoints`
 * must be the endpoints of `service` (those `subset` selects), as the outbound
 * cluster plans hold them (clusters/outbound.ts).
 */
export function serviceLocalityGroups(
  service: ServiceModel,
  servicePort: number,
  subset: Subset | undefined,
  endpoints: readonly EndpointModel[],
): readonly LocalityGroup[] {
  let entries = groupsByService.get(service);
  if (!entries) {
    entries = [];
    groupsByService.set(service, entries);
  }
  // A handful per service (its ports times its subsets).
  for (const e of entries) if (e.port === servicePort && e.subset === subset) return e.groups;
  const groups = localityGroups(servicePort, endpoints);
  entries.push({ port: servicePort, subset, groups });
  return groups;
}

// Envoy localities, shared (and frozen) by the assignments that list them: a
// mesh has a handful, every locality group of every view names one.
const envoyLocalities = new Map<string, LocalityLbEndpoints["locality"]>();

function sharedEnvoyLocality(l: string): LocalityLbEndpoints["locality"] {
  let found = envoyLocalities.get(l);
  if (!found) {
    found = Object.freeze(envoyLocality(l));
    if (envoyLocalities.size >= MAX_PARSED_LOCALITIES) envoyLocalities.clear();
    envoyLocalities.set(l, found);
  }
  return found;
}

export function toAssignment(clusterName: string, groups: readonly LocalityGroup[]): ClusterLoadAssignment {
  const localities: LocalityLbEndpoints[] = groups
    .filter((g) => g.members.length > 0)
    .map((g) => {
      const out: LocalityLbEndpoints = {
        locality: sharedEnvoyLocality(g.locality),
        lb_endpoints: g.members.map((m) => m.endpoint),
        load_balancing_weight: { value: g.weight },
      };
      if (g.priority > 0) out.priority = g.priority;
      return out;
    });
  return { cluster_name: clusterName, endpoints: localities };
}

export function loadAssignment(
  clusterName: string,
  servicePort: number,
  endpoints: readonly EndpointModel[],
): ClusterLoadAssignment {
  return toAssignment(clusterName, localityGroups(servicePort, endpoints));
}
