// The ports a sidecar's own workload serves: every port of every service in the
// proxy's namespace whose selector matches the proxy's labels. Shared by the
// inbound listener (listeners/) and the inbound clusters (clusters/).
import type { Protocol } from "../model/protocol.js";
import type { ServiceModel } from "../model/services.js";
import type { TranslationContext } from "./context.js";

export interface InboundPort {
  /** The port the workload listens on (service targetPort, else the service port). */
  port: number;
  protocol: Protocol;
  /** The service port that maps to it, and its service. */
  servicePort: number;
  service: ServiceModel;
}

/** Envoy's own ports (admin, outbound/inbound capture, readiness, stats): never a workload's inbound port. */
const PROXY_PORTS = new Set([15000, 15001, 15006, 15021, 15090]);

export function inboundPorts(ctx: TranslationContext): InboundPort[] {
  if (ctx.proxy.class !== "sidecar") return [];
  const out = new Map<number, InboundPort>();
  for (const svc of ctx.registry.services) {
    if (svc.namespace !== ctx.proxy.namespace || !svc.selector) continue;
    if (!Object.entries(svc.selector).every(([k, v]) => ctx.proxy.labels[k] === v)) continue;
    for (const p of svc.ports) {
      const port = p.targetPort ?? p.number;
      if (PROXY_PORTS.has(port)) continue;
      // Two services on one workload port: the first (by namespace/name) decides the protocol.
      if (!out.has(port)) out.set(port, { port, protocol: p.protocol, servicePort: p.number, service: svc });
    }
  }
  return [...out.values()].sort((a, b) => a.port - b.port);
}
