// The outbound HTTP filter chain: an HttpConnectionManager that takes its
// routes over ADS from the route configuration shared by every HTTP service on
// the port (`sidecarRouteName(port)`), with Istio's sidecar-outbound settings.
// On a 0.0.0.0 listener the chain is matched by the ALPN the HTTP inspector
// detects, so non-HTTP traffic on the same port (to a destination the mesh
// does not know) falls through to the passthrough chain instead of being
// parsed as HTTP.
import type { HttpConnectionManager } from "../../envoy/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.js";
import type { TranslationContext } from "../context.js";
import { httpFilters } from "../filters/http-filters.js";
import { type PathNormalization, pathNormalization } from "../filters/path-normalization.js";
import { sidecarRouteName } from "../names.js";
import { type ChainOpts, PLAINTEXT_HTTP_ALPNS, RAW_BUFFER } from "./filter-chains.js";
import { hcmFilter, ZERO_DURATION } from "./network-filters.js";

/** HCM settings Istio uses on both sides of a sidecar; paths normalised as MeshConfig says (filters/path-normalization.ts). */
export function sidecarHcmDefaults(normalization?: PathNormalization): HttpConnectionManager {
  return {
    codec_type: "AUTO",
    // Requests keep the client's own view of trusted addresses: the app is the peer, not an edge.
    use_remote_address: { value: false },
    ...pathNormalization(normalization),
    upgrade_configs: [{ upgrade_type: "websocket" }],
    // Long-lived streams (gRPC streaming, websockets) are not cut by Envoy's 5 min default.
    stream_idle_timeout: ZERO_DURATION,
  };
}

export function outboundHttpChain(
  ctx: TranslationContext,
  listenerName: string,
  port: number,
  sniffed: boolean,
): ChainOpts {
  const hcm: HttpConnectionManager = {
    stat_prefix: `outbound_${listenerName}`,
    ...sidecarHcmDefaults(ctx.mesh.pathNormalization.normalization),
    rds: {
      route_config_name: sidecarRouteName(port),
      // initial_fetch_timeout 0: the listener waits for its routes instead of serving 404s meanwhile.
      config_source: { ads: {}, initial_fetch_timeout: ZERO_DURATION, resource_api_version: "V3" },
    },
    http_filters: httpFilters(ctx.proxy.class),
  };
  return sniffed
    ? {
        applicationProtocols: PLAINTEXT_HTTP_ALPNS,
        transportProtocol: RAW_BUFFER,
        filters: [hcmFilter(hcm)],
      }
    : { filters: [hcmFilter(hcm)] };
}
