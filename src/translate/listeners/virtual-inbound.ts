// virtualInbound: the listener on 0.0.0.0:15006 that iptables redirects every
// inbound connection of the workload to. The original_dst listener filter
// restores the address the peer dialled, so filter chains match on the
// workload port it was meant for. It deliberately does not set
// use_original_dst: that would hand inbound connections to the outbound
// listener of the same port.
//
// - one chain per workload port (inboundChainPorts): HTTP family → an HCM
//   with an inline route to `inbound|<port>||`, everything else → tcp_proxy;
// - Envoy's own ports never reach anything: 15006 itself (a passthrough would
//   loop), 15001, and admin/stats/readiness 15000/15090/15021 are blackholed,
//   so they are not exposed even if capture does not exclude them;
// - any other port passes through to the workload unchanged (Istio's
//   InboundPassthroughCluster; see PASSTHROUGH below).
//
// A Sidecar ingress listener with `captureMode: NONE` gets a real listener
// bound to its `bind` address and port instead of a virtualInbound chain.
//
// Every served port, and the catch-all, gets the chains of its
// PeerAuthentication mTLS mode (peer-authentication.ts): mTLS-terminating,
// plaintext, or both, with the TLS inspector where a chain needs it.
import { ENVOY_ADMIN_PORT, ENVOY_READINESS_PORT, ENVOY_STATS_PORT } from "../../envoy/bootstrap.js";
import type { FilterChain } from "../../envoy/generated/envoy/config/listener/v3/FilterChain.js";
import type { Listener } from "../../envoy/generated/envoy/config/listener/v3/Listener.js";
import type { HttpConnectionManager } from "../../envoy/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.js";
import type { HttpFilter } from "../../envoy/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.js";
import { isHttp, isHttp2 } from "../../model/protocol.js";
import type { TranslationContext } from "../context.js";
import { httpFilters } from "../filters/http-filters.js";
import {
  BLACKHOLE_CLUSTER,
  INBOUND_CAPTURE_PORT,
  INBOUND_PASSTHROUGH_CLUSTER,
  inboundClusterName,
  OUTBOUND_CAPTURE_PORT,
  VIRTUAL_INBOUND_LISTENER,
} from "../names.js";
import { inboundSecurity } from "../policy/authorization-inbound.js";
import {
  hcmFilter,
  originalDstListenerFilter,
  tcpProxyFilter,
  tlsInspectorListenerFilter,
  ZERO_DURATION,
} from "./network-filters.js";
import { sidecarHcmDefaults } from "./outbound-http.js";
import {
  catchAllChains,
  inboundMtls,
  type MtlsMode,
  portChains,
  portMode,
  tlsInspectorFor,
} from "./peer-authentication.js";
import { type InboundChainPort, inboundChainPorts } from "./sidecar-scope.js";

/**
 * Ports the sidecar itself owns. They never get inbound chains, and a
 * listener bound with captureMode NONE must not take them.
 */
export const SIDECAR_PORTS: ReadonlySet<number> = new Set([
  ENVOY_ADMIN_PORT,
  OUTBOUND_CAPTURE_PORT,
  INBOUND_CAPTURE_PORT,
  ENVOY_READINESS_PORT,
  ENVOY_STATS_PORT,
]);

export const isSidecarPort = (port: number) => SIDECAR_PORTS.has(port);

/**
 * Ports of the listeners Envoy already has on 0.0.0.0 (the capture listeners
 * and the bootstrap's stats and readiness listeners). Envoy refuses a second
 * listener on the same address even with bind_to_port false, so no outbound
 * listener may take 0.0.0.0 on these ports (Istio skips them the same way).
 */
export const WILDCARD_LISTENER_PORTS: ReadonlySet<number> = new Set([
  OUTBOUND_CAPTURE_PORT,
  INBOUND_CAPTURE_PORT,
  ENVOY_READINESS_PORT,
  ENVOY_STATS_PORT,
]);

/** The local rate limit filter goes just before the router. */
function withRateLimitFilter(filters: HttpFilter[], p: InboundChainPort): HttpFilter[] {
  if (!p.rateLimit) return filters;
  return [...filters.slice(0, -1), p.rateLimit.filter, ...filters.slice(-1)];
}

function inboundHcm(p: InboundChainPort, statPrefix: string, mtls: boolean): HttpConnectionManager {
  const cluster = inboundClusterName(p.port);
  // No route timeout on the server side: the client's sidecar enforces the VirtualService timeout.
  const action = {
    cluster,
    timeout: ZERO_DURATION,
    max_stream_duration: { max_stream_duration: ZERO_DURATION, grpc_timeout_header_max: ZERO_DURATION },
  };
  const hcm: HttpConnectionManager = {
    stat_prefix: statPrefix,
    ...sidecarHcmDefaults(p.security?.normalization),
    // Behind mTLS the peer's certificate details go to the app (x-forwarded-client-cert);
    // on plaintext there is no peer certificate, and a client-supplied header is removed.
    ...(mtls
      ? {
          forward_client_cert_details: "APPEND_FORWARD" as const,
          set_current_client_cert_details: { subject: { value: true }, dns: true, uri: true },
        }
      : { forward_client_cert_details: "SANITIZE" as const }),
    route_config: {
      name: cluster,
      virtual_hosts: [
        {
          name: `inbound|http|${p.port}`,
          domains: ["*"],
          // RateLimit routes first (each carries its own bucket), then everything else.
          routes: [...(p.rateLimit?.routes(action) ?? []), { name: "default", match: { prefix: "/" }, route: action }],
        },
      ],
      validate_clusters: { value: false },
    },
    // JWT authentication and authorization first (policy/authorization-inbound.ts).
    http_filters: withRateLimitFilter([...(p.security?.http ?? []), ...httpFilters("sidecar")], p),
  };
  if (isHttp2(p.protocol)) hcm.http2_protocol_options = {};
  return hcm;
}

