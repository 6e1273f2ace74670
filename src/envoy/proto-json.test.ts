import { join } from "node:path";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import { checkProtoJson, type JsonValue, jsonNameOf, type ProtoJsonError, toProtoJson } from "./proto-json.js";
import { messageType, PROTO_DIR } from "./protos.js";

const T = "type.googleapis.com/";
const HCM = `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
const ROUTER = `${T}envoy.extensions.filters.http.router.v3.Router`;
const ADS = { ads: {}, resource_api_version: "V3" };

function errorsOf(typeName: string, json: unknown): ProtoJsonError[] {
  const result = checkProtoJson(typeName, json);
  if (result.ok) throw new Error(`expected ${typeName} to be rejected`);
  return result.errors;
}

function encodeOk(typeName: string, json: unknown): Uint8Array {
  const result = checkProtoJson(typeName, json);
  if (!result.ok) throw new Error(`unexpected errors: ${JSON.stringify(result.errors, null, 2)}`);
  return messageType(typeName).encode(result.message).finish();
}

/** JSON → bytes → JSON. */
function roundTrip(typeName: string, json: unknown): JsonValue {
  return toProtoJson(typeName, encodeOk(typeName, json));
}

// ---------------------------------------------------------------------------
// Realistic resources, written in canonical form (snake_case, defaults left out,
// durations with 0/3/6/9 decimals, 64-bit integers as strings).

const inboundListener = {
  name: "virtualInbound",
  address: { socket_address: { address: "0.0.0.0", port_value: 15006 } },
  filter_chains: [
    {
      name: "0.0.0.0_9080",
      filter_chain_match: {
        destination_port: 9080,
        transport_protocol: "tls",
        application_protocols: ["istio-peer-exchange", "istio", "h2", "http/1.1"],
      },
      filters: [
        {
          name: "envoy.filters.network.http_connection_manager",
          typed_config: {
            "@type": HCM,
            stat_prefix: "inbound_0.0.0.0_9080",
            rds: {
              config_source: { ads: {}, initial_fetch_timeout: "0s", resource_api_version: "V3" },
              route_config_name: "inbound|9080||",
            },
            http_filters: [
              {
                name: "envoy.filters.http.fault",
                typed_config: { "@type": `${T}envoy.extensions.filters.http.fault.v3.HTTPFault` },
              },
              { name: "envoy.filters.http.router", typed_config: { "@type": ROUTER } },
            ],
            access_log: [
              {
                name: "envoy.access_loggers.file",
                typed_config: {
                  "@type": `${T}envoy.extensions.access_loggers.file.v3.FileAccessLog`,
                  path: "/dev/stdout",
                  log_format: { text_format_source: { inline_string: "[%START_TIME%] %REQ(:METHOD)%\n" } },
                },
              },
            ],
            use_remote_address: false,
            normalize_path: true,
            stream_idle_timeout: "300s",
            forward_client_cert_details: "APPEND_FORWARD",
            set_current_client_cert_details: { subject: true, dns: true, uri: true },
            upgrade_configs: [{ upgrade_type: "websocket" }],
            common_http_protocol_options: { idle_timeout: "3600s" },
            http2_protocol_options: { max_concurrent_streams: 1073741824 },
          },
        },
      ],
      transport_socket: {
        name: "envoy.transport_sockets.tls",
        typed_config: {
          "@type": `${T}envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext`,
          common_tls_context: {
            tls_certificate_sds_secret_configs: [{ name: "default", sds_config: ADS }],
            combined_validation_context: {
              default_validation_context: {
                match_typed_subject_alt_names: [{ san_type: "URI", matcher: { prefix: "spiffe://cluster.local/" } }],
              },
              validation_context_sds_secret_config: { name: "ROOTCA", sds_config: ADS },
            },
            alpn_protocols: ["h2", "http/1.1"],
          },
          require_client_certificate: true,
        },
      },
    },
  ],
  listener_filters: [
    {
      name: "envoy.filters.listener.original_dst",
      typed_config: { "@type": `${T}envoy.extensions.filters.listener.original_dst.v3.OriginalDst` },
    },
    {
      name: "envoy.filters.listener.tls_inspector",
      typed_config: { "@type": `${T}envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector` },
    },
  ],
  listener_filters_timeout: "0s",
  continue_on_listener_filters_timeout: true,
  traffic_direction: "INBOUND",
};

const reviewsCluster = {
  name: "outbound|9080||reviews.default.svc.cluster.local",
  type: "EDS",
  eds_cluster_config: {
    eds_config: { ads: {}, initial_fetch_timeout: "0s", resource_api_version: "V3" },
    service_name: "outbound|9080||reviews.default.svc.cluster.local",
  },
  connect_timeout: "10s",
  lb_policy: "LEAST_REQUEST",
  circuit_breakers: {
    thresholds: [
      {
        max_connections: 4294967295,
        max_pending_requests: 4294967295,
        max_requests: 4294967295,
        max_retries: 4294967295,
        track_remaining: true,
      },
    ],
  },
  outlier_detection: {
    consecutive_5xx: 5,
    interval: "10s",
    base_ejection_time: "30s",
    max_ejection_percent: 100,
  },
  common_lb_config: { locality_weighted_lb_config: {} },
  typed_extension_protocol_options: {
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
      "@type": `${T}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
      common_http_protocol_options: { idle_timeout: "3600s", max_requests_per_connection: 1024 },
      use_downstream_protocol_config: {
        http_protocol_options: {},
        http2_protocol_options: { max_concurrent_streams: 1073741824 },
      },
    },
  },
  metadata: {
    filter_metadata: {
      istio: {
        services: [{ host: "reviews.default.svc.cluster.local", name: "reviews", namespace: "default" }],
        default_original_port: 9080,
        nothing: null,
      },
    },
  },
  transport_socket_matches: [
    {
      name: "tlsMode-istio",
      match: { tlsMode: "istio" },
      transport_socket: {
        name: "envoy.transport_sockets.tls",
        typed_config: {
          "@type": `${T}envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext`,
          common_tls_context: {
            tls_certificate_sds_secret_configs: [{ name: "default", sds_config: ADS }],
            alpn_protocols: ["istio-peer-exchange", "istio"],
          },
          sni: "outbound_.9080_._.reviews.default.svc.cluster.local",
        },
      },
    },
    {
      name: "tlsMode-disabled",
      match: {},
      transport_socket: {
        name: "envoy.transport_sockets.raw_buffer",
        typed_config: { "@type": `${T}envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer` },
      },
    },
  ],
  per_connection_buffer_limit_bytes: 32768,
  upstream_connection_options: { tcp_keepalive: { keepalive_time: 300 } },
};

