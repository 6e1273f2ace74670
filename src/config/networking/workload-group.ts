// WorkloadGroup: a template for WorkloadEntries that VMs register themselves
// with, plus the readiness probe run for them.

import { z } from "zod";
import { NETWORKING_API_VERSIONS } from "../api-groups.js";
import { meshObjectSchema } from "../object-meta.js";
import { Int32, Port, StringMap } from "../primitives.js";
import { WorkloadEntrySpec } from "./workload-entry.js";

const HTTPHeader = z.strictObject({
  name: z.string().optional(),
  value: z.string().optional(),
});

const HTTPHealthCheckConfig = z.strictObject({
  path: z.string().optional(),
  port: Port,
  host: z.string().optional(),
  /** HTTP or HTTPS. */
  scheme: z.string().optional(),
  httpHeaders: z.array(HTTPHeader).optional(),
});

const TCPHealthCheckConfig = z.strictObject({
  host: z.string().optional(),
  port: Port,
});

const ExecHealthCheckConfig = z.strictObject({
  command: z.array(z.string()).min(1),
});

const GrpcHealthCheckConfig = z.strictObject({
  port: Port.optional(),
  service: z.string().optional(),
});

/** One of httpGet, tcpSocket, exec, grpc (a oneof in Istio's API). */
export const ReadinessProbe = z.strictObject({
  initialDelaySeconds: Int32.min(0).optional(),
  timeoutSeconds: Int32.min(0).optional(),
  periodSeconds: Int32.min(0).optional(),
  successThreshold: Int32.min(0).optional(),
  failureThreshold: Int32.min(0).optional(),
  httpGet: HTTPHealthCheckConfig.optional(),
  tcpSocket: TCPHealthCheckConfig.optional(),
  exec: ExecHealthCheckConfig.optional(),
  grpc: GrpcHealthCheckConfig.optional(),
});
export type ReadinessProbe = z.infer<typeof ReadinessProbe>;

export const WorkloadGroupSpec = z.strictObject({
  /** Labels and annotations copied onto every WorkloadEntry created from this group. */
  metadata: z
    .strictObject({
      labels: StringMap.optional(),
      annotations: StringMap.optional(),
    })
    .optional(),
  template: WorkloadEntrySpec,
  probe: ReadinessProbe.optional(),
});
export type WorkloadGroupSpec = z.infer<typeof WorkloadGroupSpec>;

export const WorkloadGroupSchema = meshObjectSchema("WorkloadGroup", NETWORKING_API_VERSIONS, WorkloadGroupSpec, {
  specRequired: true,
});
export type WorkloadGroup = z.infer<typeof WorkloadGroupSchema>;
