// Route timeouts. Istio's default is 0s (no timeout) unless the route sets one.
// Sidecars: RouteAction.timeout, and for gRPC calls the grpc-timeout header
// capped by the same value (max_stream_duration.grpc_timeout_header_max, the
// replacement of the deprecated max_grpc_timeout Istio still writes; 0 = the
// header as sent). Proxyless gRPC reads only max_stream_duration (gRPC A31):
// max_stream_duration caps the call's deadline, 0 = the application's.
import type { RouteAction } from "../../envoy/generated/envoy/config/route/v3/RouteAction.js";
import type { ProxyClass } from "../context.js";
import { protoDuration } from "../duration.js";

const NO_TIMEOUT = { seconds: "0", nanos: 0 };

export function routeTimeout(
  timeout: string | undefined,
  proxyClass: ProxyClass,
): Pick<RouteAction, "timeout" | "max_stream_duration"> {
  const d = timeout ? protoDuration(timeout) : NO_TIMEOUT;
  return proxyClass === "proxyless-grpc"
    ? { timeout: d, max_stream_duration: { max_stream_duration: d } }
    : { timeout: d, max_stream_duration: { grpc_timeout_header_max: d } };
}
