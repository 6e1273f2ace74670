import { validateBootstrapConfig } from "@grpc/grpc-js-xds/build/src/xds-bootstrap.js";
import { describe, expect, it } from "vitest";
import {
  ADMIN_CLUSTER,
  type AdsApiType,
  type EnvoyBootstrapOptions,
  envoyBootstrap,
  grpcBootstrap,
  parseHostPort,
  READINESS_PATH,
  STATS_PATH,
  XDS_CLUSTER,
} from "./bootstrap.js";
import { checkProtoJson, type JsonObject, toProtoJson } from "./proto-json.js";
import { messageType } from "./protos.js";

const BOOTSTRAP = "envoy.config.bootstrap.v3.Bootstrap";

const podMetadata = {
  NAME: "reviews-v1-7d5c9b8f6-x2x9z",
  NAMESPACE: "default",
  LABELS: { app: "reviews", version: "v1", "security.istio.io/tlsMode": "istio" },
  SERVICE_ACCOUNT: "bookinfo-reviews",
  INSTANCE_IPS: "10.244.1.17,fd00::17",
  POD_PORTS: [{ containerPort: 9080, protocol: "TCP" }],
  CLUSTER_ID: "Kubernetes",
  ANNOTATIONS: null,
};

const base: EnvoyBootstrapOptions = {
  nodeId: "sidecar~10.244.1.17~reviews-v1-7d5c9b8f6-x2x9z.default~default.svc.cluster.local",
  xdsAddress: "trellis.trellis-system.svc:15010",
};

function encodeOk(json: unknown): Uint8Array {
  const result = checkProtoJson(BOOTSTRAP, json);
  if (!result.ok) throw new Error(`bootstrap rejected: ${JSON.stringify(result.errors, null, 2)}`);
  return messageType(BOOTSTRAP).encode(result.message).finish();
}

// biome-ignore lint/suspicious/noExplicitAny: walking generated JSON in assertions
type Obj = Record<string, any>;

/** The listener on `port` and the single route of its HCM. */
function routeOn(bootstrap: JsonObject, port: number): { route: Obj; hcm: Obj } {
  const listeners = (bootstrap.static_resources as Obj).listeners as Obj[];
  const listener = listeners.find((l) => l.address.socket_address.port_value === port);
  if (!listener) throw new Error(`no listener on ${port}`);
  const hcm = listener.filter_chains[0].filters[0].typed_config;
  return { route: hcm.route_config.virtual_hosts[0].routes[0], hcm };
}

function cluster(bootstrap: JsonObject, name: string): Obj {
  const found = ((bootstrap.static_resources as Obj).clusters as Obj[]).find((c) => c.name === name);
  if (!found) throw new Error(`no cluster ${name}`);
  return found;
}

