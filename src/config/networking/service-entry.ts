// ServiceEntry: adds a service (external API, VM-backed service, …) to the
// mesh's service registry.

import { z } from "zod";
import { NETWORKING_API_VERSIONS } from "../api-groups.js";
import { meshObjectSchema } from "../object-meta.js";
import { Port, StringList } from "../primitives.js";
import { NetworkingWorkloadSelector } from "../selectors.js";
import { WorkloadEntrySpec } from "./workload-entry.js";

export const ServicePort = z.strictObject({
  number: Port,
  /** HTTP, HTTPS, GRPC, GRPC-WEB, HTTP2, MONGO, TCP, TLS, UDP …; Istio compares it case-insensitively. */
  protocol: z.string().optional(),
  name: z.string(),
  targetPort: Port.optional(),
});
export type ServicePort = z.infer<typeof ServicePort>;

export const ServiceEntryLocation = z.enum(["MESH_INTERNAL", "MESH_EXTERNAL"]);
export const ServiceEntryResolution = z.enum(["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"]);

export const ServiceEntrySpec = z.strictObject({
  hosts: z.array(z.string()).min(1),
  addresses: StringList.optional(),
  ports: z.array(ServicePort).optional(),
  location: ServiceEntryLocation.optional(),
  resolution: ServiceEntryResolution.optional(),
  endpoints: z.array(WorkloadEntrySpec).optional(),
  workloadSelector: NetworkingWorkloadSelector.optional(),
  exportTo: StringList.optional(),
  subjectAltNames: StringList.optional(),
});
export type ServiceEntrySpec = z.infer<typeof ServiceEntrySpec>;

export const ServiceEntrySchema = meshObjectSchema("ServiceEntry", NETWORKING_API_VERSIONS, ServiceEntrySpec, {
  specRequired: true,
});
export type ServiceEntry = z.infer<typeof ServiceEntrySchema>;
