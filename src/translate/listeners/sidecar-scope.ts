// The Sidecar resource as the listener builders need it, with Istio's rules:
//
// - egress listeners: each one imports the visible services (and the
//   mesh-bound VirtualServices) whose `namespace/dnsName` matches one of its
//   hosts. `.` is the proxy's own namespace (also for the mesh-wide default
//   Sidecar in the root namespace), `*` any namespace, `~` none. A listener
//   with a `port` only gets a listener on that port, for the services that
//   declare it; the listener without a port covers every other service port.
//   No Sidecar (or no `egress`) means one catch-all listener for `*/*`.
// - outboundTrafficPolicy: the Sidecar's mode, else MeshConfig's.
// - ingress listeners: when present they replace the service-derived inbound
//   ports (Istio's default: no merging).
//
// Host visibility itself (exportTo, the union of all egress hosts) is applied
// by buildContext; everything here narrows `ctx.services` further, so the
// listeners never name a service the clusters translator left out. (Until
// buildContext also reads `.` as the proxy's namespace, a root-namespace
// default Sidecar's `./*` imports less than in Istio.)
import { isIP } from "node:net";
import type { CaptureMode } from "../../config/networking/sidecar.js";
import { type Protocol, selectProtocol } from "../../model/protocol.js";
import type { ServiceModel } from "../../model/services.js";
import type { IndexedVirtualService } from "../../model/traffic.js";
import type { TranslationContext } from "../context.js";
import {
  type EgressHost,
  egressImports,
  egressImportsVirtualService,
  isEgressHostValid,
  parseEgressHosts,
} from "../egress.js";

export { type EgressHost, egressImports, isEgressHostValid, parseEgressHosts };

import { inboundPorts } from "../inbound.js";
import { type InboundSecurity, inboundSecurity } from "../policy/authorization-inbound.js";
import { type InboundRateLimit, inboundRateLimit } from "../policy/rate-limit.js";

export type CaptureModeName = (typeof CaptureMode.options)[number];
export type OutboundTrafficMode = "ALLOW_ANY" | "REGISTRY_ONLY";

export interface EgressScope {
  /** Index in `spec.egress`; undefined for the implicit catch-all (every visible host). */
  index?: number;
  /** Set when the egress listener has a port: the only port it gets a listener on. */
  port?: { number: number; protocol?: Protocol };
  /** IP the listener is bound to instead of the service address or the wildcard. */
  bind?: string;
  captureMode?: CaptureModeName;
  /** Undefined: everything visible. */
  hosts?: EgressHost[];
  /** Visible services this listener imports; with a port, trimmed to that port. */
  services: readonly ServiceModel[];
}

/** A mesh-bound VirtualService is imported into a listener scope when one of its hosts is. */
export function importsVirtualService(scope: EgressScope, vs: IndexedVirtualService): boolean {
  return !scope.hosts || egressImportsVirtualService(scope.hosts, vs);
}

/** A bind Trellis can program: an IP address (Unix domain sockets are reported, not programmed). */
export function isBindUsable(bind: string | undefined): boolean {
  return bind === undefined || isIP(bind) !== 0;
}

export function egressScopes(ctx: TranslationContext): EgressScope[] {
  const visible = ctx.services; // exported to the proxy, one service per host (buildContext)
  const egress = ctx.sidecar?.object.spec.egress;
  if (!egress || egress.length === 0) return [{ services: visible }];
  const out: EgressScope[] = [];
  const seenPorts = new Set<number>();
  let catchAll = false;
  egress.forEach((e, index) => {
    if (!isBindUsable(e.bind)) return; // reported by analyze (unix socket or malformed)
    const hosts = parseEgressHosts(e.hosts, ctx.proxy.namespace);
    const selected = visible.filter((s) => egressImports(hosts, s.namespace, s.host));
    const number = e.port?.number;
    if (number === undefined) {
      if (catchAll) return; // Istio allows one catch-all; reported by analyze
      catchAll = true;
      out.push({ index, bind: e.bind, captureMode: e.captureMode, hosts, services: selected });
      return;
    }
    if (seenPorts.has(number)) return; // duplicate port, reported by analyze
    seenPorts.add(number);
    const protocol = e.port?.protocol ? selectProtocol({ protocol: e.port.protocol }) : undefined;
    const services = selected.flatMap((s) => {
      const port = s.ports.find((p) => p.number === number);
      return port ? [{ ...s, ports: [port] }] : [];
    });
    out.push({
      index,
      port: { number, protocol: protocol === "UNKNOWN" ? undefined : protocol },
      bind: e.bind,
      captureMode: e.captureMode,
      hosts,
      services,
    });
  });
  // Port-specific listeners first: a later catch-all must not add services to their ports.
  return [...out.filter((s) => s.port), ...out.filter((s) => !s.port)];
}

export function outboundTrafficMode(ctx: TranslationContext): OutboundTrafficMode {
  return ctx.sidecar?.object.spec.outboundTrafficPolicy?.mode ?? ctx.mesh.outboundTrafficPolicy.mode;
}

/** A port the inbound listener gets a filter chain for. */
export interface InboundChainPort {
  /** The destination port the chain matches (the workload port). */
  port: number;
  protocol: Protocol;
  /** Sidecar ingress `captureMode: NONE`: a real listener bound to `bind` instead of a virtualInbound chain. */
  bindTo?: string;
  /** RateLimits enforced on this port (policy/rate-limit.ts). */
  rateLimit?: InboundRateLimit;
  /** JWT authentication, authorization and path normalisation of the workload (policy/authorization-inbound.ts). */
  security?: InboundSecurity;
}

/**
 * The workload ports the inbound side serves: the Sidecar's ingress listeners
 * when it has any, else every port of the services selecting the workload
 * (`inboundPorts`). Ports owned by the sidecar itself are left out.
 */
export function inboundChainPorts(ctx: TranslationContext, reserved: ReadonlySet<number>): InboundChainPort[] {
  const security = inboundSecurity(ctx);
  return inboundPorts(ctx)
    .filter((p) => !reserved.has(p.port))
    .map((p) => ({
      port: p.port,
      protocol: p.protocol,
      bindTo: p.bindTo,
      rateLimit: inboundRateLimit(ctx, p),
      security,
    }));
}
