// The cluster under construction together with its upstream HTTP protocol
// options (envoy.extensions.upstreams.http.v3.HttpProtocolOptions), which
// several features write into (protocol, connection pool, TLS auto SNI) and
// which are packed into typed_extension_protocol_options once at the end.
import { packAny } from "../../envoy/any.js";
import type { Cluster } from "../../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import type { Http2ProtocolOptions } from "../../envoy/generated/envoy/config/core/v3/Http2ProtocolOptions.js";
import type { HttpProtocolOptions } from "../../envoy/generated/envoy/extensions/upstreams/http/v3/HttpProtocolOptions.js";
import type { Protocol } from "../../model/protocol.js";

export const HTTP_PROTOCOL_OPTIONS_KEY = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
const HTTP_PROTOCOL_OPTIONS_TYPE_URL = `type.googleapis.com/${HTTP_PROTOCOL_OPTIONS_KEY}`;

export interface ClusterDraft {
  cluster: Cluster;
  http?: HttpProtocolOptions;
}

/** Istio's IsHTTP2: gRPC-Web is carried over HTTP/2 to the upstream as well. */
export function upstreamIsHttp2(p: Protocol): boolean {
  return p === "HTTP2" || p === "GRPC" || p === "GRPC-WEB";
}

function httpOf(d: ClusterDraft): HttpProtocolOptions {
  d.http ??= {};
  return d.http;
}

/** Speak HTTP/2 to the upstream (unless an upstream protocol was already chosen). */
export function setHttp2(d: ClusterDraft): void {
  const http = httpOf(d);
  if (!http.explicit_http_config && !http.use_downstream_protocol_config) {
    http.explicit_http_config = { http2_protocol_options: {} };
  }
}

/** Use the downstream's protocol upstream (DestinationRule `useClientProtocol`). */
export function setUseDownstreamProtocol(d: ClusterDraft): void {
  const http = httpOf(d);
  const h1 = http.explicit_http_config?.http_protocol_options ?? {};
  delete http.explicit_http_config;
  http.use_downstream_protocol_config = { http_protocol_options: h1, http2_protocol_options: {} };
}

/** The HTTP/2 options in effect, if the cluster speaks (or may speak) HTTP/2 upstream. */
export function http2Options(d: ClusterDraft): Http2ProtocolOptions | undefined {
  return (
    d.http?.explicit_http_config?.http2_protocol_options ??
    d.http?.use_downstream_protocol_config?.http2_protocol_options ??
    undefined
  );
}

export function commonHttpOptions(d: ClusterDraft): NonNullable<HttpProtocolOptions["common_http_protocol_options"]> {
  const http = httpOf(d);
  http.common_http_protocol_options ??= {};
  return http.common_http_protocol_options;
}

export function upstreamHttpOptions(
  d: ClusterDraft,
): NonNullable<HttpProtocolOptions["upstream_http_protocol_options"]> {
  const http = httpOf(d);
  http.upstream_http_protocol_options ??= {};
  return http.upstream_http_protocol_options;
}

/** The finished cluster, with the HTTP protocol options packed in if any were set. */
export function finish(d: ClusterDraft): Cluster {
  if (d.http && Object.keys(d.http).length > 0) {
    let http = d.http;
    if (!http.explicit_http_config && !http.use_downstream_protocol_config && !http.auto_config) {
      // HttpProtocolOptions.upstream_protocol_options is a required oneof (PGV `option
      // (validate.required) = true`), and so is ExplicitHttpConfig.protocol_config: with only
      // common/upstream options set (idle timeout, auto SNI on an HTTP/1.1 or TCP cluster) Envoy
      // rejects the cluster. Say HTTP/1.1 explicitly, which is what Envoy speaks upstream anyway.
      http = { ...http, explicit_http_config: { http_protocol_options: {} } };
    }
    d.cluster.typed_extension_protocol_options = {
      [HTTP_PROTOCOL_OPTIONS_KEY]: packAny(HTTP_PROTOCOL_OPTIONS_TYPE_URL, http),
    };
  }
  return d.cluster;
}
