// Istio's mesh-wide defaults that shape every cluster. Trellis's MeshConfig
// does not carry these settings (yet), so Istio's default values apply
// (istio/pkg/config/mesh DefaultMeshConfig and pilot's cluster builder).

/** MeshConfig.connectTimeout. */
export const CONNECT_TIMEOUT = "10s";

/** MeshConfig.dnsRefreshRate: used only when a lookup fails; otherwise the record's TTL applies. */
export const DNS_REFRESH_RATE = { seconds: "60", nanos: 0 };

/** Circuit-breaker thresholds Istio sets where the DestinationRule says nothing: 2^32-1, i.e. no limit. */
export const MAX_UINT32 = 4_294_967_295;

/** Idle timeout of the passthrough cluster's upstream HTTP connections (Istio: 5 minutes). */
export const PASSTHROUGH_IDLE_TIMEOUT = { seconds: "300", nanos: 0 };

/**
 * Source address of the inbound clusters' connections to the application.
 * trellis-init exempts traffic from this address on `lo` from redirection (as
 * istio-iptables does), so Envoy can connect to the pod IP without looping back
 * into its own inbound listener.
 */
export const INBOUND_PASSTHROUGH_BIND = "127.0.0.6";

/**
 * The OS CA bundle in the stock Envoy image (Ubuntu based), used when a
 * DestinationRule originates TLS without `caCertificates`. Istio's agent
 * resolves "system" to this file; with no agent in the pod, Envoy reads it.
 */
export const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** MeshConfig.localityLbSetting: `enabled: true`, so outlier detection alone turns on locality failover. */
export const MESH_LOCALITY_LB_ENABLED = true;

/** Envoy's and gRPC's default minimum ring size, which Istio sets explicitly for consistentHash without ringHash/maglev. */
export const DEFAULT_MIN_RING_SIZE = 1024;

/** gRPC rejects rings larger than this (grpc-js-xds cluster validator, gRFC A42). */
export const GRPC_MAX_RING_SIZE = 8_388_608;
