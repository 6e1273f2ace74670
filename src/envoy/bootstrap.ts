// envoy/bootstrap.ts owns the bootstrap configs Trellis hands to its clients:
// the Envoy v3 Bootstrap for injected sidecars and the JSON bootstrap file of
// proxyless gRPC (@grpc/grpc-js-xds). Pure functions of their options, no I/O.
// Istio's port conventions are the defaults (DESIGN.md, "Compatibility decisions").
// It must not import xds/, translate/ or config/.
import { isIP } from "node:net";
import type { JsonObject, JsonValue } from "./proto-json.js";

/** Envoy admin, bound to localhost only. */
export const ENVOY_ADMIN_PORT = 15000;
/** Envoy's Prometheus stats, served at /stats/prometheus. */
export const ENVOY_STATS_PORT = 15090;
/** Envoy readiness, served at /healthz/ready. */
export const ENVOY_READINESS_PORT = 15021;

/** Names of the static resources in the Envoy bootstrap; xDS must not reuse them (Envoy refuses to replace a static resource). */
export const XDS_CLUSTER = "xds-grpc";
export const ADMIN_CLUSTER = "prometheus_stats";
export const STATS_LISTENER = "prometheus_stats";
export const READINESS_LISTENER = "readiness";

export const STATS_PATH = "/stats/prometheus";
export const READINESS_PATH = "/healthz/ready";

