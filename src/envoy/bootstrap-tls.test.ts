// The authenticated-xDS part of the Envoy bootstrap (TLS to the control plane,
// the projected token through the credential injector or Google gRPC call
// credentials) and the files it reads, checked with Envoy's own protos.
import { describe, expect, it } from "vitest";
import {
  type AdsApiType,
  type EnvoyBootstrapOptions,
  envoyBootstrap,
  ROOT_CERT_FILE,
  XDS_CA_DIR,
  XDS_CLUSTER,
  XDS_TOKEN_PATH,
  XDS_TOKEN_SDS_FILE,
  XDS_TOKEN_SECRET,
  XDS_TRUST_SDS_FILE,
  XDS_TRUST_SECRET,
  xdsAuthFiles,
} from "./bootstrap.js";
import { checkProtoJson, type JsonObject, toProtoJson } from "./proto-json.js";
import { messageType } from "./protos.js";

const BOOTSTRAP = "envoy.config.bootstrap.v3.Bootstrap";
const HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

// biome-ignore lint/suspicious/noExplicitAny: walking generated JSON in assertions
type Obj = Record<string, any>;

const base: EnvoyBootstrapOptions = {
  nodeId: "sidecar~10.244.1.17~reviews-v1-abc.default~default.svc.cluster.local",
  xdsAddress: "trellis.trellis-system.svc:15012",
  tls: {},
};

function roundTrips(bootstrap: JsonObject): void {
  const checked = checkProtoJson(BOOTSTRAP, bootstrap);
  expect(checked.ok ? [] : checked.errors).toEqual([]);
  if (!checked.ok) return;
  const type = messageType(BOOTSTRAP);
  expect(toProtoJson(BOOTSTRAP, type.decode(type.encode(checked.message).finish()))).toEqual(bootstrap);
}

const xdsCluster = (b: JsonObject): Obj =>
  ((b.static_resources as Obj).clusters as Obj[]).find((c) => c.name === XDS_CLUSTER) as Obj;

