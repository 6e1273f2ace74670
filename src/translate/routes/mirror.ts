// mirror / mirrors / mirrorPercentage → RouteAction.request_mirror_policies
// (sidecars only: gRPC clients do not mirror). As in Istio: `mirror` with
// mirrorPercentage (or the deprecated integer mirrorPercent), else 100%; each
// of `mirrors` with its own percentage, else 100%; an explicit 0% mirrors
// nothing. Mirrored requests are not trace-sampled.
import type { HTTPRoute } from "../../config/networking/virtual-service.js";
import type { _envoy_config_route_v3_RouteAction_RequestMirrorPolicy as RequestMirrorPolicy } from "../../envoy/generated/envoy/config/route/v3/RouteAction.js";
import type { FractionalPercent } from "../../envoy/generated/envoy/type/v3/FractionalPercent.js";
import { destinationCluster } from "./destination.js";
import { integerPercentOf, percentOf } from "./percent.js";
import type { RouteScope } from "./scope.js";

function mirrorFraction(http: HTTPRoute): FractionalPercent | undefined {
  if (http.mirrorPercentage) {
    const v = http.mirrorPercentage.value ?? 0;
    return v > 0 ? percentOf(v) : undefined;
  }
  if (http.mirrorPercent !== undefined)
    return http.mirrorPercent > 0 ? integerPercentOf(http.mirrorPercent) : undefined;
  return integerPercentOf(100);
}

export function mirrorPolicies(scope: RouteScope, http: HTTPRoute, namespace: string): RequestMirrorPolicy[] {
  const out: RequestMirrorPolicy[] = [];
  const policy = (cluster: string, fraction: FractionalPercent): RequestMirrorPolicy => ({
    cluster,
    runtime_fraction: { default_value: fraction },
    trace_sampled: { value: false },
  });
  if (http.mirror) {
    const fraction = mirrorFraction(http);
    if (fraction) out.push(policy(destinationCluster(scope, http.mirror, namespace).name, fraction));
  }
  for (const m of http.mirrors ?? []) {
    const v = m.percentage ? (m.percentage.value ?? 0) : 100;
    if (v > 0) out.push(policy(destinationCluster(scope, m.destination, namespace).name, percentOf(v)));
  }
  return out;
}
