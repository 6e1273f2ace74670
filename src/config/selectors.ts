// Selectors shared across kinds. Istio has two workload selector shapes: the
// networking one (`labels`, used by ServiceEntry and Sidecar) and the
// istio.type one (`matchLabels`, used by DestinationRule and the security and
// telemetry kinds).

import { z } from "zod";
import { StringMap } from "./primitives.js";

/** networking.istio.io WorkloadSelector: `{ labels }`. */
export const NetworkingWorkloadSelector = z.strictObject({
  labels: StringMap.optional(),
});
export type NetworkingWorkloadSelector = z.infer<typeof NetworkingWorkloadSelector>;

/** istio.type.v1beta1.WorkloadSelector: `{ matchLabels }`. */
export const WorkloadSelector = z.strictObject({
  matchLabels: StringMap.optional(),
});
export type WorkloadSelector = z.infer<typeof WorkloadSelector>;

/** istio.type.v1beta1.PolicyTargetReference: attaches a policy to a Gateway API resource or a Service. */
export const PolicyTargetReference = z.strictObject({
  group: z.string().optional(),
  kind: z.string(),
  name: z.string(),
  namespace: z.string().optional(),
});
export type PolicyTargetReference = z.infer<typeof PolicyTargetReference>;
