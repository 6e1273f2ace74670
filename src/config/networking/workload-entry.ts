// WorkloadEntry: a non-Kubernetes workload (a VM, a bare-metal host) as a
// mesh endpoint. Its spec shape is also the shape of ServiceEntry endpoints and
// of WorkloadGroup templates.

import { z } from "zod";
import { NETWORKING_API_VERSIONS } from "../api-groups.js";
import { meshObjectSchema } from "../object-meta.js";
import { Port, StringMap, UInt32 } from "../primitives.js";

export const WorkloadEntrySpec = z.strictObject({
  /** IP address or DNS name (or `unix://` socket path) of the workload. */
  address: z.string().optional(),
  /** Port name → port number on this endpoint, overriding the service port with the same name. */
  ports: z.record(z.string(), Port).optional(),
  labels: StringMap.optional(),
  network: z.string().optional(),
  locality: z.string().optional(),
  weight: UInt32.optional(),
  serviceAccount: z.string().optional(),
});
export type WorkloadEntrySpec = z.infer<typeof WorkloadEntrySpec>;

export const WorkloadEntrySchema = meshObjectSchema("WorkloadEntry", NETWORKING_API_VERSIONS, WorkloadEntrySpec, {
  specRequired: true,
});
export type WorkloadEntry = z.infer<typeof WorkloadEntrySchema>;
