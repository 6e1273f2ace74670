// The ports a proxy's own workload serves: its Sidecar's ingress listeners
// when it has any, else every port of every service in the proxy's namespace
// whose selector matches the proxy's labels. Shared by the inbound listener
// (listeners/) and the inbound clusters (clusters/), so every chain has its
// cluster.
import { isIP } from "node:net";
import { labelsMatch } from "../model/labels.js";
import { type Protocol, selectProtocol } from "../model/protocol.js";
import type { ServiceModel, ServiceRegistry } from "../model/services.js";
import type { TranslationContext } from "./context.js";

export interface InboundPort {
  /** The port the workload listens on (service targetPort, else the service port). */
  port: number;
  protocol: Protocol;
  /** The service port that maps to it, and its service (absent for a Sidecar ingress port no service declares). */
  servicePort?: number;
  service?: ServiceModel;
  /** Sidecar ingress `captureMode: NONE`: served by a real listener bound here instead of a virtualInbound chain. */
  bindTo?: string;
}

/** Envoy's own ports (admin, outbound/inbound capture, readiness, stats): never a workload's inbound port. */
const PROXY_PORTS = new Set([15000, 15001, 15006, 15021, 15090]);

/** Services with a selector, by namespace, in registry order: every inbound layer looks up its namespace's. */
const selectingCache = new WeakMap<ServiceRegistry, Map<string, ServiceModel[]>>();

function selectingServices(registry: ServiceRegistry, namespace: string): readonly ServiceModel[] {
  let byNs = selectingCache.get(registry);
  if (!byNs) {
    byNs = new Map();
    for (const svc of registry.services) {
      if (!svc.selector) continue;
      const list = byNs.get(svc.namespace);
      if (list) list.push(svc);
      else byNs.set(svc.namespace, [svc]);
    }
    selectingCache.set(registry, byNs);
  }
  return byNs.get(namespace) ?? [];
}

export function inboundPorts(ctx: TranslationContext): InboundPort[] {
  // Proxyless gRPC servers (listeners/grpc-server.ts) have no Sidecar: their ports come from services alone.
  const fromServices = new Map<number, InboundPort>();
  for (const svc of selectingServices(ctx.registry, ctx.proxy.namespace)) {
    if (!svc.selector || !labelsMatch(svc.selector, ctx.proxy.labels)) continue;
    for (const p of svc.ports) {
      const port = p.targetPort ?? p.number;
      if (PROXY_PORTS.has(port)) continue;
      // Two services on one workload port: the first (by namespace/name) decides the protocol.
      if (!fromServices.has(port))
        fromServices.set(port, { port, protocol: p.protocol, servicePort: p.number, service: svc });
    }
  }
  const ingress = ctx.sidecar?.object.spec.ingress;
  if (!ingress || ingress.length === 0) return [...fromServices.values()].sort((a, b) => a.port - b.port);
  // The Sidecar's ingress listeners replace the service-derived ports (Istio);
  // a service still declaring the port supplies its policies.
  const out = new Map<number, InboundPort>();
  for (const l of ingress) {
    const port = l.port.number;
    // Unix-socket binds are not programmed (reported by the listeners' analysis).
    if (port === undefined || PROXY_PORTS.has(port) || out.has(port) || (l.bind && isIP(l.bind) === 0)) continue;
    const svc = fromServices.get(port);
    out.set(port, {
      port,
      protocol: selectProtocol({ protocol: l.port.protocol, name: l.port.name }),
      servicePort: svc?.servicePort,
      service: svc?.service,
      bindTo: l.captureMode === "NONE" ? (l.bind ?? "0.0.0.0") : undefined,
    });
  }
  return [...out.values()].sort((a, b) => a.port - b.port);
}
