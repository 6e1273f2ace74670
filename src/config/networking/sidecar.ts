// Sidecar: scopes what a workload's proxy sees and accepts — egress hosts,
// ingress listeners, capture mode, outbound traffic policy.

import { z } from "zod";
import { NETWORKING_API_VERSIONS } from "../api-groups.js";
import { meshObjectSchema } from "../object-meta.js";
import { Port } from "../primitives.js";
import { NetworkingWorkloadSelector } from "../selectors.js";
import { ConnectionPoolSettings } from "./destination-rule.js";
import { ServerTLSSettings } from "./gateway.js";
import { Destination } from "./virtual-service.js";

export const SidecarPort = z.strictObject({
  number: Port.optional(),
  protocol: z.string().optional(),
  name: z.string().optional(),
  /** Deprecated in Istio. */
  targetPort: Port.optional(),
});
export type SidecarPort = z.infer<typeof SidecarPort>;

export const CaptureMode = z.enum(["DEFAULT", "IPTABLES", "NONE"]);

export const IstioIngressListener = z.strictObject({
  port: SidecarPort,
  bind: z.string().optional(),
  captureMode: CaptureMode.optional(),
  defaultEndpoint: z.string().optional(),
  tls: ServerTLSSettings.optional(),
  connectionPool: ConnectionPoolSettings.optional(),
});
export type IstioIngressListener = z.infer<typeof IstioIngressListener>;

export const IstioEgressListener = z.strictObject({
  port: SidecarPort.optional(),
  bind: z.string().optional(),
  captureMode: CaptureMode.optional(),
  // `namespace/dnsName` patterns, e.g. `./*`, `istio-system/*`, `*/foo.example.com`.
  hosts: z.array(z.string()).min(1),
});
export type IstioEgressListener = z.infer<typeof IstioEgressListener>;

export const OutboundTrafficPolicyMode = z.enum(["REGISTRY_ONLY", "ALLOW_ANY"]);

export const SidecarSpec = z.strictObject({
  workloadSelector: NetworkingWorkloadSelector.optional(),
  ingress: z.array(IstioIngressListener).optional(),
  egress: z.array(IstioEgressListener).optional(),
  inboundConnectionPool: ConnectionPoolSettings.optional(),
  outboundTrafficPolicy: z
    .strictObject({
      mode: OutboundTrafficPolicyMode.optional(),
      egressProxy: Destination.optional(),
    })
    .optional(),
});
export type SidecarSpec = z.infer<typeof SidecarSpec>;

export const SidecarSchema = meshObjectSchema("Sidecar", NETWORKING_API_VERSIONS, SidecarSpec, {
  specRequired: false,
});
export type Sidecar = z.infer<typeof SidecarSchema>;