describe("envoyBootstrap with tls", () => {
  for (const apiType of ["GRPC", "DELTA_GRPC"] as AdsApiType[]) {
    for (const xdsAddress of ["trellis.trellis-system.svc:15012", "10.96.0.12:15012", "[fd00::12]:15012"]) {
      for (const tokenMechanism of ["credential-injector", "google-grpc"] as const) {
        it(`is a valid Envoy Bootstrap that survives encoding (${apiType}, ${xdsAddress}, ${tokenMechanism})`, () => {
          roundTrips(envoyBootstrap({ ...base, apiType, xdsAddress, tls: { tokenMechanism } }));
        });
      }
    }
  }

  it("dials the control plane over TLS: h2 by ALPN, SNI, its name checked, the root from the watched ConfigMap", () => {
    const cluster = xdsCluster(envoyBootstrap(base));
    expect(cluster.transport_socket).toEqual({
      name: "envoy.transport_sockets.tls",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        sni: "trellis.trellis-system.svc",
        common_tls_context: {
          tls_params: { tls_minimum_protocol_version: "TLSv1_2" },
          alpn_protocols: ["h2"],
          combined_validation_context: {
            default_validation_context: {
              match_typed_subject_alt_names: [{ san_type: "DNS", matcher: { exact: "trellis.trellis-system.svc" } }],
            },
            validation_context_sds_secret_config: {
              name: XDS_TRUST_SECRET,
              sds_config: {
                path_config_source: {
                  path: `${XDS_CA_DIR}/${XDS_TRUST_SDS_FILE}`,
                  watched_directory: { path: XDS_CA_DIR },
                },
                resource_api_version: "V3",
              },
            },
          },
        },
      },
    });
    // An IP is checked as an IP SAN, and is no SNI.
    const byIp = xdsCluster(envoyBootstrap({ ...base, xdsAddress: "10.96.0.12:15012" })).transport_socket.typed_config;
    expect(byIp.sni).toBeUndefined();
    expect(byIp.common_tls_context.combined_validation_context.default_validation_context).toEqual({
      match_typed_subject_alt_names: [{ san_type: "IP_ADDRESS", matcher: { exact: "10.96.0.12" } }],
    });
    // serverName overrides the dialled host.
    const named = xdsCluster(
      envoyBootstrap({ ...base, xdsAddress: "10.96.0.12:15012", tls: { serverName: "cp.example" } }),
    );
    expect(named.transport_socket.typed_config.sni).toBe("cp.example");
  });

  it("puts the token into every ADS request with the credential injector, before the codec, never passing another", () => {
    const bootstrap = envoyBootstrap(base);
    expect((bootstrap.dynamic_resources as Obj).ads_config.grpc_services).toEqual([
      { envoy_grpc: { cluster_name: XDS_CLUSTER } },
    ]);
    const filters = xdsCluster(bootstrap).typed_extension_protocol_options[HTTP_OPTIONS].http_filters as Obj[];
    expect(filters.map((f) => f.name)).toEqual([
      "envoy.filters.http.credential_injector",
      "envoy.filters.http.upstream_codec",
    ]);
    const injector = filters[0]?.typed_config;
    expect(injector.overwrite).toBe(true);
    // Without the token the request fails instead of going out unauthenticated.
    expect(injector.allow_request_without_credential).toBeUndefined();
    expect(injector.credential.typed_config.credential).toEqual({
      name: XDS_TOKEN_SECRET,
      sds_config: {
        path_config_source: { path: `${XDS_CA_DIR}/${XDS_TOKEN_SDS_FILE}`, watched_directory: { path: XDS_CA_DIR } },
        resource_api_version: "V3",
      },
    });
  });

  it("falls back to Google gRPC with the token file as a call credential and TLS from the root file", () => {
    const bootstrap = envoyBootstrap({
      ...base,
      xdsAddress: "10.96.0.12:15012",
      tls: { tokenMechanism: "google-grpc", serverName: "trellis.trellis-system.svc", caDir: "/ca" },
    });
    const [svc] = (bootstrap.dynamic_resources as Obj).ads_config.grpc_services as Obj[];
    expect(svc?.google_grpc).toEqual({
      target_uri: "10.96.0.12:15012",
      stat_prefix: XDS_CLUSTER,
      channel_credentials: { ssl_credentials: { root_certs: { filename: `/ca/${ROOT_CERT_FILE}` } } },
      call_credentials: [
        {
          from_plugin: {
            name: "envoy.grpc_credentials.file_based_metadata",
            typed_config: {
              "@type": "type.googleapis.com/envoy.config.grpc_credential.v3.FileBasedMetadataConfig",
              secret_data: { filename: XDS_TOKEN_PATH },
              header_key: "authorization",
              header_prefix: "Bearer ",
            },
          },
        },
      ],
      channel_args: { args: { "grpc.ssl_target_name_override": { string_value: "trellis.trellis-system.svc" } } },
    });
    expect(xdsCluster(bootstrap).transport_socket).toBeUndefined();
  });

  it("stays plaintext without tls (a development control plane)", () => {
    const cluster = xdsCluster(envoyBootstrap({ ...base, tls: undefined }));
    expect(cluster.transport_socket).toBeUndefined();
    expect(cluster.typed_extension_protocol_options[HTTP_OPTIONS].http_filters).toBeUndefined();
  });
});

describe("xdsAuthFiles", () => {
  it("holds the bundle and the two SDS files as Envoy reads them (DiscoveryResponse JSON)", () => {
    const bundle = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const files = xdsAuthFiles(bundle);
    expect(Object.keys(files).sort()).toEqual([ROOT_CERT_FILE, XDS_TOKEN_SDS_FILE, XDS_TRUST_SDS_FILE].sort());
    expect(files[ROOT_CERT_FILE]).toBe(bundle);
    const parse = (name: string) => {
      const doc = JSON.parse(files[name] ?? "");
      const checked = checkProtoJson("envoy.service.discovery.v3.DiscoveryResponse", doc);
      expect(checked.ok ? [] : checked.errors, name).toEqual([]);
      return doc.resources[0];
    };
    expect(parse(XDS_TRUST_SDS_FILE)).toEqual({
      "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
      name: XDS_TRUST_SECRET,
      validation_context: { trusted_ca: { inline_string: bundle } },
    });
    expect(parse(XDS_TOKEN_SDS_FILE)).toEqual({
      "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
      name: XDS_TOKEN_SECRET,
      generic_secret: { secret: { filename: XDS_TOKEN_PATH } },
    });
  });
});