/** The filter chain serving one workload port (without its match); `mtls`: behind an mTLS handshake. */
export function inboundChain(p: InboundChainPort, bind: string, mtls = false): FilterChain {
  const name = `${bind}_${p.port}`;
  const cluster = inboundClusterName(p.port);
  return {
    name,
    filters: isHttp(p.protocol)
      ? [hcmFilter(inboundHcm(p, `inbound_${name}`, mtls))]
      : [...(p.security?.network ?? []), tcpProxyFilter(cluster, cluster)],
  };
}

/** One workload port's chains under its PeerAuthentication mode (matching the port unless `bound`). */
function servedChains(ctx: TranslationContext, p: InboundChainPort, bind: string, mode: MtlsMode, bound: boolean) {
  const cluster = inboundClusterName(p.port);
  return portChains(ctx, {
    name: `${bind}_${p.port}`,
    mode,
    port: bound ? undefined : p.port,
    http: isHttp(p.protocol),
    filters: (mtls) => inboundChain(p, bind, mtls).filters ?? [],
    tlsPassthrough: [...(p.security?.network ?? []), tcpProxyFilter(cluster, cluster)],
  });
}

function blackholeChain(port: number, name: string): FilterChain {
  return {
    name,
    filter_chain_match: { destination_port: { value: port } },
    filters: [tcpProxyFilter(BLACKHOLE_CLUSTER, BLACKHOLE_CLUSTER)],
  };
}

export function virtualInboundListener(ctx: TranslationContext, ports: readonly InboundChainPort[]): Listener {
  const reserved = [...SIDECAR_PORTS]
    .filter((p) => p !== INBOUND_CAPTURE_PORT)
    .sort((a, b) => a - b)
    .map((p) => blackholeChain(p, `${VIRTUAL_INBOUND_LISTENER}-blackhole-${p}`));
  const mtls = inboundMtls(ctx);
  const modes = new Map<number, MtlsMode>();
  const served = ports
    .filter((p) => !p.bindTo)
    .flatMap((p) => {
      const mode = portMode(mtls, p.port);
      modes.set(p.port, mode);
      return servedChains(ctx, p, "0.0.0.0", mode, false);
    });
  // Ports no service declares are authorized too (network RBAC, policy/authorization-inbound.ts).
  const passthrough = [
    ...inboundSecurity(ctx).network,
    tcpProxyFilter(INBOUND_PASSTHROUGH_CLUSTER, INBOUND_PASSTHROUGH_CLUSTER),
  ];
  // A port-level mode for a port no chain serves: passthrough chains of its own (Istio).
  const portLevel = [...mtls.ports]
    .filter(([port]) => !modes.has(port) && !SIDECAR_PORTS.has(port) && !ports.some((p) => p.port === port))
    .sort(([a], [b]) => a - b)
    .flatMap(([port, mode]) => {
      modes.set(port, mode);
      return portChains(ctx, {
        name: `${VIRTUAL_INBOUND_LISTENER}-passthrough-${port}`,
        mode,
        port,
        http: false,
        filters: () => passthrough,
        tlsPassthrough: passthrough,
      });
    });
  const catchAll = catchAllChains(ctx, mtls.mode, `${VIRTUAL_INBOUND_LISTENER}-catchall-tcp`, passthrough);
  const inspector = tlsInspectorFor(modes, mtls.mode);
  const listener: Listener = {
    name: VIRTUAL_INBOUND_LISTENER,
    address: { socket_address: { address: "0.0.0.0", port_value: INBOUND_CAPTURE_PORT } },
    traffic_direction: "INBOUND",
    listener_filters: inspector ? [originalDstListenerFilter(), inspector] : [originalDstListenerFilter()],
    filter_chains: [
      blackholeChain(INBOUND_CAPTURE_PORT, `${VIRTUAL_INBOUND_LISTENER}-blackhole`),
      ...reserved,
      ...served,
      ...portLevel,
      ...catchAll.chains,
    ],
    default_filter_chain: catchAll.defaultChain,
  };
  // A PERMISSIVE client that never speaks first (server-first protocols) continues as plaintext after the timeout.
  if (inspector) listener.continue_on_listener_filters_timeout = true;
  return listener;
}

/** Sidecar ingress listeners with captureMode NONE: real listeners on their bind address and port. */
export function boundInboundListeners(ctx: TranslationContext, ports: readonly InboundChainPort[]): Listener[] {
  const mtls = inboundMtls(ctx);
  return ports.flatMap((p) => {
    const bind = p.bindTo;
    if (!bind) return [];
    const mode = portMode(mtls, p.port);
    const listener: Listener = {
      name: `inbound_${bind}_${p.port}`,
      address: { socket_address: { address: bind, port_value: p.port } },
      traffic_direction: "INBOUND",
      filter_chains: servedChains(ctx, p, bind, mode, true),
    };
    if (mode === "PERMISSIVE") {
      listener.listener_filters = [tlsInspectorListenerFilter()];
      listener.continue_on_listener_filters_timeout = true;
    }
    return [listener];
  });
}

export function inboundListeners(ctx: TranslationContext): Listener[] {
  const ports = inboundChainPorts(ctx, SIDECAR_PORTS);
  return [virtualInboundListener(ctx, ports), ...boundInboundListeners(ctx, ports)];
}