const reviewsEndpoints = {
  cluster_name: "outbound|9080||reviews.default.svc.cluster.local",
  endpoints: [
    {
      locality: { region: "us-east1", zone: "us-east1-b" },
      lb_endpoints: [
        {
          endpoint: { address: { socket_address: { address: "10.0.0.12", port_value: 9080 } } },
          health_status: "HEALTHY",
          metadata: {
            filter_metadata: {
              "envoy.transport_socket_match": { tlsMode: "istio" },
              istio: { workload: "reviews-v1;default;reviews;v1;Kubernetes" },
            },
          },
          load_balancing_weight: 1,
        },
        {
          endpoint: {
            address: { socket_address: { address: "10.0.0.13", port_value: 9080 } },
            health_check_config: { port_value: 15021 },
          },
          health_status: "DRAINING",
          load_balancing_weight: 1,
        },
      ],
      load_balancing_weight: 2,
    },
    {
      locality: { region: "us-west1" },
      lb_endpoints: [
        {
          endpoint: { address: { socket_address: { address: "10.1.0.7", port_value: 9080 } } },
          load_balancing_weight: 3,
        },
      ],
      load_balancing_weight: 3,
      priority: 1,
    },
  ],
  policy: { overprovisioning_factor: 140 },
};

const reviewsRoutes = {
  name: "9080",
  virtual_hosts: [
    {
      name: "reviews.default.svc.cluster.local:9080",
      domains: ["reviews.default.svc.cluster.local", "reviews", "reviews.default", "10.96.0.10"],
      routes: [
        {
          name: "jason",
          match: { prefix: "/", headers: [{ name: "end-user", string_match: { exact: "jason" } }] },
          route: {
            cluster: "outbound|9080|v2|reviews.default.svc.cluster.local",
            timeout: "0s",
            retry_policy: {
              retry_on: "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
              num_retries: 2,
              retry_host_predicate: [
                {
                  name: "envoy.retry_host_predicates.previous_hosts",
                  typed_config: { "@type": `${T}envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate` },
                },
              ],
              host_selection_retry_max_attempts: "5",
              retriable_status_codes: [503],
            },
            max_stream_duration: { max_stream_duration: "0s", grpc_timeout_header_max: "0s" },
          },
          decorator: { operation: "reviews.default.svc.cluster.local:9080/*" },
        },
        {
          match: { safe_regex: { regex: "/api/v[0-9]+/.*" } },
          route: {
            weighted_clusters: {
              clusters: [
                { name: "outbound|9080|v1|reviews.default.svc.cluster.local", weight: 90 },
                { name: "outbound|9080|v3|reviews.default.svc.cluster.local", weight: 10 },
              ],
            },
            prefix_rewrite: "/",
          },
          typed_per_filter_config: {
            "envoy.filters.http.fault": {
              "@type": `${T}envoy.extensions.filters.http.fault.v3.HTTPFault`,
              delay: { fixed_delay: "1.500s", percentage: { numerator: 10 } },
              abort: { http_status: 503, percentage: { numerator: 1, denominator: "TEN_THOUSAND" } },
            },
          },
        },
        { match: { path: "/redirect" }, redirect: { https_redirect: true, response_code: "PERMANENT_REDIRECT" } },
        { match: { prefix: "/direct" }, direct_response: { status: 200, body: { inline_string: "ok" } } },
      ],
      include_request_attempt_count: true,
    },
  ],
  validate_clusters: false,
  max_direct_response_body_size_bytes: 1024,
  request_headers_to_add: [{ header: { key: "x-trellis", value: "1" }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }],
};