describe("envoyBootstrap", () => {
  const variants: [string, EnvoyBootstrapOptions][] = [];
  for (const apiType of ["GRPC", "DELTA_GRPC"] as AdsApiType[]) {
    variants.push([`${apiType} without metadata`, { ...base, apiType }]);
    variants.push([
      `${apiType} with metadata and locality`,
      {
        ...base,
        apiType,
        cluster: "reviews.default",
        metadata: podMetadata,
        locality: { region: "us-east1", zone: "us-east1-b", sub_zone: "rack7" },
      },
    ]);
  }

  for (const [label, opts] of variants) {
    it(`is a valid Envoy Bootstrap that survives encoding (${label})`, () => {
      const bootstrap = envoyBootstrap(opts);
      const result = checkProtoJson(BOOTSTRAP, bootstrap);
      expect(result.ok ? [] : result.errors).toEqual([]);
      const bytes = encodeOk(bootstrap);
      const decoded = messageType(BOOTSTRAP).decode(bytes);
      expect(toProtoJson(BOOTSTRAP, decoded)).toEqual(bootstrap);
      expect((bootstrap.dynamic_resources as Obj).ads_config.api_type).toBe(opts.apiType);
    });
  }

  it("defaults to Delta ADS over the xds-grpc cluster, sending the node once", () => {
    const dynamic = envoyBootstrap(base).dynamic_resources as Obj;
    expect(dynamic.ads_config).toEqual({
      api_type: "DELTA_GRPC",
      transport_api_version: "V3",
      grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER } }],
      set_node_on_first_message_only: true,
    });
    expect(dynamic.lds_config).toMatchObject({ ads: {}, resource_api_version: "V3" });
    expect(dynamic.cds_config).toMatchObject({ ads: {}, resource_api_version: "V3" });
  });

  it("carries the node identity, metadata as a Struct, and locality", () => {
    const bootstrap = envoyBootstrap({
      ...base,
      cluster: "reviews.default",
      metadata: { ...podMetadata, OPTIONAL: undefined },
      locality: { region: "us-east1", zone: "us-east1-b" },
    });
    expect(bootstrap.node).toEqual({
      id: base.nodeId,
      cluster: "reviews.default",
      metadata: podMetadata,
      locality: { region: "us-east1", zone: "us-east1-b" },
    });
    expect(envoyBootstrap(base).node).toEqual({ id: base.nodeId });
  });

  it("dials a DNS name with STRICT_DNS and an IP with STATIC, over HTTP/2 with keepalive", () => {
    const byName = cluster(envoyBootstrap(base), XDS_CLUSTER);
    expect(byName.type).toBe("STRICT_DNS");
    expect(byName.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({
      address: "trellis.trellis-system.svc",
      port_value: 15010,
    });
    const options = byName.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
    expect(options["@type"]).toBe("type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
    expect(options.explicit_http_config.http2_protocol_options.connection_keepalive).toBeDefined();
    expect(byName.connect_timeout).toBe("1s");

    for (const [address, host] of [
      ["10.96.0.15:15010", "10.96.0.15"],
      ["[fd00::15]:15010", "fd00::15"],
    ]) {
      const bootstrap = envoyBootstrap({ ...base, xdsAddress: address as string });
      const byIp = cluster(bootstrap, XDS_CLUSTER);
      // STATIC is the enum's zero value, but `type` is a oneof choice, so it is kept.
      expect(byIp.type).toBe("STATIC");
      expect(toProtoJson(BOOTSTRAP, encodeOk(bootstrap))).toEqual(bootstrap);
      expect(byIp.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address).toBe(host);
    }
  });

  it("serves Prometheus stats on 15090 and readiness on 15021 from the admin on 127.0.0.1:15000", () => {
    const bootstrap = envoyBootstrap(base);
    expect(bootstrap.admin).toEqual({ address: { socket_address: { address: "127.0.0.1", port_value: 15000 } } });
    const stats = routeOn(bootstrap, 15090);
    expect(stats.route).toEqual({ match: { prefix: STATS_PATH }, route: { cluster: ADMIN_CLUSTER } });
    expect(stats.hcm.http_filters.map((f: Obj) => f.name)).toEqual(["envoy.filters.http.router"]);
    const ready = routeOn(bootstrap, 15021);
    expect(ready.route).toEqual({
      match: { path: READINESS_PATH },
      route: { cluster: ADMIN_CLUSTER, prefix_rewrite: "/ready" },
    });
    const admin = cluster(bootstrap, ADMIN_CLUSTER);
    expect(admin.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({
      address: "127.0.0.1",
      port_value: 15000,
    });
  });

  it("lets every port be moved, and logs admin access only when asked", () => {
    const bootstrap = envoyBootstrap({
      ...base,
      adminPort: 19000,
      statsPort: 19090,
      readinessPort: 19021,
      adminAccessLogPath: "/dev/null",
    });
    expect(checkProtoJson(BOOTSTRAP, bootstrap).ok).toBe(true);
    expect(routeOn(bootstrap, 19090).route.match.prefix).toBe(STATS_PATH);
    expect(routeOn(bootstrap, 19021).route.match.path).toBe(READINESS_PATH);
    expect(
      cluster(bootstrap, ADMIN_CLUSTER).load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address
        .port_value,
    ).toBe(19000);
    expect((bootstrap.admin as Obj).address.socket_address.port_value).toBe(19000);
    expect((bootstrap.admin as Obj).access_log[0].typed_config).toEqual({
      "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
      path: "/dev/null",
    });
  });

  it("is caught by the checker when broken, with the path of the mistake", () => {
    const bootstrap = structuredClone(envoyBootstrap(base)) as Obj;
    const xds = bootstrap.static_resources.clusters[0];
    const h2 = xds.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
    h2.explicit_http_config.http2_protocol_options.connection_keepalive.intervall = "30s";
    bootstrap.dynamic_resources.ads_config.api_type = "SOTW";
    const result = checkProtoJson(BOOTSTRAP, bootstrap);
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.errors.map((e) => e.path)).toEqual([
      "dynamic_resources.ads_config.api_type",
      'static_resources.clusters[0].typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"].explicit_http_config.http2_protocol_options.connection_keepalive.intervall',
    ]);
  });

  it("refuses an xDS address that is not host:port", () => {
    for (const bad of ["trellis", "trellis:0", "trellis:99999", ":15010", "fd00::1:15010", "[nothost]:15010"]) {
      expect(parseHostPort(bad).ok, bad).toBe(false);
      expect(() => envoyBootstrap({ ...base, xdsAddress: bad }), bad).toThrow(/xdsAddress/);
    }
    expect(parseHostPort("[::1]:15010")).toEqual({ ok: true, value: { host: "::1", port: 15010 } });
  });
});

