// Builds ProxyViews from plain Envoy resource objects, for protocol tests that
// need config without any mesh semantics.
import { CLUSTER, ENDPOINT, LISTENER, ROUTE } from "../../src/envoy/type-urls.js";
import { type EncodedResource, encodeResource } from "../../src/xds/resource.js";
import type { ProxyView } from "../../src/xds/stream.js";

export function cluster(name: string, connectTimeoutS = 1) {
  return {
    name,
    type: "EDS",
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: "V3" }, service_name: name },
    connect_timeout: { seconds: String(connectTimeoutS) },
    lb_policy: "ROUND_ROBIN",
  };
}

export function endpoints(name: string, ports: number[]) {
  return {
    cluster_name: name,
    endpoints: [
      {
        locality: {},
        load_balancing_weight: { value: 1 },
        lb_endpoints: ports.map((port) => ({
          health_status: "HEALTHY",
          endpoint: { address: { socket_address: { address: "127.0.0.1", port_value: port } } },
        })),
      },
    ],
  };
}

export function listener(name: string, routeName: string) {
  return {
    name,
    api_listener: {
      api_listener: {
        "@type":
          "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        stat_prefix: name,
        rds: { route_config_name: routeName, config_source: { ads: {}, resource_api_version: "V3" } },
        http_filters: [
          {
            name: "router",
            typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
          },
        ],
      },
    },
  };
}

export function route(name: string, domain: string, clusterName: string) {
  return {
    name,
    virtual_hosts: [
      { name: domain, domains: [domain], routes: [{ match: { prefix: "" }, route: { cluster: clusterName } }] },
    ],
  };
}

export interface PlainConfig {
  clusters?: object[];
  endpoints?: object[];
  listeners?: object[];
  routes?: object[];
}

export function makeView(cfg: PlainConfig): ProxyView {
  const view = new Map<string, Map<string, EncodedResource>>();
  const add = (typeUrl: string, list: object[] | undefined, nameKey: "name" | "cluster_name") => {
    const m = new Map<string, EncodedResource>();
    for (const r of list ?? []) {
      const name = (r as Record<string, string>)[nameKey] as string;
      const enc = encodeResource(typeUrl, name, r);
      if (!enc.ok) throw new Error(enc.error);
      m.set(name, enc.value);
    }
    view.set(typeUrl, m);
  };
  add(CLUSTER, cfg.clusters, "name");
  add(ENDPOINT, cfg.endpoints, "cluster_name");
  add(LISTENER, cfg.listeners, "name");
  add(ROUTE, cfg.routes, "name");
  return view;
}
