// translate/ is pure: (snapshot, proxy class) → Envoy resources + diagnostics.
// No I/O, no clocks, no globals. It imports model/, config/ (types) and
// envoy/ (types), never xds/.
import type { Cluster } from "../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import type { ClusterLoadAssignment } from "../envoy/generated/envoy/config/endpoint/v3/ClusterLoadAssignment.js";
import type { Listener } from "../envoy/generated/envoy/config/listener/v3/Listener.js";
import type { RouteConfiguration } from "../envoy/generated/envoy/config/route/v3/RouteConfiguration.js";
import type { Diagnostic } from "../model/diagnostic.js";
import { buildRegistry, refOf, type ServiceRegistry } from "../model/services.js";
import type { MeshSnapshot } from "../model/snapshot.js";
import { edsCluster } from "./clusters/eds-cluster.js";
import { TRANSLATE_CODES } from "./codes.js";
import { loadAssignment } from "./endpoints/load-assignment.js";
import { apiListener } from "./listeners/api-listener.js";
import { apiListenerName, outboundClusterName } from "./names.js";
import { apiRouteConfiguration } from "./routes/api-route.js";

/**
 * Which generator a proxy gets. Proxyless gRPC clients get API listeners;
 * Envoy sidecars get clusters and endpoints (their listeners come with the
 * traffic-management translators).
 */
export type ProxyClass = "proxyless-grpc" | "sidecar";

export interface Translation {
  listeners: Listener[];
  routes: RouteConfiguration[];
  clusters: Cluster[];
  endpoints: ClusterLoadAssignment[];
}

/** Translates what every proxy of a class sees. Pure; callers cache per (snapshot, class). */
export function translate(registry: ServiceRegistry, proxyClass: ProxyClass): Translation {
  const out: Translation = { listeners: [], routes: [], clusters: [], endpoints: [] };
  for (const svc of registry.services) {
    for (const port of svc.ports) {
      const clusterName = outboundClusterName(svc.host, port.number);
      out.clusters.push(edsCluster(clusterName));
      out.endpoints.push(loadAssignment(clusterName, port.number, svc.endpoints));
      if (proxyClass === "proxyless-grpc") {
        const name = apiListenerName(svc.host, port.number);
        out.listeners.push(apiListener(name, name));
        out.routes.push(apiRouteConfiguration(name, svc.host, port.number, clusterName));
      }
    }
  }
  return out;
}

const TRANSLATED_KINDS = new Set(["ServiceEntry", "WorkloadEntry"]);
const SERVICE_ENTRY_FIELDS_NOT_HONOURED = ["addresses", "exportTo", "subjectAltNames"] as const;

/**
 * What the user wrote that this version does not act on yet, so nothing is
 * silently ignored: whole kinds, and fields of the kinds that are translated.
 */
export function unsupportedDiagnostics(snapshot: MeshSnapshot): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const s of snapshot.objects) {
    const o = s.object;
    if (!TRANSLATED_KINDS.has(o.kind)) {
      out.push({
        code: TRANSLATE_CODES.kindNotTranslated,
        severity: "warning",
        object: refOf(s),
        message: `${o.kind} is validated but not yet translated into proxy configuration by this version of Trellis`,
      });
      continue;
    }
    if (o.kind === "ServiceEntry") {
      const spec = o.spec as Record<string, unknown>;
      for (const f of SERVICE_ENTRY_FIELDS_NOT_HONOURED) {
        if (spec[f] !== undefined) {
          out.push({
            code: TRANSLATE_CODES.fieldNotHonoured,
            severity: "warning",
            object: refOf(s),
            field: `spec.${f}`,
            message: `spec.${f} is not honoured yet; the service is served without it`,
          });
        }
      }
      const resolution = spec.resolution ?? "NONE";
      if (resolution === "DNS" || resolution === "DNS_ROUND_ROBIN" || resolution === "DYNAMIC_DNS") {
        out.push({
          code: TRANSLATE_CODES.resolutionUnsupported,
          severity: "warning",
          object: refOf(s),
          field: "spec.resolution",
          message: `resolution ${resolution} is not translated yet; only endpoints with IP addresses are served`,
        });
      }
    }
  }
  return out;
}

/** Everything a snapshot produces for a class, with every diagnostic. */
export function translateSnapshot(
  snapshot: MeshSnapshot,
  proxyClass: ProxyClass,
): Translation & { diagnostics: Diagnostic[] } {
  const registry = buildRegistry(snapshot);
  return {
    ...translate(registry, proxyClass),
    diagnostics: [...registry.diagnostics, ...unsupportedDiagnostics(snapshot)],
  };
}