describe("round trip JSON → bytes → JSON", () => {
  const cases: [string, string, unknown][] = [
    ["Listener", "envoy.config.listener.v3.Listener", inboundListener],
    ["Cluster", "envoy.config.cluster.v3.Cluster", reviewsCluster],
    ["ClusterLoadAssignment", "envoy.config.endpoint.v3.ClusterLoadAssignment", reviewsEndpoints],
    ["RouteConfiguration", "envoy.config.route.v3.RouteConfiguration", reviewsRoutes],
  ];
  for (const [label, typeName, json] of cases) {
    it(`gives back a canonical ${label} unchanged, and the same bytes again`, () => {
      const bytes = encodeOk(typeName, json);
      const back = toProtoJson(typeName, bytes);
      expect(back).toEqual(json);
      expect(encodeOk(typeName, back)).toEqual(bytes);
      // A protobufjs message works as well as its bytes.
      expect(toProtoJson(typeName, messageType(typeName).decode(bytes))).toEqual(json);
    });
  }

  it("expands the Any inside a Listener to @type plus the packed message's fields", () => {
    const back = roundTrip("envoy.config.listener.v3.Listener", inboundListener) as typeof inboundListener;
    const hcm = back.filter_chains[0]?.filters[0]?.typed_config;
    expect(hcm?.["@type"]).toBe(HCM);
    expect(hcm?.stat_prefix).toBe("inbound_0.0.0.0_9080");
  });

  it("accepts lowerCamelCase names and writes snake_case back", () => {
    const camel = {
      name: "web",
      address: { socketAddress: { address: "0.0.0.0", portValue: 8080 } },
      filterChains: [
        {
          filters: [
            {
              name: "envoy.filters.network.http_connection_manager",
              typedConfig: {
                "@type": HCM,
                statPrefix: "web",
                routeConfig: { virtualHosts: [{ name: "all", domains: ["*"] }] },
                httpFilters: [{ name: "envoy.filters.http.router", typedConfig: { "@type": ROUTER } }],
              },
            },
          ],
        },
      ],
    };
    expect(roundTrip("envoy.config.listener.v3.Listener", camel)).toEqual({
      name: "web",
      address: { socket_address: { address: "0.0.0.0", port_value: 8080 } },
      filter_chains: [
        {
          filters: [
            {
              name: "envoy.filters.network.http_connection_manager",
              typed_config: {
                "@type": HCM,
                stat_prefix: "web",
                route_config: { virtual_hosts: [{ name: "all", domains: ["*"] }] },
                http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": ROUTER } }],
              },
            },
          ],
        },
      ],
    });
  });

  it("leaves out proto3 defaults but keeps a zero that is a oneof choice or a wrapper", () => {
    const json = {
      name: "",
      address: { socket_address: { address: "0.0.0.0", port_value: 0, protocol: "TCP" } },
      per_connection_buffer_limit_bytes: 0,
      filter_chains: [],
    };
    expect(roundTrip("envoy.config.listener.v3.Listener", json)).toEqual({
      address: { socket_address: { address: "0.0.0.0", port_value: 0 } },
      per_connection_buffer_limit_bytes: 0,
    });
  });

  it("treats null as not set", () => {
    expect(roundTrip("envoy.config.cluster.v3.Cluster", { name: "a", connect_timeout: null, lb_policy: null })).toEqual(
      { name: "a" },
    );
  });
});