const T = "type.googleapis.com/";
const HCM_TYPE = `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
const ROUTER_TYPE = `${T}envoy.extensions.filters.http.router.v3.Router`;
const HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
const FILE_ACCESS_LOG_TYPE = `${T}envoy.extensions.access_loggers.file.v3.FileAccessLog`;
const UPSTREAM_TLS_TYPE = `${T}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`;
const SECRET_TYPE = `${T}envoy.extensions.transport_sockets.tls.v3.Secret`;
const CREDENTIAL_INJECTOR_TYPE = `${T}envoy.extensions.filters.http.credential_injector.v3.CredentialInjector`;
const GENERIC_CREDENTIAL_TYPE = `${T}envoy.extensions.http.injected_credentials.generic.v3.Generic`;
const UPSTREAM_CODEC_TYPE = `${T}envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec`;
const FILE_BASED_METADATA_TYPE = `${T}envoy.config.grpc_credential.v3.FileBasedMetadataConfig`;

// ---- authenticated xDS (docs/security.md, "Authenticating proxies") --------
//
// A sidecar reaches the control plane over TLS (15012), verifies its
// certificate against the mesh root, and presents its projected
// service-account token, re-read whenever the kubelet rotates it. Stock Envoy
// does both from files, through SDS secrets loaded from the filesystem:
// - the root: SDS file XDS_TRUST_SDS_FILE (a validation context holding the
//   bundle), in the ConfigMap trellis-ca-root-cert that the control plane
//   writes into every namespace and the injector mounts at XDS_CA_DIR. The
//   directory is watched (`watched_directory`), so a root rotation — the kubelet
//   swapping the ConfigMap's `..data` link — reaches Envoy without a restart.
// - the token: SDS file XDS_TOKEN_SDS_FILE (same ConfigMap) names a generic
//   secret whose value is the token file; the upstream HTTP filter
//   credential_injector on the xds-grpc cluster puts it into the `authorization`
//   header of the ADS stream. Envoy watches a generic secret's file since 1.34.0
//   (envoy#38803): the minimum Envoy version for authenticated xDS.

/** Where the injector mounts ConfigMap trellis-ca-root-cert (the root and the two SDS files below). */
export const XDS_CA_DIR = "/var/run/secrets/trellis/ca";
/** The pod's projected service-account token for the control plane (audience "trellis"), as the injector mounts it. */
export const XDS_TOKEN_PATH = "/var/run/secrets/trellis/tokens/xds-token";
/** Keys of ConfigMap trellis-ca-root-cert: the mesh root(s), and the SDS files Envoy's bootstrap reads. */
export const ROOT_CERT_FILE = "root-cert.pem";
export const XDS_TRUST_SDS_FILE = "xds-trust-sds.json";
export const XDS_TOKEN_SDS_FILE = "xds-token-sds.json";
/** Names of the two file-based SDS secrets (separate from the `default`/`ROOTCA` served over ADS). */
export const XDS_TRUST_SECRET = "trellis-xds-trust";
export const XDS_TOKEN_SECRET = "trellis-xds-token";

/**
 * How the sidecar sends its token: `credential-injector` (default; Envoy >= 1.34.0,
 * stays on Envoy's own gRPC client) or `google-grpc` (the Google C++ gRPC client
 * with file-based call credentials: re-reads the token for every stream, but
 * reads the root CA only at start, so a root rotation needs a restart; for Envoy
 * builds older than 1.34 that include Google gRPC).
 */
export type XdsTokenMechanism = "credential-injector" | "google-grpc";

export interface XdsTlsOptions {
  /**
   * The name the control plane's certificate must carry (checked as a DNS SAN, or
   * an IP SAN for an IP), also sent as SNI. Default: the host of `xdsAddress`.
   */
  serverName?: string;
  /** Directory holding ROOT_CERT_FILE and the SDS files (default XDS_CA_DIR). */
  caDir?: string;
  /** Default "credential-injector". */
  tokenMechanism?: XdsTokenMechanism;
  /** The token file, for `google-grpc` (credential-injector reads it from XDS_TOKEN_SDS_FILE). Default XDS_TOKEN_PATH. */
  tokenPath?: string;
}

/**
 * The files Envoy's bootstrap reads from `caDir` (the ConfigMap
 * trellis-ca-root-cert's data): the bundle as PEM and the two SDS files, as
 * DiscoveryResponse JSON (Envoy's path_config_source format).
 */
export function xdsAuthFiles(trustBundlePem: string, tokenPath = XDS_TOKEN_PATH): Record<string, string> {
  const file = (resource: JsonObject) => `${JSON.stringify({ resources: [resource] }, null, 2)}\n`;
  return {
    [ROOT_CERT_FILE]: trustBundlePem,
    [XDS_TRUST_SDS_FILE]: file({
      "@type": SECRET_TYPE,
      name: XDS_TRUST_SECRET,
      validation_context: { trusted_ca: { inline_string: trustBundlePem } },
    }),
    [XDS_TOKEN_SDS_FILE]: file({
      "@type": SECRET_TYPE,
      name: XDS_TOKEN_SECRET,
      generic_secret: { secret: { filename: tokenPath } },
    }),
  };
}

export interface Locality {
  region?: string;
  zone?: string;
  sub_zone?: string;
}

/** GRPC is state-of-the-world ADS, DELTA_GRPC incremental ADS. */
export type AdsApiType = "GRPC" | "DELTA_GRPC";

export interface EnvoyBootstrapOptions {
  /** node.id, e.g. `sidecar~10.1.2.3~reviews-v1-abc.default~default.svc.cluster.local`. */
  nodeId: string;
  /** node.cluster, e.g. `reviews.default`. */
  cluster?: string;
  /** node.metadata: whatever the caller knows of the workload (pod name, namespace, labels, service account, IPs, ports), as JSON. */
  metadata?: Record<string, unknown>;
  locality?: Locality;
  /** The control plane's xDS address, `host:port` or `[ipv6]:port`. */
  xdsAddress: string;
  /** Default DELTA_GRPC. */
  apiType?: AdsApiType;
  /** Default 15000. */
  adminPort?: number;
  /** Default 15090. */
  statsPort?: number;
  /** Default 15021. */
  readinessPort?: number;
  /** Connect timeout to the control plane, a proto3 JSON duration. Default "1s". */
  xdsConnectTimeout?: string;
  /** If set, admin requests are logged to this path (e.g. "/dev/stdout"); by default they are not logged. */
  adminAccessLogPath?: string;
  /**
   * xDS over TLS with the pod's service-account token (what injected sidecars use).
   * Unset: plaintext, for a development control plane.
   */
  tls?: XdsTlsOptions;
}

export interface GrpcBootstrapOptions {
  nodeId: string;
  cluster?: string;
  metadata?: Record<string, unknown>;
  locality?: Locality;
  /** The control plane's xDS address, as a gRPC target (`host:port`, `dns:///host:port`). */
  xdsAddress: string;
  /** Default ["xds_v3"]. */
  serverFeatures?: string[];
  /**
   * The workload's certificate files, for Istio mutual TLS (gRFC A29): declared as
   * certificate provider instance `default` (plugin `file_watcher`), which the
   * clusters and server listeners Trellis sends to proxyless gRPC name. Without it,
   * a proxyless client NACKs any cluster that asks for mTLS (DestinationRule
   * ISTIO_MUTUAL) and an xDS server any listener that does.
   */
  certificateProviders?: GrpcCertificateFiles;
}

