// HTTPDirectResponse → Envoy DirectResponseAction (sidecars only: gRPC clients
// cannot answer a call themselves). Bodies up to 1 MiB, Istio's limit; the
// sidecar route configuration raises Envoy's 4 KiB default to match.
import type { HTTPDirectResponse } from "../../config/networking/virtual-service.js";
import type { DirectResponseAction } from "../../envoy/generated/envoy/config/route/v3/DirectResponseAction.js";

export const MAX_DIRECT_RESPONSE_BODY_BYTES = 1024 * 1024;

export function directResponseBodyBytes(d: HTTPDirectResponse): number {
  if (d.body?.string !== undefined) return Buffer.byteLength(d.body.string, "utf8");
  if (d.body?.bytes !== undefined) return Buffer.from(d.body.bytes, "base64").length;
  return 0;
}

export function directResponseAction(d: HTTPDirectResponse): DirectResponseAction {
  const out: DirectResponseAction = { status: d.status };
  if (d.body?.string !== undefined) out.body = { inline_string: d.body.string };
  else if (d.body?.bytes !== undefined) out.body = { inline_bytes: d.body.bytes };
  return out;
}