describe("rejecting what Envoy would reject", () => {
  const bootstrapWith = (hcm: Record<string, unknown>) => ({
    static_resources: {
      listeners: [
        {
          name: "l",
          address: { socket_address: { address: "0.0.0.0", port_value: 80 } },
          filter_chains: [
            {
              filters: [
                {
                  name: "envoy.filters.network.http_connection_manager",
                  typed_config: { "@type": HCM, stat_prefix: "l", ...hcm },
                },
              ],
            },
          ],
        },
      ],
    },
  });
  const BOOTSTRAP = "envoy.config.bootstrap.v3.Bootstrap";
  const HCM_PATH = "static_resources.listeners[0].filter_chains[0].filters[0].typed_config";

  it("reports an unknown field with its exact path", () => {
    const errors = errorsOf(BOOTSTRAP, bootstrapWith({ stat_prefx: "oops" }));
    expect(errors).toHaveLength(1);
    expect(errors[0]?.path).toBe(`${HCM_PATH}.stat_prefx`);
    expect(errors[0]?.message).toMatch(/unknown field "stat_prefx".*HttpConnectionManager.*did you mean "stat_prefix"/);
  });

  it("checks an Any against the type named in its @type", () => {
    // stat_prefix is an HCM field, not a Router field.
    const errors = errorsOf(BOOTSTRAP, {
      static_resources: {
        listeners: [
          {
            filter_chains: [{ filters: [{ name: "x", typed_config: { "@type": ROUTER, stat_prefix: "l" } }] }],
          },
        ],
      },
    });
    expect(errors).toEqual([
      {
        path: `${HCM_PATH}.stat_prefix`,
        message: expect.stringContaining("envoy.extensions.filters.http.router.v3.Router"),
      },
    ]);
  });

  it("rejects a typo inside an Any nested in an Any", () => {
    const errors = errorsOf(
      BOOTSTRAP,
      bootstrapWith({
        route_config: { name: "r" },
        http_filters: [
          { name: "envoy.filters.http.router", typed_config: { "@type": ROUTER, suppress_envoy_headerz: true } },
        ],
      }),
    );
    expect(errors.map((e) => e.path)).toEqual([`${HCM_PATH}.http_filters[0].typed_config.suppress_envoy_headerz`]);
  });

  it("reports every problem, not just the first", () => {
    const errors = errorsOf("envoy.config.cluster.v3.Cluster", {
      name: 7,
      conect_timeout: "1s",
      lb_policy: "ROUND_ROBBIN",
      load_assignment: {
        endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { port_value: true } } } }] }],
      },
    });
    expect(errors.map((e) => e.path)).toEqual([
      "name",
      "conect_timeout",
      "lb_policy",
      "load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value",
    ]);
    expect(errors[0]?.message).toBe("expected a string, got number");
    expect(errors[2]?.message).toMatch(
      /unknown value "ROUND_ROBBIN" for enum envoy.config.cluster.v3.Cluster.LbPolicy/,
    );
    expect(errors[3]?.message).toBe("expected an integer (uint32), got boolean");
  });

  it("rejects an Any whose type is unknown, or that has no @type", () => {
    expect(
      errorsOf(BOOTSTRAP, bootstrapWith({ http_filters: [{ name: "x", typed_config: { "@type": `${T}no.Such` } }] })),
    ).toEqual([{ path: `${HCM_PATH}.http_filters[0].typed_config.@type`, message: 'unknown type "no.Such"' }]);
    expect(
      errorsOf(BOOTSTRAP, bootstrapWith({ http_filters: [{ name: "x", typed_config: { stat_prefix: "a" } }] })),
    ).toEqual([
      { path: `${HCM_PATH}.http_filters[0].typed_config.@type`, message: "google.protobuf.Any needs an @type" },
    ]);
    expect(
      errorsOf(BOOTSTRAP, bootstrapWith({ http_filters: [{ name: "x", typed_config: { "@type": "Router" } }] }))[0]
        ?.message,
    ).toMatch(/not a type URL/);
  });

  it("allows at most one member of a oneof", () => {
    const errors = errorsOf("envoy.config.core.v3.SocketAddress", {
      address: "0.0.0.0",
      port_value: 80,
      named_port: "http",
    });
    expect(errors).toEqual([
      {
        path: "named_port",
        message: 'oneof "port_specifier" is already set by "port_value"; at most one of port_value, named_port',
      },
    ]);
    const hcm = errorsOf(
      BOOTSTRAP,
      bootstrapWith({ rds: { route_config_name: "r", config_source: ADS }, route_config: {} }),
    );
    expect(hcm.map((e) => e.path)).toEqual([`${HCM_PATH}.route_config`]);
    // A null member is not set, so it does not conflict.
    expect(checkProtoJson("envoy.config.core.v3.SocketAddress", { port_value: 80, named_port: null }).ok).toBe(true);
  });

  it("rejects the same field given under both of its names", () => {
    expect(errorsOf("envoy.config.core.v3.SocketAddress", { port_value: 80, portValue: 81 })).toEqual([
      { path: "portValue", message: 'field "port_value" is already set as "port_value"' },
    ]);
  });

  it("rejects wrong JSON types", () => {
    const bad: [string, unknown, string][] = [
      ["envoy.config.core.v3.SocketAddress", { address: ["a"] }, "address"],
      ["envoy.config.core.v3.SocketAddress", { port_value: 1.5 }, "port_value"],
      ["envoy.config.core.v3.SocketAddress", { port_value: -1 }, "port_value"],
      ["envoy.config.core.v3.SocketAddress", { port_value: 4294967296 }, "port_value"],
      ["envoy.config.core.v3.SocketAddress", { port_value: " 80" }, "port_value"],
      ["envoy.config.core.v3.SocketAddress", { port_value: "8.5" }, "port_value"],
      ["envoy.config.core.v3.SocketAddress", { ipv4_compat: "true" }, "ipv4_compat"],
      ["envoy.config.core.v3.SocketAddress", "0.0.0.0:80", ""],
      ["envoy.config.listener.v3.Listener", { filter_chains: {} }, "filter_chains"],
      ["envoy.config.listener.v3.Listener", { filter_chains: [null] }, "filter_chains[0]"],
      ["envoy.config.cluster.v3.Cluster", { connect_timeout: 1 }, "connect_timeout"],
      [
        "envoy.config.cluster.v3.Cluster",
        { per_connection_buffer_limit_bytes: "lots" },
        "per_connection_buffer_limit_bytes",
      ],
      [
        "envoy.config.cluster.v3.Cluster",
        { metadata: { filter_metadata: { istio: "x" } } },
        'metadata.filter_metadata["istio"]',
      ],
      ["envoy.config.cluster.v3.Cluster", { typed_extension_protocol_options: [] }, "typed_extension_protocol_options"],
      ["envoy.config.core.v3.DataSource", { inline_bytes: "not base64!" }, "inline_bytes"],
      ["envoy.config.cluster.v3.Cluster", { lb_policy: 99 }, "lb_policy"],
    ];
    for (const [typeName, json, path] of bad) {
      const errors = errorsOf(typeName, json);
      expect(
        errors.map((e) => e.path),
        JSON.stringify(json),
      ).toEqual([path]);
    }
  });

  it("reports an unknown message type", () => {
    expect(errorsOf("envoy.config.nope.v3.Nope", {})).toEqual([
      { path: "", message: 'unknown message type "envoy.config.nope.v3.Nope"' },
    ]);
  });
});

