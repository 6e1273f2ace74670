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
import { hcmFilter, originalDstListenerFilter, tcpProxyFilter, ZERO_DURATION } from "./network-filters.js";
import { sidecarHcmDefaults } from "./outbound-http.js";
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

function inboundHcm(p: InboundChainPort, statPrefix: string): HttpConnectionManager {
  const cluster = inboundClusterName(p.port);
  // No route timeout on the server side: the client's sidecar enforces the VirtualService timeout.
  const action = {
    cluster,
    timeout: ZERO_DURATION,
    max_stream_duration: { max_stream_duration: ZERO_DURATION, grpc_timeout_header_max: ZERO_DURATION },
  };
  const hcm: HttpConnectionManager = {
    stat_prefix: statPrefix,
    ...sidecarHcmDefaults(),
    // The peer's certificate details go to the app (once mTLS terminates here).
    forward_client_cert_details: "APPEND_FORWARD",
    set_current_client_cert_details: { subject: { value: true }, dns: true, uri: true },
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
    http_filters: withRateLimitFilter(httpFilters("sidecar"), p),
  };
  if (isHttp2(p.protocol)) hcm.http2_protocol_options = {};
  return hcm;
}

/** The filter chain serving one workload port (without its match). */
export function inboundChain(p: InboundChainPort, bind: string): FilterChain {
  const name = `${bind}_${p.port}`;
  const cluster = inboundClusterName(p.port);
  return {
    name,
    filters: isHttp(p.protocol) ? [hcmFilter(inboundHcm(p, `inbound_${name}`))] : [tcpProxyFilter(cluster, cluster)],
  };
}

function blackholeChain(port: number, name: string): FilterChain {
  return {
    name,
    filter_chain_match: { destination_port: { value: port } },
    filters: [tcpProxyFilter(BLACKHOLE_CLUSTER, BLACKHOLE_CLUSTER)],
  };
}

export function virtualInboundListener(ports: readonly InboundChainPort[]): Listener {
  const reserved = [...SIDECAR_PORTS]
    .filter((p) => p !== INBOUND_CAPTURE_PORT)
    .sort((a, b) => a - b)
    .map((p) => blackholeChain(p, `${VIRTUAL_INBOUND_LISTENER}-blackhole-${p}`));
  const served = ports
    .filter((p) => !p.bindTo)
    .map((p) => ({ ...inboundChain(p, "0.0.0.0"), filter_chain_match: { destination_port: { value: p.port } } }));
  return {
    name: VIRTUAL_INBOUND_LISTENER,
    address: { socket_address: { address: "0.0.0.0", port_value: INBOUND_CAPTURE_PORT } },
    traffic_direction: "INBOUND",
    listener_filters: [originalDstListenerFilter()],
    filter_chains: [
      blackholeChain(INBOUND_CAPTURE_PORT, `${VIRTUAL_INBOUND_LISTENER}-blackhole`),
      ...reserved,
      ...served,
    ],
    default_filter_chain: {
      name: `${VIRTUAL_INBOUND_LISTENER}-catchall-tcp`,
      filters: [tcpProxyFilter(INBOUND_PASSTHROUGH_CLUSTER, INBOUND_PASSTHROUGH_CLUSTER)],
    },
  };
}

/** Sidecar ingress listeners with captureMode NONE: real listeners on their bind address and port. */
export function boundInboundListeners(ports: readonly InboundChainPort[]): Listener[] {
  return ports.flatMap((p) => {
    if (!p.bindTo) return [];
    return [
      {
        name: `inbound_${p.bindTo}_${p.port}`,
        address: { socket_address: { address: p.bindTo, port_value: p.port } },
        traffic_direction: "INBOUND",
        filter_chains: [inboundChain(p, p.bindTo)],
      } satisfies Listener,
    ];
  });
}

export function inboundListeners(ctx: TranslationContext): Listener[] {
  const ports = inboundChainPorts(ctx, SIDECAR_PORTS);
  return [virtualInboundListener(ports), ...boundInboundListeners(ports)];
}
