// Istio's protocol selection for a service port: an explicit protocol (the
// ServiceEntry `protocol` field or Kubernetes `appProtocol`) wins; otherwise
// the port name `<protocol>[-<suffix>]` decides; otherwise the protocol is
// unknown (Istio sniffs it; Trellis treats it as TCP and reports it).

export type Protocol =
  | "HTTP"
  | "HTTP2"
  | "HTTPS"
  | "GRPC"
  | "GRPC-WEB"
  | "TCP"
  | "TLS"
  | "MONGO"
  | "MYSQL"
  | "REDIS"
  | "UDP"
  | "UNKNOWN";

const KNOWN = new Set<Protocol>([
  "HTTP",
  "HTTP2",
  "HTTPS",
  "GRPC",
  "GRPC-WEB",
  "TCP",
  "TLS",
  "MONGO",
  "MYSQL",
  "REDIS",
  "UDP",
]);

/** Kubernetes appProtocol values Istio understands beyond its own protocol names. */
const APP_PROTOCOL: Record<string, Protocol> = {
  "kubernetes.io/h2c": "HTTP2",
  "kubernetes.io/ws": "HTTP",
  "kubernetes.io/wss": "HTTPS",
};

function normalise(p: string | undefined): Protocol | undefined {
  if (!p) return undefined;
  const mapped = APP_PROTOCOL[p.toLowerCase()];
  if (mapped) return mapped;
  const up = p.toUpperCase() as Protocol;
  return KNOWN.has(up) ? up : undefined;
}

export function selectProtocol(port: { protocol?: string; appProtocol?: string; name?: string }): Protocol {
  const explicit = normalise(port.protocol) ?? normalise(port.appProtocol);
  if (explicit) return explicit;
  const prefix = port.name?.split("-")[0];
  return normalise(prefix) ?? "UNKNOWN";
}

/** Protocols carried over an HTTP connection manager (routes, retries, faults apply). */
export function isHttp(p: Protocol): boolean {
  return p === "HTTP" || p === "HTTP2" || p === "GRPC" || p === "GRPC-WEB";
}

/** Protocols that need HTTP/2 to the upstream. */
export function isHttp2(p: Protocol): boolean {
  return p === "HTTP2" || p === "GRPC";
}

/** TLS passthrough protocols, routed by SNI. */
export function isTls(p: Protocol): boolean {
  return p === "HTTPS" || p === "TLS";
}
