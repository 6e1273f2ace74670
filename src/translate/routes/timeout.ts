// Route timeouts. Istio's default is 0s (no timeout) unless the route sets one.
// Sidecars: RouteAction.timeout, and for gRPC calls the grpc-timeout header
// capped by the same value (max_stream_duration.grpc_timeout_header_max, the
// replacement of the deprecated max_grpc_timeout Istio still writes; 0 = the
// header as sent). Proxyless gRPC reads only max_stream_duration (gRPC A31):
// max_stream_duration caps the call's deadline, 0 = the application's.
import type { RouteAction } from "../../envoy/generated/envoy/config/route/v3/RouteAction.js";
import type { ProxyClass } from "../context.js";
import { sharedDuration } from "../duration.js";

const NO_TIMEOUT = Object.freeze({ seconds: "0", nanos: 0 });

// Most routes have no timeout (every default route): their settings are shared
// (and frozen); callers spread them into the route action.
const PROXYLESS_NO_TIMEOUT = Object.freeze({
  timeout: NO_TIMEOUT,
  max_stream_duration: Object.freeze({ max_stream_duration: NO_TIMEOUT }),
});
const SIDECAR_NO_TIMEOUT = Object.freeze({
  timeout: NO_TIMEOUT,
  max_stream_duration: Object.freeze({ grpc_timeout_header_max: NO_TIMEOUT }),
});

export function routeTimeout(
  timeout: string | undefined,
  proxyClass: ProxyClass,
): Pick<RouteAction, "timeout" | "max_stream_duration"> {
  if (!timeout) return proxyClass === "proxyless-grpc" ? PROXYLESS_NO_TIMEOUT : SIDECAR_NO_TIMEOUT;
  const d = sharedDuration(timeout);
  return proxyClass === "proxyless-grpc"
    ? { timeout: d, max_stream_duration: { max_stream_duration: d } }
    : { timeout: d, max_stream_duration: { grpc_timeout_header_max: d } };
}
