// Server listeners for proxyless gRPC servers (gRFC A36, @grpc/grpc-js-xds
// `XdsServer`): a server bound to `IP:PORT` asks LDS for
// `grpc/server?xds.resource.listening_address=IP:PORT` (the template
// envoy/bootstrap.ts puts in the gRPC bootstrap) and serves only once that
// Listener arrives, with `address.socket_address` exactly its IP and port.
//
// Trellis does not know the server's IP (views are shared by every proxy with
// the same namespace and labels), so each port the workload serves (the
// services selecting its labels, as for sidecars: targetPort, else the port)
// gets the listeners of the wildcard binds `0.0.0.0:PORT` and `[::]:PORT`:
// bind the server to those.
//
// One default filter chain (gRPC ignores chains that match on ports, SNI,
// ALPN or a transport protocol other than raw_buffer), an inline route with
// `non_forwarding_action` (anything else fails RPCs), and the router (gRPC
// servers have no fault filter). Its transport follows the port's
// PeerAuthentication mode; gRPC cannot accept TLS and plaintext on one port,
// so PERMISSIVE becomes STRICT when the workload is labelled
// `security.istio.io/tlsMode: istio` (clients will use mTLS: sidecars by auto
// mTLS, proxyless clients by ISTIO_MUTUAL) and DISABLE otherwise, as Istio's
// gRPC generator decides. The certificate comes from the bootstrap's
// certificate provider (security/tls-context.ts).
import { httpConnectionManager, router } from "../../envoy/any.js";
import type { FilterChain } from "../../envoy/generated/envoy/config/listener/v3/FilterChain.js";
import type { Listener } from "../../envoy/generated/envoy/config/listener/v3/Listener.js";
import type { HttpFilter } from "../../envoy/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.js";
import type { TranslationContext } from "../context.js";
import { inboundPorts } from "../inbound.js";
import { httpAuthorizationFilters } from "../policy/authorization.js";
import { type MtlsMode, portMode, workloadMtls } from "../security/peer-authentication.js";
import { downstreamTlsSocket, proxylessDownstreamTlsContext } from "../security/tls-context.js";
import { hasSidecar } from "../security/tls-mode.js";
import { HCM_FILTER } from "./network-filters.js";

/** What `server_listener_resource_name_template` in the gRPC bootstrap expands to. */
export function grpcServerListenerName(hostPort: string): string {
  return `grpc/server?xds.resource.listening_address=${hostPort}`;
}

/** The binds a proxyless server gets listeners for: IPv4 and IPv6 wildcard (host for the Listener, host:port as bound). */
const WILDCARD_BINDS = [
  { host: "0.0.0.0", bound: (port: number) => `0.0.0.0:${port}` },
  { host: "::", bound: (port: number) => `[::]:${port}` },
] as const;

/** The mode a gRPC server can apply: TLS or plaintext, never both. */
export function grpcServerMode(mode: MtlsMode, labels: Readonly<Record<string, string>>): "STRICT" | "DISABLE" {
  if (mode === "PERMISSIVE") return hasSidecar(labels) ? "STRICT" : "DISABLE";
  return mode;
}

/**
 * The server's HTTP filters: gRPC servers implement router and RBAC only (no
 * fault); authorization policies for the port go before the router.
 */
export function grpcServerHttpFilters(ctx: TranslationContext, _port: number): HttpFilter[] {
  // AuthorizationPolicy RBAC (policy/authorization.ts, proxyless rules); gRPC needs GRPC_XDS_EXPERIMENTAL_RBAC=true.
  return [...httpAuthorizationFilters(ctx, true), { name: "envoy.filters.http.router", typed_config: router() }];
}

function serverChain(ctx: TranslationContext, port: number, mode: "STRICT" | "DISABLE"): FilterChain {
  const name = `inbound|grpc|${port}`;
  const chain: FilterChain = {
    name,
    filters: [
      {
        name: HCM_FILTER,
        typed_config: httpConnectionManager({
          stat_prefix: name,
          route_config: {
            name,
            virtual_hosts: [
              {
                name,
                domains: ["*"],
                routes: [{ name: "default", match: { prefix: "/" }, non_forwarding_action: {} }],
              },
            ],
          },
          http_filters: grpcServerHttpFilters(ctx, port),
        }),
      },
    ],
  };
  if (mode === "STRICT") chain.transport_socket = downstreamTlsSocket(proxylessDownstreamTlsContext());
  return chain;
}

export function grpcServerListeners(ctx: TranslationContext): Listener[] {
  if (ctx.proxy.class !== "proxyless-grpc") return [];
  const mtls = workloadMtls(ctx.peerAuthentication, ctx.proxy.namespace, ctx.proxy.labels);
  return inboundPorts(ctx)
    .filter((p) => p.protocol !== "UDP")
    .flatMap((p) => {
      const chain = serverChain(ctx, p.port, grpcServerMode(portMode(mtls, p.port), ctx.proxy.labels));
      return WILDCARD_BINDS.map(
        (b): Listener => ({
          name: grpcServerListenerName(b.bound(p.port)),
          address: { socket_address: { address: b.host, port_value: p.port } },
          default_filter_chain: chain,
        }),
      );
    });
}
