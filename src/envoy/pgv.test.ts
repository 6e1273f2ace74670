import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { type EnvoyBootstrapOptions, envoyBootstrap } from "./bootstrap.js";
import { checkEnvoyMessage, type PgvReport, type PgvViolation, validateEnvoyMessage } from "./pgv.js";
import { checkProtoJson } from "./proto-json.js";
import { envoyRoot, messageType, PROTO_DIR } from "./protos.js";

const T = "type.googleapis.com/";
const CLUSTER = "envoy.config.cluster.v3.Cluster";
const ENDPOINTS = "envoy.config.endpoint.v3.ClusterLoadAssignment";
const LISTENER = "envoy.config.listener.v3.Listener";
const ROUTE_CONFIG = "envoy.config.route.v3.RouteConfiguration";
const BOOTSTRAP = "envoy.config.bootstrap.v3.Bootstrap";
const HCM = `${T}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;
const ROUTER = `${T}envoy.extensions.filters.http.router.v3.Router`;
const HTTP_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

function fromJson(typeName: string, json: unknown): protobuf.Message {
  const result = checkProtoJson(typeName, json);
  if (!result.ok) throw new Error(`not valid proto3 JSON: ${JSON.stringify(result.errors, null, 2)}`);
  return result.message;
}

/** `path rule` of every violation, the form the assertions read best in. */
function brokenRules(typeName: string, json: unknown): string[] {
  return validateEnvoyMessage(typeName, fromJson(typeName, json)).map((v) => `${v.path} ${v.rule}`);
}

/** The same for a message built with fromObject, for values proto3 JSON cannot spell (unknown enum numbers). */
function brokenRulesOf(typeName: string, object: Record<string, unknown>): string[] {
  const message = messageType(typeName).fromObject(object);
  return validateEnvoyMessage(typeName, message).map((v) => `${v.path} ${v.rule}`);
}

// A cluster Envoy accepts; tests break one thing at a time.
const cluster = {
  name: "outbound|9080||reviews.default.svc.cluster.local",
  type: "EDS",
  connect_timeout: "10s",
  eds_cluster_config: { eds_config: { ads: {}, resource_api_version: "V3" } },
};

function withHttpOptions(options: Record<string, unknown>) {
  return {
    ...cluster,
    typed_extension_protocol_options: {
      [HTTP_OPTIONS]: {
        "@type": `${T}${HTTP_OPTIONS}`,
        explicit_http_config: { http_protocol_options: {} },
        ...options,
      },
    },
  };
}
const HTTP_OPTIONS_PATH = `typed_extension_protocol_options["${HTTP_OPTIONS}"]`;

function routeConfig(route: Record<string, unknown>, virtualHost: Record<string, unknown> = {}) {
  return {
    name: "9080",
    virtual_hosts: [{ name: "reviews", domains: ["reviews", "reviews:9080"], routes: [route], ...virtualHost }],
  };
}
const okRoute = { match: { prefix: "/" }, route: { cluster: "outbound|9080||reviews.default.svc.cluster.local" } };

function listener(hcm: Record<string, unknown>) {
  return {
    name: "0.0.0.0_9080",
    address: { socket_address: { address: "0.0.0.0", port_value: 9080 } },
    filter_chains: [
      {
        filters: [
          {
            name: "envoy.filters.network.http_connection_manager",
            typed_config: {
              "@type": HCM,
              stat_prefix: "outbound_0.0.0.0_9080",
              rds: { route_config_name: "9080", config_source: { ads: {}, resource_api_version: "V3" } },
              http_filters: [{ name: "envoy.filters.http.router", typed_config: { "@type": ROUTER } }],
              ...hcm,
            },
          },
        ],
      },
    ],
  };
}
const HCM_PATH = "filter_chains[0].filters[0].typed_config";

function healthCheckedCluster(http: Record<string, unknown>) {
  return {
    ...cluster,
    health_checks: [
      { timeout: "1s", interval: "5s", unhealthy_threshold: 3, healthy_threshold: 1, http_health_check: http },
    ],
  };
}

/**
 * A root with made-up messages, for rule families and combinations that Envoy's
 * protos annotate nowhere (exclusive ranges, bytes, timestamps, message skip, ...).
 * protobufjs records `(validate.rules)` without needing validate.proto.
 */
function syntheticRoot(proto: string): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
  root.loadSync(
    [
      "google/protobuf/any.proto",
      "google/protobuf/duration.proto",
      "google/protobuf/timestamp.proto",
      "google/protobuf/wrappers.proto",
    ],
    { keepCase: true },
  );
  protobuf.parse(`syntax = "proto3";\npackage pgvtest;\n${proto}`, root, { keepCase: true });
  root.resolveAll();
  return root;
}

function syntheticReport(root: protobuf.Root, name: string, object: Record<string, unknown>): PgvReport {
  const type = root.lookupType(`pgvtest.${name}`);
  return checkEnvoyMessage(`pgvtest.${name}`, type.fromObject(object), root);
}

function syntheticRules(root: protobuf.Root, name: string, object: Record<string, unknown>): string[] {
  return syntheticReport(root, name, object).violations.map((v) => `${v.path} ${v.rule}`);
}

describe("validateEnvoyMessage: real Envoy resources", () => {
  it("accepts a valid cluster, route configuration and listener", () => {
    expect(brokenRules(CLUSTER, cluster)).toEqual([]);
    expect(brokenRules(ROUTE_CONFIG, routeConfig(okRoute))).toEqual([]);
    expect(brokenRules(LISTENER, listener({}))).toEqual([]);
  });

  it("checks the wire bytes as well as decoded messages, and reports undecodable bytes instead of throwing", () => {
    const bytes = messageType(CLUSTER)
      .encode(fromJson(CLUSTER, { ...cluster, name: "" }))
      .finish();
    expect(validateEnvoyMessage(CLUSTER, bytes).map((v) => v.rule)).toEqual(["string.min_len"]);
    expect(validateEnvoyMessage(CLUSTER, new Uint8Array([0x0a, 0xff])).map((v) => v.rule)).toEqual(["decode"]);
    expect(validateEnvoyMessage("envoy.config.cluster.v3.NoSuchThing", bytes).map((v) => v.rule)).toEqual(["type"]);
  });
});

describe("string rules", () => {
  it("min_len: a cluster without a name (proto3 scalars are checked at their default)", () => {
    const violations = validateEnvoyMessage(CLUSTER, fromJson(CLUSTER, { ...cluster, name: "" }));
    expect(violations).toEqual<PgvViolation[]>([
      { path: "name", rule: "string.min_len", message: "value length must be at least 1 characters" },
    ]);
  });

  it("min_len counts characters, max_bytes counts UTF-8 bytes (a header key of 16384 bytes at most)", () => {
    const header = (key: string) => ({ request_headers_to_add: [{ header: { key, value: "v" } }] });
    expect(brokenRules(ROUTE_CONFIG, routeConfig(okRoute, header("x-ok")))).toEqual([]);
    // (its HTTP_HEADER_NAME is not strict, so "" passes that rule)
    expect(brokenRules(ROUTE_CONFIG, routeConfig(okRoute, header("")))).toEqual([
      "virtual_hosts[0].request_headers_to_add[0].header.key string.min_len",
    ]);
    expect(brokenRules(ROUTE_CONFIG, routeConfig(okRoute, header(`x-${"a".repeat(16382)}`)))).toEqual([]);
    expect(brokenRules(ROUTE_CONFIG, routeConfig(okRoute, header(`x-${"a".repeat(16383)}`)))).toEqual([
      "virtual_hosts[0].request_headers_to_add[0].header.key string.max_bytes",
    ]);
  });

  it("well_known_regex HTTP_HEADER_NAME (strict): a header name with a space, inside an Any", () => {
    const sni = (name: string) =>
      withHttpOptions({ upstream_http_protocol_options: { override_auto_sni_header: name } });
    expect(brokenRules(CLUSTER, sni("x-sni"))).toEqual([]);
    expect(brokenRules(CLUSTER, sni(":authority"))).toEqual([]);
    expect(brokenRules(CLUSTER, sni("x sni"))).toEqual([
      `${HTTP_OPTIONS_PATH}.upstream_http_protocol_options.override_auto_sni_header string.well_known_regex`,
    ]);
    expect(brokenRules(CLUSTER, sni("x-sní"))).toHaveLength(1);
  });

  it("ignore_empty: an empty override_auto_sni_header is not checked", () => {
    expect(brokenRules(CLUSTER, withHttpOptions({ upstream_http_protocol_options: { auto_sni: true } }))).toEqual([]);
  });

  it("well_known_regex with strict: false only refuses NUL, CR and LF", () => {
    const headerMatch = (name: string) => ({
      ...okRoute,
      match: { prefix: "/", headers: [{ name, present_match: true }] },
    });
    expect(brokenRules(ROUTE_CONFIG, routeConfig(headerMatch("x y")))).toEqual([]);
    expect(brokenRules(ROUTE_CONFIG, routeConfig(headerMatch("x\ny")))).toEqual([
      "virtual_hosts[0].routes[0].match.headers[0].name string.well_known_regex",
    ]);
  });

  it("well_known_regex HTTP_HEADER_VALUE (strict): tabs pass, control characters do not", () => {
    expect(brokenRules(CLUSTER, healthCheckedCluster({ path: "/healthz", host: "a\tb" }))).toEqual([]);
    expect(brokenRules(CLUSTER, healthCheckedCluster({ path: "/healthz", host: "a\u0001b" }))).toEqual([
      "health_checks[0].http_health_check.host string.well_known_regex",
    ]);
  });

  it("pattern: path_separated_prefix must not end with a slash (RE2 full match)", () => {
    const prefix = (p: string) => routeConfig({ ...okRoute, match: { path_separated_prefix: p } });
    expect(brokenRules(ROUTE_CONFIG, prefix("/api"))).toEqual([]);
    expect(brokenRules(ROUTE_CONFIG, prefix("/api/"))).toEqual([
      "virtual_hosts[0].routes[0].match.path_separated_prefix string.pattern",
    ]);
  });

  it("in: scheme_to_overwrite is http or https", () => {
    const scheme = (s: string) => listener({ scheme_header_transformation: { scheme_to_overwrite: s } });
    expect(brokenRules(LISTENER, scheme("https"))).toEqual([]);
    expect(brokenRules(LISTENER, scheme("ftp"))).toEqual([
      `${HCM_PATH}.scheme_header_transformation.scheme_to_overwrite string.in`,
    ]);
  });

  it("const, len, len_bytes, prefix, suffix, contains, not_contains, not_in, hostname, ip, uuid", () => {
    const root = syntheticRoot(`
      message S {
        string c = 1 [(validate.rules).string.const = "abc"];
        string l = 2 [(validate.rules).string = {len: 2}];
        string lb = 3 [(validate.rules).string = {len_bytes: 2}];
        string p = 4 [(validate.rules).string = {prefix: "x-", suffix: "-y", contains: "mid", not_contains: "bad"}];
        string n = 5 [(validate.rules).string = {not_in: ["a", "b"]}];
        string h = 6 [(validate.rules).string.hostname = true];
        string i = 7 [(validate.rules).string.ip = true];
        string u = 8 [(validate.rules).string.uuid = true];
        string mm = 9 [(validate.rules).string = {min_len: 2, max_len: 3}];
      }`);
    const ok = {
      c: "abc",
      l: "éé",
      lb: "é",
      p: "x-mid-y",
      n: "c",
      h: "svc.example.com",
      i: "fd00::1",
      u: "123e4567-e89b-12d3-a456-426614174000",
      mm: "abc",
    };
    expect(syntheticRules(root, "S", ok)).toEqual([]);
    expect(
      syntheticRules(root, "S", {
        c: "abd",
        l: "é",
        lb: "éé",
        p: "y-bad-x",
        n: "a",
        h: "-svc.example.com",
        i: "10.0.0.256",
        u: "123e4567",
        mm: "abcd",
      }),
    ).toEqual([
      "c string.const",
      "l string.len",
      "lb string.len_bytes",
      "p string.prefix",
      "p string.suffix",
      "p string.contains",
      "p string.not_contains",
      "n string.not_in",
      "h string.hostname",
      "i string.ip",
      "u string.uuid",
      "mm string.max_len",
    ]);
  });
});

describe("message and oneof rules", () => {
  it("message.required: a route without match", () => {
    expect(brokenRules(ROUTE_CONFIG, routeConfig({ route: okRoute.route }))).toEqual([
      "virtual_hosts[0].routes[0].match message.required",
    ]);
  });

  it("oneof required: a route without an action, a match without a path specifier", () => {
    expect(brokenRules(ROUTE_CONFIG, routeConfig({ match: { prefix: "/" } }))).toEqual([
      "virtual_hosts[0].routes[0].action oneof.required",
    ]);
    expect(brokenRules(ROUTE_CONFIG, routeConfig({ ...okRoute, match: {} }))).toEqual([
      "virtual_hosts[0].routes[0].match.path_specifier oneof.required",
    ]);
  });

  it("oneof required: HTTP protocol options without an upstream protocol (the bug the goldens had)", () => {
    const options = {
      [HTTP_OPTIONS]: { "@type": `${T}${HTTP_OPTIONS}`, common_http_protocol_options: { idle_timeout: "3600s" } },
    };
    expect(brokenRules(CLUSTER, { ...cluster, typed_extension_protocol_options: options })).toEqual([
      `${HTTP_OPTIONS_PATH}.upstream_protocol_options oneof.required`,
    ]);
  });

  it("message.required on a wrapper: a health check without thresholds", () => {
    const json = healthCheckedCluster({ path: "/healthz" });
    delete (json.health_checks[0] as Record<string, unknown>).healthy_threshold;
    expect(brokenRules(CLUSTER, json)).toEqual(["health_checks[0].healthy_threshold message.required"]);
  });

  it("a field of a oneof is checked only when it is the one set", () => {
    // Bootstrap.stats_flush_on_admin is `const: true` in the stats_flush oneof.
    expect(brokenRulesOf(BOOTSTRAP, {})).toEqual([]);
    expect(brokenRulesOf(BOOTSTRAP, { stats_flush_on_admin: true })).toEqual([]);
    expect(brokenRulesOf(BOOTSTRAP, { stats_flush_on_admin: false })).toEqual(["stats_flush_on_admin bool.const"]);
  });

  it("message.skip, (validate.disabled), proto3 optional", () => {
    const root = syntheticRoot(`
      message Inner { string name = 1 [(validate.rules).string.min_len = 1]; }
      message Off { option (validate.disabled) = true; string name = 1 [(validate.rules).string.min_len = 1]; }
      message M {
        Inner checked = 1;
        Inner skipped = 2 [(validate.rules).message.skip = true];
        Off off = 3;
        optional string opt = 4 [(validate.rules).string.min_len = 2];
      }`);
    expect(syntheticRules(root, "M", { checked: {}, skipped: {}, off: {} })).toEqual(["checked.name string.min_len"]);
    expect(syntheticRules(root, "M", { opt: "x" })).toEqual(["opt string.min_len"]);
  });
});

describe("duration and timestamp rules", () => {
  it("gt {}: connect_timeout of 0 or below", () => {
    expect(brokenRules(CLUSTER, { ...cluster, connect_timeout: "0s" })).toEqual(["connect_timeout duration.gt"]);
    expect(brokenRules(CLUSTER, { ...cluster, connect_timeout: "-1s" })).toEqual(["connect_timeout duration.gt"]);
    expect(brokenRules(CLUSTER, { ...cluster, connect_timeout: "0.000000001s" })).toEqual([]);
  });

  it("gt {nanos: 1000000}: dns_refresh_rate above 1 ms (exclusive)", () => {
    expect(brokenRules(CLUSTER, { ...cluster, dns_refresh_rate: "0.001s" })).toEqual(["dns_refresh_rate duration.gt"]);
    expect(brokenRules(CLUSTER, { ...cluster, dns_refresh_rate: "0.001000001s" })).toEqual([]);
  });

  it("required with [gte, lt): HttpUri.timeout", () => {
    const uri = (timeout?: string) => ({ uri: "https://jwks", cluster: "jwks", ...(timeout ? { timeout } : {}) });
    expect(brokenRules("envoy.config.core.v3.HttpUri", uri("0s"))).toEqual([]);
    expect(brokenRules("envoy.config.core.v3.HttpUri", uri("4294967295.999999999s"))).toEqual([]);
    expect(brokenRules("envoy.config.core.v3.HttpUri", uri())).toEqual(["timeout duration.required"]);
    expect(brokenRules("envoy.config.core.v3.HttpUri", uri("-0.5s"))).toEqual(["timeout duration.gte"]);
    expect(brokenRules("envoy.config.core.v3.HttpUri", uri("4294967296s"))).toEqual(["timeout duration.lt"]);
  });

  it("const, in, not_in, exclusive ranges, and out-of-range durations", () => {
    const root = syntheticRoot(`
      import "google/protobuf/duration.proto";
      message D {
        google.protobuf.Duration c = 1 [(validate.rules).duration.const = {seconds: 5}];
        google.protobuf.Duration i = 2 [(validate.rules).duration = {in {seconds: 1} in {seconds: 2}}];
        google.protobuf.Duration x = 3 [(validate.rules).duration = {lt: {seconds: 1}, gt: {seconds: 10}}];
      }`);
    const d = (seconds: number, nanos = 0) => ({ seconds, nanos });
    expect(syntheticRules(root, "D", { c: d(5), i: d(2), x: d(0) })).toEqual([]);
    expect(syntheticRules(root, "D", { x: d(11) })).toEqual([]);
    expect(syntheticRules(root, "D", { c: d(5, 1), i: d(3), x: d(1) })).toEqual([
      "c duration.const",
      "i duration.in",
      "x duration.lt+gt",
    ]);
    expect(syntheticRules(root, "D", { x: d(10) })).toEqual(["x duration.lt+gt"]);
    expect(syntheticRules(root, "D", { c: d(5, 1_000_000_000) })).toEqual(["c duration"]);
  });

  it("timestamps: required and ranges", () => {
    const root = syntheticRoot(`
      import "google/protobuf/timestamp.proto";
      message TS {
        google.protobuf.Timestamp t = 1 [(validate.rules).timestamp = {required: true, gte: {seconds: 1000}, lt: {seconds: 2000}}];
      }`);
    expect(syntheticRules(root, "TS", { t: { seconds: 1000 } })).toEqual([]);
    expect(syntheticRules(root, "TS", {})).toEqual(["t timestamp.required"]);
    expect(syntheticRules(root, "TS", { t: { seconds: 999, nanos: 999_999_999 } })).toEqual(["t timestamp.gte"]);
    expect(syntheticRules(root, "TS", { t: { seconds: 2000 } })).toEqual(["t timestamp.lt"]);
  });
});

describe("number rules", () => {
  it("uint32 lte: a port above 65535", () => {
    const assignment = (port: number) => ({
      cluster_name: "outbound|9080||reviews.default.svc.cluster.local",
      endpoints: [
        { lb_endpoints: [{ endpoint: { address: { socket_address: { address: "10.0.0.1", port_value: port } } } }] },
      ],
    });
    expect(brokenRules(ENDPOINTS, assignment(65535))).toEqual([]);
    expect(brokenRules(ENDPOINTS, assignment(65536))).toEqual([
      "endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value uint32.lte",
    ]);
  });

  it("uint32 on a wrapper: checked only when set (least_request choice_count gte 2)", () => {
    const lr = (config: Record<string, unknown>) => ({
      ...cluster,
      lb_policy: "LEAST_REQUEST",
      least_request_lb_config: config,
    });
    expect(brokenRules(CLUSTER, lr({}))).toEqual([]);
    expect(brokenRules(CLUSTER, lr({ choice_count: 2 }))).toEqual([]);
    expect(brokenRules(CLUSTER, lr({ choice_count: 1 }))).toEqual(["least_request_lb_config.choice_count uint32.gte"]);
  });

  it("uint32 [gte, lte] with message.required: HTTP/2 settings parameters", () => {
    const settings = (parameter: Record<string, unknown>) =>
      withHttpOptions({
        explicit_http_config: { http2_protocol_options: { custom_settings_parameters: [{ value: 1, ...parameter }] } },
      });
    const path = `${HTTP_OPTIONS_PATH}.explicit_http_config.http2_protocol_options.custom_settings_parameters[0].identifier`;
    expect(brokenRules(CLUSTER, settings({ identifier: 65535 }))).toEqual([]);
    expect(brokenRules(CLUSTER, settings({ identifier: 65536 }))).toEqual([`${path} uint32.lte`]);
    expect(brokenRules(CLUSTER, settings({}))).toEqual([`${path} message.required`]);
  });

  it("uint64 lte on a wrapper: ring hash minimum_ring_size", () => {
    const ring = (size: string) => ({
      ...cluster,
      lb_policy: "RING_HASH",
      ring_hash_lb_config: { minimum_ring_size: size },
    });
    expect(brokenRules(CLUSTER, ring("8388608"))).toEqual([]);
    expect(brokenRules(CLUSTER, ring("8388609"))).toEqual(["ring_hash_lb_config.minimum_ring_size uint64.lte"]);
  });

  it("double [gte, lte]: panic threshold percent and preconnect ratio", () => {
    const panic = (value: number) => ({ ...cluster, common_lb_config: { healthy_panic_threshold: { value } } });
    expect(brokenRules(CLUSTER, panic(100))).toEqual([]);
    expect(brokenRules(CLUSTER, panic(100.5))).toEqual(["common_lb_config.healthy_panic_threshold.value double.lte"]);
    expect(brokenRules(CLUSTER, panic(-1))).toEqual(["common_lb_config.healthy_panic_threshold.value double.gte"]);
    const preconnect = (ratio: number) => ({ ...cluster, preconnect_policy: { per_upstream_preconnect_ratio: ratio } });
    expect(brokenRules(CLUSTER, preconnect(0.5))).toEqual([
      "preconnect_policy.per_upstream_preconnect_ratio double.gte",
    ]);
    expect(brokenRules(CLUSTER, preconnect(3))).toEqual([]);
  });

  it("int64 gt: max_active_downstream_connections", () => {
    const type = "envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig";
    expect(brokenRules(type, { max_active_downstream_connections: "1" })).toEqual([]);
    expect(brokenRules(type, { max_active_downstream_connections: "0" })).toEqual([
      "max_active_downstream_connections int64.gt",
    ]);
  });

  it("ranges per the ltgt template: inside, exclusive, and each bound alone; const, in, not_in, ignore_empty, float", () => {
    const root = syntheticRoot(`
      message N {
        int32 inside = 1 [(validate.rules).int32 = {gt: 0, lt: 10}];
        int32 outside = 2 [(validate.rules).int32 = {lt: 0, gt: 10}];
        int32 outside_incl = 3 [(validate.rules).int32 = {lte: 0, gte: 10}];
        sint64 c = 4 [(validate.rules).sint64.const = -5];
        uint64 i = 5 [(validate.rules).uint64 = {in: [4294967296, 1]}];
        fixed32 n = 6 [(validate.rules).fixed32 = {not_in: [7]}];
        uint32 e = 7 [(validate.rules).uint32 = {ignore_empty: true, gte: 100}];
        float f = 8 [(validate.rules).float = {gt: 0.1}];
      }`);
    const ok = { inside: 5, outside: -1, outside_incl: 0, c: -5, i: "4294967296", n: 8, e: 0, f: 0.2 };
    expect(syntheticRules(root, "N", ok)).toEqual([]);
    expect(syntheticRules(root, "N", { ...ok, outside: 11, outside_incl: 10 })).toEqual([]);
    expect(
      syntheticRules(root, "N", { inside: 10, outside: 5, outside_incl: 5, c: 5, i: "2", n: 7, e: 99, f: 0.1 }),
    ).toEqual([
      "inside int32.lt",
      "outside int32.lt+gt",
      "outside_incl int32.lte+gte",
      "c sint64.const",
      "i uint64.in",
      "n fixed32.not_in",
      "e uint32.gte",
      "f float.gt",
    ]);
    expect(syntheticRules(root, "N", { ...ok, inside: 0 })).toEqual(["inside int32.gt"]);
  });
});

describe("enum rules", () => {
  it("defined_only: an unknown lb_policy number", () => {
    expect(brokenRulesOf(CLUSTER, { ...cluster, connect_timeout: { seconds: 10 }, lb_policy: 99 })).toEqual([
      "lb_policy enum.defined_only",
    ]);
  });

  it("not_in: a health check may not use CONNECT", () => {
    expect(brokenRules(CLUSTER, healthCheckedCluster({ path: "/healthz", method: "GET" }))).toEqual([]);
    expect(brokenRules(CLUSTER, healthCheckedCluster({ path: "/healthz", method: "CONNECT" }))).toEqual([
      "health_checks[0].http_health_check.method enum.not_in",
    ]);
  });

  it("repeated items defined_only", () => {
    const statuses = (s: unknown[]) => ({ statuses: s });
    expect(brokenRulesOf("envoy.config.core.v3.HealthStatusSet", statuses([1, 2]))).toEqual([]);
    expect(brokenRulesOf("envoy.config.core.v3.HealthStatusSet", statuses([1, 42]))).toEqual([
      "statuses[1] repeated.items.enum.defined_only",
    ]);
  });
});

describe("repeated and map rules", () => {
  it("min_items: a virtual host without domains, weighted clusters without clusters", () => {
    expect(brokenRules(ROUTE_CONFIG, routeConfig(okRoute, { domains: [] }))).toEqual([
      "virtual_hosts[0].domains repeated.min_items",
    ]);
    expect(
      brokenRules(ROUTE_CONFIG, routeConfig({ ...okRoute, route: { weighted_clusters: { clusters: [] } } })),
    ).toEqual(["virtual_hosts[0].routes[0].route.weighted_clusters.clusters repeated.min_items"]);
  });

  it("items: a header to remove must be a non-empty header name", () => {
    expect(brokenRules(ROUTE_CONFIG, routeConfig(okRoute, { request_headers_to_remove: ["x-a", ""] }))).toEqual([
      "virtual_hosts[0].request_headers_to_remove[1] repeated.items.string.min_len",
    ]);
  });

  it("items in: response flags of an access log filter", () => {
    const filter = (flags: string[]) =>
      listener({
        access_log: [
          {
            name: "envoy.access_loggers.file",
            filter: { response_flag_filter: { flags } },
            typed_config: { "@type": `${T}envoy.extensions.access_loggers.file.v3.FileAccessLog`, path: "/dev/stdout" },
          },
        ],
      });
    expect(brokenRules(LISTENER, filter(["UH", "NR"]))).toEqual([]);
    expect(brokenRules(LISTENER, filter(["UH", "XX"]))).toEqual([
      `${HCM_PATH}.access_log[0].filter.response_flag_filter.flags[1] repeated.items.string.in`,
    ]);
  });

  it("unique: response headers to copy on an internal redirect", () => {
    const redirect = (headers: string[]) =>
      routeConfig({
        ...okRoute,
        route: { ...okRoute.route, internal_redirect_policy: { response_headers_to_copy: headers } },
      });
    expect(brokenRules(ROUTE_CONFIG, redirect(["x-a", "x-b"]))).toEqual([]);
    expect(brokenRules(ROUTE_CONFIG, redirect(["x-a", "x-a"]))).toEqual([
      "virtual_hosts[0].routes[0].route.internal_redirect_policy.response_headers_to_copy[1] repeated.unique",
    ]);
  });

  it("max_items: at most 1000 request headers on a health check", () => {
    const headers = Array.from({ length: 1001 }, (_, i) => ({ header: { key: `x-${i}`, value: "v" } }));
    expect(
      brokenRules(CLUSTER, healthCheckedCluster({ path: "/healthz", request_headers_to_add: headers.slice(0, 1000) })),
    ).toEqual([]);
    expect(brokenRules(CLUSTER, healthCheckedCluster({ path: "/healthz", request_headers_to_add: headers }))).toEqual([
      "health_checks[0].http_health_check.request_headers_to_add repeated.max_items",
    ]);
  });

  it("map keys: filter metadata keys must not be empty", () => {
    expect(brokenRules(CLUSTER, { ...cluster, metadata: { filter_metadata: { istio: { a: 1 } } } })).toEqual([]);
    expect(brokenRules(CLUSTER, { ...cluster, metadata: { filter_metadata: { "": { a: 1 } } } })).toEqual([
      'metadata.filter_metadata[""] map.keys.string.min_len',
    ]);
  });

  it("map values and min_pairs", () => {
    const bucket = "envoy.service.rate_limit_quota.v3.BucketId";
    expect(brokenRules(bucket, { bucket: { name: "x" } })).toEqual([]);
    expect(brokenRules(bucket, { bucket: { name: "" } })).toEqual(['bucket["name"] map.values.string.min_len']);
    expect(brokenRules(bucket, {})).toEqual(["bucket map.min_pairs"]);
  });

  it("map values of message type are validated recursively", () => {
    const options = { [HTTP_OPTIONS]: { "@type": `${T}${HTTP_OPTIONS}` } };
    expect(brokenRules(CLUSTER, { ...cluster, typed_extension_protocol_options: options })).toEqual([
      `${HTTP_OPTIONS_PATH}.upstream_protocol_options oneof.required`,
    ]);
  });
});

describe("bytes, bool and Any rules", () => {
  it("bytes: max_len of a raw header value, and the other bytes rules", () => {
    const header = (raw: number) =>
      routeConfig(okRoute, {
        request_headers_to_add: [{ header: { key: "x", raw_value: Buffer.alloc(raw).toString("base64") } }],
      });
    expect(brokenRules(ROUTE_CONFIG, header(16384))).toEqual([]);
    expect(brokenRules(ROUTE_CONFIG, header(16385))).toEqual([
      "virtual_hosts[0].request_headers_to_add[0].header.raw_value bytes.max_len",
    ]);
    const root = syntheticRoot(`
      message B {
        bytes c = 1 [(validate.rules).bytes.const = "ab"];
        bytes p = 2 [(validate.rules).bytes = {prefix: "<", suffix: ">", contains: "ab"}];
        bytes l = 3 [(validate.rules).bytes = {len: 3}];
        bytes e = 4 [(validate.rules).bytes = {ignore_empty: true, min_len: 4}];
      }`);
    const ok = { c: [0x61, 0x62], p: [0x3c, 0x61, 0x62, 0x3e], l: [1, 2, 3], e: [] };
    const bytes = (o: Record<string, number[]>) =>
      Object.fromEntries(Object.entries(o).map(([k, v]) => [k, new Uint8Array(v)]));
    expect(syntheticRules(root, "B", bytes(ok))).toEqual([]);
    expect(syntheticRules(root, "B", bytes({ c: [0x61], p: [0x3e, 0x61, 0x3c], l: [1], e: [1] }))).toEqual([
      "c bytes.const",
      "p bytes.prefix",
      "p bytes.suffix",
      "p bytes.contains",
      "l bytes.len",
      "e bytes.min_len",
    ]);
  });

  it("any.required: a typed extension config without its config", () => {
    const type = "envoy.config.core.v3.TypedExtensionConfig";
    expect(brokenRules(type, { name: "envoy.filters.http.router", typed_config: { "@type": ROUTER } })).toEqual([]);
    expect(brokenRules(type, { name: "envoy.filters.http.router" })).toEqual(["typed_config any.required"]);
  });

  it("Any payloads are validated by type URL: an HCM without stat_prefix", () => {
    expect(brokenRules(LISTENER, listener({ stat_prefix: "" }))).toEqual([`${HCM_PATH}.stat_prefix string.min_len`]);
  });

  it("TypedStruct payloads are converted to their type and validated", () => {
    // envoyRoot() does not load xds.type.v3.TypedStruct (an Any holding one is reported as unchecked), so use a root that does.
    const root = syntheticRoot(`
      import "google/protobuf/any.proto";
      message Target { string name = 1 [(validate.rules).string.min_len = 1]; }
      message Holder { google.protobuf.Any config = 1; }`);
    root.loadSync("xds/type/v3/typed_struct.proto", { keepCase: true });
    root.resolveAll();
    const holder = (name: string) => {
      const typed = checkProtoJson(
        "xds.type.v3.TypedStruct",
        { type_url: `${T}pgvtest.Target`, value: { name } },
        root,
      );
      if (!typed.ok) throw new Error(JSON.stringify(typed.errors));
      const value = root.lookupType("xds.type.v3.TypedStruct").encode(typed.message).finish();
      return { config: { type_url: `${T}xds.type.v3.TypedStruct`, value } };
    };
    expect(syntheticRules(root, "Holder", holder("x"))).toEqual([]);
    expect(syntheticRules(root, "Holder", holder(""))).toEqual(["config.value.name string.min_len"]);
  });

  it("any in / not_in on type URLs", () => {
    const root = syntheticRoot(`
      import "google/protobuf/any.proto";
      message A {
        google.protobuf.Any in = 1 [(validate.rules).any = {in: ["type.googleapis.com/google.protobuf.Duration"]}];
        google.protobuf.Any out = 2 [(validate.rules).any = {not_in: ["type.googleapis.com/google.protobuf.Duration"]}];
      }`);
    const duration = { type_url: "type.googleapis.com/google.protobuf.Duration", value: new Uint8Array() };
    const timestamp = { type_url: "type.googleapis.com/google.protobuf.Timestamp", value: new Uint8Array() };
    expect(syntheticRules(root, "A", { in: duration, out: timestamp })).toEqual([]);
    expect(syntheticRules(root, "A", { in: timestamp, out: duration })).toEqual([
      "in.type_url any.in",
      "out.type_url any.not_in",
    ]);
  });
});

describe("rules that cannot be checked are reported, not passed silently", () => {
  it("no rule of Envoy's protos uses a string escape that protobufjs's option parser would mangle", () => {
    // protobufjs unescapes only \\ \0 \r \n \t in option strings and drops any other escape entirely.
    const files = new Set<string>();
    const collect = (ns: protobuf.NamespaceBase) => {
      for (const nested of ns.nestedArray) {
        if (nested.filename) files.add(nested.filename);
        if (nested instanceof protobuf.Namespace) collect(nested);
      }
    };
    collect(envoyRoot());
    let escaped = 0;
    const mangled: string[] = [];
    for (const file of files) {
      const code = readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => !line.trim().startsWith("//"))
        .join("\n");
      for (const literal of code.match(/"(?:[^"\\\n]|\\.)*"/g) ?? []) {
        if (literal.includes("\\")) escaped++;
        if (/\\[^\\0rnt]/.test(literal.replace(/\\\\/g, ""))) mangled.push(`${file}: ${literal}`);
      }
    }
    expect(escaped).toBeGreaterThan(0); // the `\\.` of a few patterns, which protobufjs reads right
    expect(files.size).toBeGreaterThan(100);
    expect(mangled).toEqual([]);
  });

  it("reports rules Envoy's C++ validators lack, unknown rules, and Any payloads of unknown types", () => {
    const root = syntheticRoot(`
      import "google/protobuf/any.proto";
      message U {
        string email = 1 [(validate.rules).string.email = true];
        string future = 2 [(validate.rules).string.future_rule = 3];
        google.protobuf.Any any = 3;
        string unset = 4 [(validate.rules).string.email = false];
      }`);
    const report = syntheticReport(root, "U", {
      email: "a@b",
      future: "x",
      any: { type_url: "type.googleapis.com/nobody.Knows", value: new Uint8Array() },
    });
    expect(report.violations).toEqual([]);
    expect(report.unchecked.map((u) => `${u.path} ${u.rule}`)).toEqual([
      "email string.email",
      "future string.future_rule",
      "any any.payload",
    ]);
  });
});

// ---------------------------------------------------------------------------
// Everything Trellis generates must pass.

const here = dirname(fileURLToPath(import.meta.url));
const GOLDEN = join(here, "../translate/testdata/out");
const SECTIONS: Record<string, string> = {
  clusters: CLUSTER,
  endpoints: ENDPOINTS,
  listeners: LISTENER,
  routes: ROUTE_CONFIG,
};

function problemsOf(typeName: string, json: unknown): string[] {
  const converted = checkProtoJson(typeName, json);
  if (!converted.ok) return converted.errors.map((e) => `${e.path}: ${e.message}`);
  const report = checkEnvoyMessage(typeName, converted.message);
  return [
    ...report.violations.map((v) => `${v.path}: ${v.rule}: ${v.message}`),
    ...report.unchecked.map((v) => `${v.path}: ${v.rule} NOT CHECKED: ${v.message}`),
  ];
}

describe("golden translator outputs satisfy Envoy's PGV rules", () => {
  const files = readdirSync(GOLDEN)
    .filter((f) => f.endsWith(".yaml"))
    .sort();

  it("has golden outputs to check", () => {
    expect(files.length).toBeGreaterThan(0);
  });

  for (const file of files) {
    it(file, () => {
      const doc = YAML.parse(readFileSync(join(GOLDEN, file), "utf8")) as Record<string, unknown>;
      const problems: string[] = [];
      for (const [section, typeName] of Object.entries(SECTIONS)) {
        const resources = (doc[section] ?? []) as { name?: string; cluster_name?: string }[];
        for (const resource of resources) {
          const name = resource.name ?? resource.cluster_name;
          for (const p of problemsOf(typeName, resource)) problems.push(`${section} ${name}: ${p}`);
        }
      }
      expect(problems).toEqual([]);
    });
  }
});

describe("Envoy bootstraps satisfy Envoy's PGV rules", () => {
  const base: EnvoyBootstrapOptions = {
    nodeId: "sidecar~10.244.1.17~reviews-v1-7d5c9b8f6-x2x9z.default~default.svc.cluster.local",
    xdsAddress: "trellis.trellis-system.svc:15010",
  };
  const variants: [string, EnvoyBootstrapOptions][] = [
    ["defaults (DELTA_GRPC, DNS name)", base],
    ["GRPC", { ...base, apiType: "GRPC" }],
    ["an IPv4 control plane", { ...base, xdsAddress: "10.96.0.10:15012" }],
    ["an IPv6 control plane", { ...base, xdsAddress: "[fd00::10]:15012" }],
    [
      "metadata, locality, ports, timeout and admin access log",
      {
        ...base,
        cluster: "reviews.default",
        metadata: { NAMESPACE: "default", LABELS: { app: "reviews" }, ANNOTATIONS: null },
        locality: { region: "us-east1", zone: "us-east1-b", sub_zone: "rack7" },
        adminPort: 15100,
        statsPort: 15190,
        readinessPort: 15121,
        xdsConnectTimeout: "0.5s",
        adminAccessLogPath: "/dev/stdout",
      },
    ],
  ];
  for (const [label, opts] of variants) {
    it(label, () => {
      expect(problemsOf(BOOTSTRAP, envoyBootstrap(opts))).toEqual([]);
    });
  }

  it("would catch a bad bootstrap (a zero connect timeout)", () => {
    expect(problemsOf(BOOTSTRAP, envoyBootstrap({ ...base, xdsConnectTimeout: "0s" }))).toEqual([
      "static_resources.clusters[0].connect_timeout: duration.gt: value must be greater than 0s",
    ]);
  });
});