describe("grpcBootstrap", () => {
  it("has what @grpc/grpc-js-xds requires, as its own validator reads it", () => {
    const bootstrap = grpcBootstrap({
      nodeId: "grpc~10.244.1.20~client.default~default.svc.cluster.local",
      xdsAddress: "trellis:15010",
    });
    expect(bootstrap).toEqual({
      xds_servers: [
        { server_uri: "trellis:15010", channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] },
      ],
      node: { id: "grpc~10.244.1.20~client.default~default.svc.cluster.local", locality: {} },
      server_listener_resource_name_template: "grpc/server?xds.resource.listening_address=%s",
    });
    const info = validateBootstrapConfig(bootstrap);
    expect(info.node.id).toBe("grpc~10.244.1.20~client.default~default.svc.cluster.local");
    expect(info.xdsServers[0]?.server_uri).toBe("trellis:15010");
    expect(info.xdsServers[0]?.channel_creds).toEqual([{ type: "insecure", config: undefined }]);
    expect(info.serverListenerResourceNameTemplate).toBe("grpc/server?xds.resource.listening_address=%s");
  });

  it("passes cluster, metadata and locality through", () => {
    const bootstrap = grpcBootstrap({
      nodeId: "n",
      cluster: "client.default",
      metadata: { NAMESPACE: "default", LABELS: { app: "client" } },
      locality: { region: "eu", zone: "eu-1" },
      xdsAddress: "dns:///trellis.trellis-system.svc:15010",
    });
    const info = validateBootstrapConfig(bootstrap);
    expect(info.node.cluster).toBe("client.default");
    expect(info.node.locality).toEqual({ region: "eu", zone: "eu-1" });
    expect(info.node.metadata?.fields?.NAMESPACE).toEqual({ kind: "stringValue", stringValue: "default" });
  });

  it("declares the workload's certificate files as file_watcher provider instance default, which grpc-js-xds accepts", () => {
    const bootstrap = grpcBootstrap({
      nodeId: "n",
      xdsAddress: "trellis:15010",
      certificateProviders: {
        certificateFile: "/certs/cert-chain.pem",
        privateKeyFile: "/certs/key.pem",
        caCertificateFile: "/certs/root-cert.pem",
      },
    });
    expect(bootstrap.certificate_providers).toEqual({
      default: {
        plugin_name: "file_watcher",
        config: {
          certificate_file: "/certs/cert-chain.pem",
          private_key_file: "/certs/key.pem",
          ca_certificate_file: "/certs/root-cert.pem",
          refresh_interval: "900s",
        },
      },
    });
    const info = validateBootstrapConfig(bootstrap);
    expect(info.certificateProviders.default).toEqual({
      pluginName: "file_watcher",
      config: {
        certificateFile: "/certs/cert-chain.pem",
        privateKeyFile: "/certs/key.pem",
        caCertificateFile: "/certs/root-cert.pem",
        refreshIntervalMs: 900_000,
      },
    });
  });
});
