// ClusterLoadAssignment from the model's endpoints, grouped by locality.
// gRPC clients drop a locality without load_balancing_weight and NACK one
// without `locality`, so both are always set; the locality weight is the sum
// of its endpoints' weights, as Istio does.
import type { ClusterLoadAssignment } from "../../envoy/generated/envoy/config/endpoint/v3/ClusterLoadAssignment.js";
import type { LocalityLbEndpoints } from "../../envoy/generated/envoy/config/endpoint/v3/LocalityLbEndpoints.js";
import type { EndpointModel } from "../../model/services.js";

function parseLocality(l: string): { region?: string; zone?: string; sub_zone?: string } {
  const [region, zone, subZone] = l.split("/");
  const out: { region?: string; zone?: string; sub_zone?: string } = {};
  if (region) out.region = region;
  if (zone) out.zone = zone;
  if (subZone) out.sub_zone = subZone;
  return out;
}

export function loadAssignment(
  clusterName: string,
  servicePort: number,
  endpoints: readonly EndpointModel[],
): ClusterLoadAssignment {
  const byLocality = new Map<string, EndpointModel[]>();
  for (const e of endpoints) {
    const list = byLocality.get(e.locality);
    if (list) list.push(e);
    else byLocality.set(e.locality, [e]);
  }
  const seen = new Set<string>();
  const localities: LocalityLbEndpoints[] = [];
  for (const locality of [...byLocality.keys()].sort()) {
    const members = byLocality.get(locality) ?? [];
    const lb = [];
    let weight = 0;
    for (const e of members) {
      const port = e.ports.get(servicePort) ?? servicePort;
      // Endpoint addresses must be unique within a cluster (gRPC rejects duplicates).
      const key = `${e.address}:${port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      weight += e.weight;
      lb.push({
        endpoint: { address: { socket_address: { address: e.address, port_value: port } } },
        health_status: "HEALTHY" as const,
        load_balancing_weight: { value: e.weight },
      });
    }
    if (lb.length === 0) continue;
    localities.push({ locality: parseLocality(locality), lb_endpoints: lb, load_balancing_weight: { value: weight } });
  }
  return { cluster_name: clusterName, endpoints: localities };
}