describe("well-known types", () => {
  const durationOf = (text: unknown) => checkProtoJson("google.protobuf.Duration", text);

  it("parses Durations and writes them with 0, 3, 6 or 9 decimals", () => {
    const cases: [string, string, number, string][] = [
      ["1.5s", "1", 500_000_000, "1.500s"],
      ["0s", "0", 0, "0s"],
      ["30s", "30", 0, "30s"],
      ["0.000001s", "0", 1000, "0.000001s"],
      ["-0.5s", "0", -500_000_000, "-0.500s"],
      ["-2.000000001s", "-2", -1, "-2.000000001s"],
      ["315576000000s", "315576000000", 0, "315576000000s"],
    ];
    for (const [text, seconds, nanos, canonical] of cases) {
      const result = durationOf(text);
      if (!result.ok) throw new Error(`${text}: ${JSON.stringify(result.errors)}`);
      const obj = messageType("google.protobuf.Duration").toObject(result.message, { longs: String });
      expect(obj.seconds ?? "0", text).toBe(seconds);
      expect(obj.nanos ?? 0, text).toBe(nanos);
      expect(toProtoJson("google.protobuf.Duration", result.message)).toBe(canonical);
    }
  });

  it("rejects Durations that are not proto3 JSON durations", () => {
    for (const bad of ["1", "1h", "1.5", "1.0000000001s", "s", "+1s", " 1s", "315576000001s", 1.5, null]) {
      expect(durationOf(bad).ok, String(bad)).toBe(false);
    }
  });

  it("parses RFC 3339 Timestamps into UTC", () => {
    const ts = (text: string) => {
      const result = checkProtoJson("google.protobuf.Timestamp", text);
      if (!result.ok) throw new Error(JSON.stringify(result.errors));
      return toProtoJson("google.protobuf.Timestamp", result.message);
    };
    expect(ts("1972-01-01T10:00:20.021+01:00")).toBe("1972-01-01T09:00:20.021Z");
    expect(ts("2024-02-29T23:59:59.123456789Z")).toBe("2024-02-29T23:59:59.123456789Z");
    expect(ts("0001-01-01T00:00:00Z")).toBe("0001-01-01T00:00:00Z");
    expect(ts("1969-12-31T23:59:59.5Z")).toBe("1969-12-31T23:59:59.500Z");
    for (const bad of ["2023-02-29T00:00:00Z", "2024-01-01", "2024-01-01T00:00:00", "0001-01-01T00:00:00+00:01"]) {
      expect(checkProtoJson("google.protobuf.Timestamp", bad).ok, bad).toBe(false);
    }
  });

  it("maps Struct, Value and ListValue to arbitrary JSON", () => {
    const json = { a: 1, b: "two", c: [true, null, { d: [] }], e: {}, f: -0.25 };
    expect(roundTrip("google.protobuf.Struct", json)).toEqual(json);
    expect(roundTrip("google.protobuf.Value", null)).toBeNull();
    expect(roundTrip("google.protobuf.Value", "x")).toBe("x");
    expect(roundTrip("google.protobuf.ListValue", [1, [2], { three: 3 }])).toEqual([1, [2], { three: 3 }]);
    expect(errorsOf("google.protobuf.Struct", { a: [1, Number.NaN] })).toEqual([
      { path: '["a"][1]', message: "NaN is not a JSON number" },
    ]);
    expect(checkProtoJson("google.protobuf.Struct", [1]).ok).toBe(false);
  });

  it("maps wrappers to plain values, 64-bit ones as strings", () => {
    expect(roundTrip("google.protobuf.BoolValue", false)).toBe(false);
    expect(roundTrip("google.protobuf.UInt32Value", 7)).toBe(7);
    expect(roundTrip("google.protobuf.UInt32Value", "7")).toBe(7);
    expect(roundTrip("google.protobuf.UInt32Value", "1e3")).toBe(1000);
    expect(roundTrip("google.protobuf.UInt64Value", "18446744073709551615")).toBe("18446744073709551615");
    expect(roundTrip("google.protobuf.Int64Value", -9007199254740991)).toBe("-9007199254740991");
    expect(roundTrip("google.protobuf.Int64Value", "-9223372036854775808")).toBe("-9223372036854775808");
    expect(roundTrip("google.protobuf.StringValue", "")).toBe("");
    expect(roundTrip("google.protobuf.DoubleValue", "NaN")).toBe("NaN");
    expect(roundTrip("google.protobuf.DoubleValue", "-Infinity")).toBe("-Infinity");
    expect(roundTrip("google.protobuf.FloatValue", 0.1)).toBe(0.1);
    expect(roundTrip("google.protobuf.BytesValue", "aGVsbG8=")).toBe("aGVsbG8=");
    expect(roundTrip("google.protobuf.BytesValue", "aGVsbG8")).toBe("aGVsbG8="); // padding is optional
    expect(checkProtoJson("google.protobuf.UInt64Value", "18446744073709551616").ok).toBe(false);
    expect(checkProtoJson("google.protobuf.Int64Value", 2 ** 60).ok).toBe(false); // not exact as a number
    expect(checkProtoJson("google.protobuf.BoolValue", { value: true }).ok).toBe(false);
    expect(checkProtoJson("google.protobuf.FloatValue", 1e39).ok).toBe(false);
  });

  it("keeps int64 and float fields exact", () => {
    expect(
      roundTrip("envoy.config.core.v3.SocketOption", { level: 1, name: "9223372036854775807", int_value: "-3" }),
    ).toEqual({ level: "1", name: "9223372036854775807", int_value: "-3" });
    const cache = "envoy.extensions.http.cache.file_system_http_cache.v3.FileSystemHttpCacheConfig";
    expect(roundTrip(cache, { evict_fraction: 0.05 })).toEqual({ evict_fraction: 0.05 });
  });

  it("encodes bytes as base64 (standard or URL-safe in, standard out)", () => {
    const bytes = encodeOk("envoy.config.core.v3.DataSource", { inline_bytes: "-_8=" });
    expect(toProtoJson("envoy.config.core.v3.DataSource", bytes)).toEqual({ inline_bytes: "+/8=" });
  });

  it("handles maps with integer keys", () => {
    const json = { positions: { "1": 10, "-9223372036854775808": 20 }, line_offsets: [1, 2] };
    expect(roundTrip("google.api.expr.v1alpha1.SourceInfo", json)).toEqual(json);
    expect(errorsOf("google.api.expr.v1alpha1.SourceInfo", { positions: { one: 1 } })[0]?.path).toBe(
      'positions["one"]',
    );
  });

  it("packs well-known types in an Any under value, and Empty inline", () => {
    const wkt = (inner: string, value: JsonValue) => ({ "@type": `${T}google.protobuf.${inner}`, value });
    for (const any of [
      wkt("Duration", "1.500s"),
      wkt("StringValue", "hi"),
      wkt("Struct", { a: [1] }),
      wkt("Any", { "@type": ROUTER, suppress_envoy_headers: true }),
      { "@type": `${T}google.protobuf.Empty` },
    ]) {
      expect(roundTrip("google.protobuf.Any", any)).toEqual(any);
    }
    // Go's protojson writes Empty under "value": read that too.
    expect(roundTrip("google.protobuf.Any", wkt("Empty", {}))).toEqual({ "@type": `${T}google.protobuf.Empty` });
    expect(errorsOf("google.protobuf.Any", { "@type": `${T}google.protobuf.Duration`, seconds: 1 })).toEqual([
      { path: "seconds", message: expect.stringContaining('has only "value"') },
      { path: "value", message: 'missing "value" for google.protobuf.Duration' },
    ]);
    expect(roundTrip("google.protobuf.Any", {})).toEqual({});
  });

  it("maps FieldMask to comma-separated lowerCamelCase paths", () => {
    // No Envoy proto imports field_mask.proto, so check it on a root of its own.
    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
    root.loadSync("google/protobuf/field_mask.proto", { keepCase: true });
    root.resolveAll();
    const result = checkProtoJson("google.protobuf.FieldMask", "fooBar,baz.quxQuux", root);
    if (!result.ok) throw new Error(JSON.stringify(result.errors));
    expect((result.message as unknown as { paths: string[] }).paths).toEqual(["foo_bar", "baz.qux_quux"]);
    expect(toProtoJson("google.protobuf.FieldMask", result.message, root)).toBe("fooBar,baz.quxQuux");
  });
});

describe("toProtoJson", () => {
  it("refuses to describe an Any it cannot decode", () => {
    const any = messageType("google.protobuf.Any");
    const bytes = any.encode(any.create({ type_url: `${T}no.Such`, value: new Uint8Array([8, 1]) })).finish();
    expect(() => toProtoJson("google.protobuf.Any", bytes)).toThrow(/no\.Such/);
  });

  it("names fields as protoc's json_name does", () => {
    expect(jsonNameOf("stat_prefix")).toBe("statPrefix");
    expect(jsonNameOf("consecutive_5xx")).toBe("consecutive5xx");
    expect(jsonNameOf("name")).toBe("name");
  });
});
