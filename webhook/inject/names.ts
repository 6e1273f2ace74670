// Names, ports and paths of what injection adds to a pod. Istio's port
// conventions (DESIGN.md, "Compatibility decisions"); the Envoy-side ports come
// from the bootstrap generator so the probes and the listeners cannot drift.
import { ENVOY_ADMIN_PORT, ENVOY_READINESS_PORT, ENVOY_STATS_PORT } from "../../src/envoy/bootstrap.js";

export const PROXY_CONTAINER = "trellis-proxy";
export const INIT_CONTAINER = "trellis-init";

/** Envoy and everything it starts run as this UID and GID; trellis-init exempts their traffic from capture. */
export const PROXY_UID = 1337;
export const PROXY_GID = 1337;

export const OUTBOUND_CAPTURE_PORT = 15001;
export const INBOUND_CAPTURE_PORT = 15006;
export { ENVOY_ADMIN_PORT, ENVOY_READINESS_PORT, ENVOY_STATS_PORT };

/** TCP ports Envoy binds in the pod's network namespace: an application container must not use them. */
export const PROXY_PORTS: readonly number[] = [
  ENVOY_ADMIN_PORT,
  OUTBOUND_CAPTURE_PORT,
  INBOUND_CAPTURE_PORT,
  ENVOY_READINESS_PORT,
  ENVOY_STATS_PORT,
];

export const VOLUME = {
  /** Projected service-account token the proxy presents to the control plane. */
  token: "trellis-token",
  /** In-memory directory for the workload's certificates. */
  certs: "trellis-certs",
  /** The mesh root CA, from the ConfigMap the control plane writes into every namespace. */
  caRootCert: "trellis-ca-root-cert",
} as const;

export const TOKEN_DIR = "/var/run/secrets/trellis/tokens";
/** File name of the token inside TOKEN_DIR. */
export const TOKEN_FILE = "xds-token";
export const CERTS_DIR = "/etc/trellis/certs";
export const CA_DIR = "/var/run/secrets/trellis/ca";
export const CA_CONFIGMAP = "trellis-ca-root-cert";
export const TOKEN_EXPIRATION_SECONDS = 3600;

/** Labels Istio adds to injected pods (used by mTLS auto-detection and telemetry), set only when absent. */
export const LABEL = {
  tlsMode: "security.istio.io/tlsMode",
  canonicalName: "service.istio.io/canonical-name",
  canonicalRevision: "service.istio.io/canonical-revision",
} as const;