/** PEM files a proxyless gRPC workload reads its identity and the mesh root from (re-read every `refreshInterval`). */
export interface GrpcCertificateFiles {
  certificateFile: string;
  privateKeyFile: string;
  caCertificateFile: string;
  /** A proto3 JSON duration; default "900s" (Istio's). */
  refreshInterval?: string;
}

/** Certificate provider instance name: the one the translated TLS contexts refer to. */
export const GRPC_CERT_PROVIDER_INSTANCE = "default";

/** Istio's file names in a certificate directory (what `trellis bootstrap --grpc --cert-dir` expects). */
export const GRPC_CERT_DIR_FILES = {
  certificateFile: "cert-chain.pem",
  privateKeyFile: "key.pem",
  caCertificateFile: "root-cert.pem",
} as const;

export type HostPort = { host: string; port: number };

/** Parses `host:port` or `[ipv6]:port`. */
export function parseHostPort(address: string): { ok: true; value: HostPort } | { ok: false; errors: string[] } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || host === undefined || host === "") {
    return { ok: false, errors: [`"${address}" is not host:port (use [addr]:port for IPv6)`] };
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return { ok: false, errors: [`port in "${address}" must be 1-65535`] };
  }
  if (m[1] !== undefined && isIP(host) !== 6) return { ok: false, errors: [`"${host}" is not an IPv6 address`] };
  return { ok: true, value: { host, port } };
}

/**
 * The Envoy v3 Bootstrap for a sidecar, as proto3 JSON with snake_case names
 * (write it as JSON or YAML and pass it with `envoy -c`). It is in canonical
 * form, as Envoy's own /config_dump prints it: fields holding their default
 * are left out, unless they are a oneof choice (a cluster's `type`).
 *
 * Throws if `xdsAddress` is not host:port; validate user input with
 * parseHostPort first.
 */
export function envoyBootstrap(opts: EnvoyBootstrapOptions): JsonObject {
  const xds = hostPortOrThrow(opts.xdsAddress);
  const adminPort = opts.adminPort ?? ENVOY_ADMIN_PORT;
  // The control plane does not answer until it has a first config for this proxy, and the
  // readiness listener asks Envoy's /ready, which is LIVE only once initial LDS/CDS arrived.
  // initial_fetch_timeout "0s" makes Envoy wait for them instead of going LIVE after 15 s
  // with no config, the way Istio's bootstrap does.
  const adsSource = { ads: {}, initial_fetch_timeout: "0s", resource_api_version: "V3" };
  return {
    node: node(opts),
    admin: {
      address: socketAddress("127.0.0.1", adminPort),
      ...(opts.adminAccessLogPath === undefined
        ? {}
        : {
            access_log: [
              {
                name: "envoy.access_loggers.file",
                typed_config: { "@type": FILE_ACCESS_LOG_TYPE, path: opts.adminAccessLogPath },
              },
            ],
          }),
    },
    dynamic_resources: {
      lds_config: adsSource,
      cds_config: adsSource,
      ads_config: {
        api_type: opts.apiType ?? "DELTA_GRPC",
        transport_api_version: "V3",
        grpc_services: [
          opts.tls?.tokenMechanism === "google-grpc"
            ? googleGrpcService(opts.xdsAddress, xds, opts.tls)
            : { envoy_grpc: { cluster_name: XDS_CLUSTER } },
        ],
        set_node_on_first_message_only: true,
      },
    },
    static_resources: {
      listeners: [
        httpListener(STATS_LISTENER, opts.statsPort ?? ENVOY_STATS_PORT, "stats", {
          match: { prefix: STATS_PATH },
          route: { cluster: ADMIN_CLUSTER },
        }),
        httpListener(READINESS_LISTENER, opts.readinessPort ?? ENVOY_READINESS_PORT, "readiness", {
          // Envoy's admin /ready answers 200 "LIVE" once the server is initialised.
          match: { path: READINESS_PATH },
          route: { cluster: ADMIN_CLUSTER, prefix_rewrite: "/ready" },
        }),
      ],
      clusters: [xdsCluster(xds, opts.xdsConnectTimeout ?? "1s", opts.tls), adminCluster(adminPort)],
    },
  };
}

/**
 * The bootstrap JSON of proxyless gRPC (GRPC_XDS_BOOTSTRAP / GRPC_XDS_BOOTSTRAP_CONFIG),
 * in the format @grpc/grpc-js-xds reads: it requires node.id and node.locality
 * (an empty object is fine), and xds_servers with server_uri and channel_creds.
 */
