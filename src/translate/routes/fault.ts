// HTTPFaultInjection → per-route config of the fault filter
// (typed_per_filter_config["envoy.filters.http.fault"]), for sidecars and
// proxyless gRPC (grpc-js implements it). As in Istio: a fixed delay, an abort
// with an HTTP status or a gRPC status; exponentialDelay and http2Error are
// not supported (analyze reports them) and are left out. The percentage is
// always written (grpc-js rejects a fault without one): unset means 0%, which
// is what Envoy does with Istio's output.
import type { HTTPFaultInjection } from "../../config/networking/virtual-service.js";
import { packAny } from "../../envoy/any.js";
import type { FaultDelay } from "../../envoy/generated/envoy/extensions/filters/common/fault/v3/FaultDelay.js";
import type { FaultAbort } from "../../envoy/generated/envoy/extensions/filters/http/fault/v3/FaultAbort.js";
import type { HTTPFault } from "../../envoy/generated/envoy/extensions/filters/http/fault/v3/HTTPFault.js";
import type { Any } from "../../envoy/generated/google/protobuf/Any.js";
import { protoDuration } from "../duration.js";
import { grpcStatusCode } from "./grpc-status.js";
import { integerPercentOf, percentOf } from "./percent.js";

export const HTTP_FAULT_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";

export function isAbortStatus(status: number): boolean {
  return status >= 200 && status < 600;
}

function delayOf(f: HTTPFaultInjection): FaultDelay | undefined {
  const d = f.delay;
  if (!d?.fixedDelay) return undefined;
  return {
    fixed_delay: protoDuration(d.fixedDelay),
    percentage: d.percentage ? percentOf(d.percentage.value ?? 0) : integerPercentOf(d.percent ?? 0),
  };
}

function abortOf(f: HTTPFaultInjection): FaultAbort | undefined {
  const a = f.abort;
  if (!a) return undefined;
  const percentage = percentOf(a.percentage?.value ?? 0);
  if (a.httpStatus !== undefined) {
    // Envoy rejects a status outside [200, 600) (analyze reports it).
    return isAbortStatus(a.httpStatus) ? { http_status: a.httpStatus, percentage } : undefined;
  }
  if (a.grpcStatus !== undefined) {
    const code = grpcStatusCode(a.grpcStatus);
    return code === undefined ? undefined : { grpc_status: code, percentage };
  }
  return undefined;
}

/** The fault filter's per-route config, or undefined when nothing of the fault can be injected. */
export function faultConfig(f: HTTPFaultInjection): Any | undefined {
  const out: HTTPFault = {};
  const delay = delayOf(f);
  const abort = abortOf(f);
  if (delay) out.delay = delay;
  if (abort) out.abort = abort;
  if (!delay && !abort) return undefined;
  return packAny<HTTPFault>(HTTP_FAULT_TYPE_URL, out);
}
