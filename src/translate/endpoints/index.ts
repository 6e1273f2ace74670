// ClusterLoadAssignments for the EDS clusters a proxy sees.
import type { ClusterLoadAssignment } from "../../envoy/generated/envoy/config/endpoint/v3/ClusterLoadAssignment.js";
import type { TranslationContext } from "../context.js";
import { outboundClusterName } from "../names.js";
import { loadAssignment } from "./load-assignment.js";

export function endpointAssignments(ctx: TranslationContext): ClusterLoadAssignment[] {
  const out: ClusterLoadAssignment[] = [];
  for (const svc of ctx.services) {
    for (const port of svc.ports) {
      out.push(loadAssignment(outboundClusterName(svc.host, port.number), port.number, svc.endpoints));
    }
  }
  return out;
}
