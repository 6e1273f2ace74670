// ClusterLoadAssignment from the model's endpoints, grouped by locality.
// gRPC clients drop a locality without load_balancing_weight and NACK one
// without `locality`, so both are always set; the locality weight is the sum
// of its endpoints' weights, as Istio does. Endpoint addresses are unique
// within a cluster (gRPC rejects duplicates): the first occurrence wins.
//
// Groups are built first (with each endpoint's labels, which locality
// failoverPriority matches against), then locality load balancing may split,
// reweigh or reprioritise them (clusters/locality.ts), then they become Envoy
// objects.
import type { ClusterLoadAssignment } from "../../envoy/generated/envoy/config/endpoint/v3/ClusterLoadAssignment.js";
import type { LbEndpoint } from "../../envoy/generated/envoy/config/endpoint/v3/LbEndpoint.js";
import type { LocalityLbEndpoints } from "../../envoy/generated/envoy/config/endpoint/v3/LocalityLbEndpoints.js";
import type { EndpointModel } from "../../model/services.js";
import { endpointTlsMode, TRANSPORT_SOCKET_MATCH_KEY, tlsModeStruct } from "../security/tls-mode.js";

export interface GroupMember {
  endpoint: LbEndpoint;
  weight: number;
  /** The endpoint's labels plus its topology labels (region, zone, subzone, network). */
  labels: Readonly<Record<string, string>>;
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

export function parseLocality(l: string): ParsedLocality {
  const [region = "", zone = "", subZone = ""] = l.split("/");
  return { region, zone, subZone };
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
  for (const locality of [...byLocality.keys()].sort()) {
    const members: GroupMember[] = [];
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
      members.push({
        endpoint,
        weight: e.weight,
        labels: { ...e.labels, ...topologyLabels(e.locality, e.network) },
      });
    }
    if (members.length === 0) continue;
    groups.push({ locality, priority: 0, weight: members.reduce((s, m) => s + m.weight, 0), members });
  }
  return groups;
}

export function toAssignment(clusterName: string, groups: readonly LocalityGroup[]): ClusterLoadAssignment {
  const localities: LocalityLbEndpoints[] = groups
    .filter((g) => g.members.length > 0)
    .map((g) => {
      const out: LocalityLbEndpoints = {
        locality: envoyLocality(g.locality),
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
