// Type URLs of the xDS resource types Trellis serves, and their push order.

export const TYPE_PREFIX = "type.googleapis.com/";

export const LISTENER = "type.googleapis.com/envoy.config.listener.v3.Listener";
export const ROUTE = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
export const CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
export const ENDPOINT = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
export const SECRET = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";

export type XdsTypeUrl = typeof LISTENER | typeof ROUTE | typeof CLUSTER | typeof ENDPOINT | typeof SECRET;

export const XDS_TYPES: readonly XdsTypeUrl[] = [CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET];

/**
 * Make-before-break order (xDS spec, "eventual consistency considerations"):
 * CDS, then EDS for those clusters, then LDS, then RDS; SDS before the
 * listeners and clusters that reference secrets would be ideal, but Envoy
 * warms on SDS, so secrets go first.
 */
export const PUSH_ORDER: readonly XdsTypeUrl[] = [SECRET, CLUSTER, ENDPOINT, LISTENER, ROUTE];

/** LDS and CDS are state-of-the-world in SotW: every response carries the full set, and wildcard is allowed. */
export function isFullStateType(typeUrl: string): boolean {
  return typeUrl === LISTENER || typeUrl === CLUSTER;
}

export function shortTypeName(typeUrl: string): string {
  switch (typeUrl) {
    case LISTENER:
      return "LDS";
    case ROUTE:
      return "RDS";
    case CLUSTER:
      return "CDS";
    case ENDPOINT:
      return "EDS";
    case SECRET:
      return "SDS";
    default:
      return typeUrl.startsWith(TYPE_PREFIX) ? typeUrl.slice(TYPE_PREFIX.length) : typeUrl;
  }
}

export function messageNameOf(typeUrl: string): string {
  return typeUrl.startsWith(TYPE_PREFIX) ? typeUrl.slice(TYPE_PREFIX.length) : typeUrl;
}
