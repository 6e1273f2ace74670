// gRPC status names as Istio accepts them in `fault.abort.grpcStatus`
// (istio/pkg/util/grpc SupportedGRPCStatus), with their codes.
const CODES: Record<string, number> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/** The numeric code of a gRPC status name ("UNAVAILABLE") or number ("14"); undefined if unknown. */
export function grpcStatusCode(s: string): number | undefined {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n <= 16 ? n : undefined;
  }
  return CODES[s.toUpperCase()];
}