export function grpcBootstrap(opts: GrpcBootstrapOptions): JsonObject {
  const nodeJson: JsonObject = { id: opts.nodeId };
  if (opts.cluster !== undefined) nodeJson.cluster = opts.cluster;
  if (opts.metadata !== undefined) nodeJson.metadata = jsonOnly(opts.metadata);
  nodeJson.locality = localityJson(opts.locality) ?? {};
  return {
    xds_servers: [
      {
        server_uri: opts.xdsAddress,
        channel_creds: [{ type: "insecure" }],
        server_features: opts.serverFeatures ?? ["xds_v3"],
      },
    ],
    node: nodeJson,
    // gRPC servers ask for the Listener named after their listening address (gRFC A36).
    server_listener_resource_name_template: "grpc/server?xds.resource.listening_address=%s",
    ...(opts.certificateProviders
      ? { certificate_providers: certificateProvidersJson(opts.certificateProviders) }
      : {}),
  };
}

function certificateProvidersJson(files: GrpcCertificateFiles): JsonObject {
  return {
    [GRPC_CERT_PROVIDER_INSTANCE]: {
      plugin_name: "file_watcher",
      config: {
        certificate_file: files.certificateFile,
        private_key_file: files.privateKeyFile,
        ca_certificate_file: files.caCertificateFile,
        refresh_interval: files.refreshInterval ?? "900s",
      },
    },
  };
}

// ---------------------------------------------------------------------------

function hostPortOrThrow(address: string): HostPort {
  const parsed = parseHostPort(address);
  if (!parsed.ok) throw new Error(`xdsAddress: ${parsed.errors.join("; ")}`);
  return parsed.value;
}

function node(opts: EnvoyBootstrapOptions): JsonObject {
  const out: JsonObject = { id: opts.nodeId };
  if (opts.cluster !== undefined && opts.cluster !== "") out.cluster = opts.cluster;
  if (opts.metadata !== undefined && Object.keys(opts.metadata).length > 0) out.metadata = jsonOnly(opts.metadata);
  const locality = localityJson(opts.locality);
  if (locality && Object.keys(locality).length > 0) out.locality = locality;
  return out;
}

function localityJson(locality: Locality | undefined): JsonObject | undefined {
  if (!locality) return undefined;
  const out: JsonObject = {};
  if (locality.region) out.region = locality.region;
  if (locality.zone) out.zone = locality.zone;
  if (locality.sub_zone) out.sub_zone = locality.sub_zone;
  return out;
}

/** Drops undefined members (callers build metadata from optional pod fields), as JSON.stringify would. */
function jsonOnly(value: Record<string, unknown>): JsonObject {
  return JSON.parse(JSON.stringify(value)) as JsonObject;
}

function socketAddress(address: string, port: number): JsonObject {
  return { socket_address: { address, port_value: port } };
}

function singleEndpoint(clusterName: string, address: string, port: number): JsonObject {
  return {
    cluster_name: clusterName,
    endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(address, port) } }] }],
  };
}

function xdsCluster(xds: HostPort, connectTimeout: string, tls: XdsTlsOptions | undefined): JsonObject {
  // With google-grpc the ADS stream does not use this cluster; it stays for stats and admin tools.
  const viaCluster = tls !== undefined && tls.tokenMechanism !== "google-grpc";
  return {
    name: XDS_CLUSTER,
    // An IP needs no resolution; a name (a Kubernetes Service) is re-resolved as it changes.
    type: isIP(xds.host) ? "STATIC" : "STRICT_DNS",
    connect_timeout: connectTimeout,
    load_assignment: singleEndpoint(XDS_CLUSTER, xds.host, xds.port),
    // One ADS stream per proxy: the default limits are never the bottleneck, Istio lifts them anyway
    // so a reconnect storm cannot trip them.
    circuit_breakers: {
      thresholds: [{ max_connections: 100000, max_pending_requests: 100000, max_requests: 100000 }],
    },
    typed_extension_protocol_options: {
      [HTTP_PROTOCOL_OPTIONS]: {
        "@type": `${T}${HTTP_PROTOCOL_OPTIONS}`,
        explicit_http_config: {
          // gRPC needs HTTP/2; PINGs find a dead control plane connection long before TCP would.
          http2_protocol_options: { connection_keepalive: { interval: "30s", timeout: "10s" } },
        },
        ...(viaCluster ? { http_filters: tokenFilters(tls) } : {}),
      },
    },
    ...(viaCluster ? { transport_socket: controlPlaneTls(xds, tls) } : {}),
    upstream_connection_options: { tcp_keepalive: { keepalive_time: 300 } },
  };
}

