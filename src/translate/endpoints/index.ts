// ClusterLoadAssignments (EDS) for the EDS clusters a proxy sees: the default
// cluster of every STATIC service port and one per DestinationRule subset
// (only the endpoints whose labels match the subset), with locality weights and
// failover priorities relative to the proxy (clusters/locality.ts). Which EDS
// clusters exist is decided in one place, clusters/outbound.ts.
import type { ClusterLoadAssignment } from "../../envoy/generated/envoy/config/endpoint/v3/ClusterLoadAssignment.js";
import { applyLocality, effectiveLocalitySetting, proxyPlacement } from "../clusters/locality.js";
import { outboundClusterPlans } from "../clusters/outbound.js";
import type { TranslationContext } from "../context.js";
import { serviceLocalityGroups, toAssignment } from "./load-assignment.js";

export function endpointAssignments(ctx: TranslationContext): ClusterLoadAssignment[] {
  const placement = proxyPlacement(ctx);
  const out: ClusterLoadAssignment[] = [];
  for (const plan of outboundClusterPlans(ctx)) {
    if (plan.type !== "EDS") continue;
    const setting = effectiveLocalitySetting(plan.policy?.loadBalancer);
    const enableFailover = plan.policy?.outlierDetection !== undefined;
    const groups = applyLocality(
      serviceLocalityGroups(plan.service, plan.port.number, plan.subset, plan.endpoints),
      placement,
      setting,
      enableFailover,
    );
    out.push(toAssignment(plan.name, groups));
  }
  return out;
}