/** A file-based SDS source in `caDir`, reloaded when the kubelet swaps the ConfigMap's `..data` link. */
function fileSds(caDir: string, file: string): JsonObject {
  return {
    path_config_source: { path: `${caDir}/${file}`, watched_directory: { path: caDir } },
    resource_api_version: "V3",
  };
}

function expectedServerName(xds: HostPort, tls: XdsTlsOptions): string {
  return tls.serverName ?? xds.host;
}

/** TLS to the control plane: h2 by ALPN (gRPC servers require it), its certificate checked against the mesh root and its name. */
function controlPlaneTls(xds: HostPort, tls: XdsTlsOptions): JsonObject {
  const name = expectedServerName(xds, tls);
  const caDir = tls.caDir ?? XDS_CA_DIR;
  return {
    name: "envoy.transport_sockets.tls",
    typed_config: {
      "@type": UPSTREAM_TLS_TYPE,
      common_tls_context: {
        tls_params: { tls_minimum_protocol_version: "TLSv1_2" },
        combined_validation_context: {
          default_validation_context: {
            match_typed_subject_alt_names: [{ san_type: isIP(name) ? "IP_ADDRESS" : "DNS", matcher: { exact: name } }],
          },
          validation_context_sds_secret_config: {
            name: XDS_TRUST_SECRET,
            sds_config: fileSds(caDir, XDS_TRUST_SDS_FILE),
          },
        },
        alpn_protocols: ["h2"],
      },
      ...(isIP(name) ? {} : { sni: name }),
    },
  };
}

/** The upstream filters of the xds-grpc cluster: the token into `authorization`, then the codec (always last). */
function tokenFilters(tls: XdsTlsOptions): JsonObject[] {
  return [
    {
      name: "envoy.filters.http.credential_injector",
      typed_config: {
        "@type": CREDENTIAL_INJECTOR_TYPE,
        // A proxy must never pass on another authorization header, nor go without its token.
        overwrite: true,
        credential: {
          name: "envoy.http.injected_credentials.generic",
          typed_config: {
            "@type": GENERIC_CREDENTIAL_TYPE,
            credential: { name: XDS_TOKEN_SECRET, sds_config: fileSds(tls.caDir ?? XDS_CA_DIR, XDS_TOKEN_SDS_FILE) },
          },
        },
      },
    },
    { name: "envoy.filters.http.upstream_codec", typed_config: { "@type": UPSTREAM_CODEC_TYPE } },
  ];
}

/** The fallback: Google gRPC with TLS from the root file and the token file as a call credential. */
function googleGrpcService(target: string, xds: HostPort, tls: XdsTlsOptions): JsonObject {
  const name = expectedServerName(xds, tls);
  return {
    google_grpc: {
      target_uri: target,
      stat_prefix: XDS_CLUSTER,
      channel_credentials: {
        ssl_credentials: { root_certs: { filename: `${tls.caDir ?? XDS_CA_DIR}/${ROOT_CERT_FILE}` } },
      },
      call_credentials: [
        {
          from_plugin: {
            name: "envoy.grpc_credentials.file_based_metadata",
            typed_config: {
              "@type": FILE_BASED_METADATA_TYPE,
              secret_data: { filename: tls.tokenPath ?? XDS_TOKEN_PATH },
              header_key: "authorization",
              header_prefix: "Bearer ",
            },
          },
        },
      ],
      // gRPC checks the server's certificate against the target's host; dialling by IP needs the name.
      ...(name !== xds.host
        ? { channel_args: { args: { "grpc.ssl_target_name_override": { string_value: name } } } }
        : {}),
    },
  };
}

/** Envoy's admin as a cluster, so listeners on pod IPs can expose a few admin paths and nothing else. */
function adminCluster(adminPort: number): JsonObject {
  return {
    name: ADMIN_CLUSTER,
    type: "STATIC",
    connect_timeout: "0.250s",
    load_assignment: singleEndpoint(ADMIN_CLUSTER, "127.0.0.1", adminPort),
  };
}

function httpListener(name: string, port: number, statPrefix: string, route: JsonValue): JsonObject {
  return {
    name,
    address: socketAddress("0.0.0.0", port),
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": HCM_TYPE,
              stat_prefix: statPrefix,
              route_config: {
                virtual_hosts: [{ name: "backend", domains: ["*"], routes: [route] }],
              },
              http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": ROUTER_TYPE } }],
            },
          },
        ],
      },
    ],
  };
}
