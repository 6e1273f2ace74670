// Protocol tests written from the xDS protocol specification
// (envoy/api-docs/xds_protocol), driven by a raw ADS client so every edge case
// is scripted exactly. Both SotW and Delta.
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { DeltaClient, node, SotwClient } from "../../test/support/ads-client.js";
import { cluster, endpoints, listener, route } from "../../test/support/views.js";
import { startTestServer, type TestServer } from "../../test/support/xds-server.js";
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET } from "../envoy/type-urls.js";

let srv: TestServer | undefined;
const clients: { close(): void }[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await srv?.stop();
  srv = undefined;
});

function sotw(s: TestServer, service?: string, method?: string) {
  const c = new SotwClient(s.address, service, method);
  clients.push(c);
  return c;
}
function delta(s: TestServer, service?: string, method?: string) {
  const c = new DeltaClient(s.address, service, method);
  clients.push(c);
  return c;
}
const names = (r: { resources: { name: string }[] }) => r.resources.map((x) => x.name).sort();

describe("SotW ADS", () => {
  it("answers the first request with the full state, a version and a nonce, and is quiet after the ACK", async () => {
    srv = await startTestServer({ clusters: [cluster("a"), cluster("b")] });
    const c = sotw(srv);
    c.send({ node: node("p1"), type_url: CLUSTER, resource_names: [] });
    const r = await c.next();
    expect(r.type_url).toBe(CLUSTER);
    expect(names(r)).toEqual(["a", "b"]);
    expect(r.version_info).not.toBe("");
    expect(r.nonce).not.toBe("");
    expect(r.resources[0]?.value.type).toBe("EDS");
    c.send({ type_url: CLUSTER, version_info: r.version_info, response_nonce: r.nonce });
    expect(await c.quiet()).toBe(true);
  });

  it("sends LDS/CDS as the full state and removes a resource by omission", async () => {
    srv = await startTestServer({ clusters: [cluster("a"), cluster("b")] });
    const c = sotw(srv);
    c.send({ node: node("p1"), type_url: CLUSTER });
    const r1 = await c.next();
    c.send({ type_url: CLUSTER, version_info: r1.version_info, response_nonce: r1.nonce });
    srv.set({ clusters: [cluster("a")] });
    const r2 = await c.next();
    expect(names(r2)).toEqual(["a"]);
    expect(r2.version_info).not.toBe(r1.version_info);
  });

  it("records a NACK with error_detail, keeps quiet instead of re-sending the rejected config, and sends the next change", async () => {
    srv = await startTestServer({ clusters: [cluster("a")] });
    const c = sotw(srv);
    c.send({ node: node("nacker"), type_url: CLUSTER });
    const r1 = await c.next();
    c.send({
      type_url: CLUSTER,
      version_info: "",
      response_nonce: r1.nonce,
      error_detail: { code: 3, message: "cluster a: bad connect_timeout" },
    });
    expect(await c.quiet()).toBe(true);
    const status = srv.server.streamStatuses().find((s) => s.nodeId === "nacker");
    const cds = status?.types.find((t) => t.typeUrl === CLUSTER);
    expect(cds?.state).toBe("NACKED");
    expect(cds?.lastNack?.message).toContain("bad connect_timeout");
    expect(cds?.lastNack?.resourceNames).toEqual(["a"]);
    expect(cds?.ackedVersion).toBe("");
    const metrics = await srv.registry.getSingleMetricAsString("trellis_xds_nacks_total");
    expect(metrics).toMatch(/trellis_xds_nacks_total\{type="CDS"\} 1/);
    srv.set({ clusters: [cluster("a", 2)] });
    const r2 = await c.next();
    expect(r2.resources[0]?.value.connect_timeout.seconds).toBe("2");
    c.send({ type_url: CLUSTER, version_info: r2.version_info, response_nonce: r2.nonce });
    await c.quiet(100);
    const after = srv.server.streamStatuses().find((s) => s.nodeId === "nacker");
    expect(after?.types.find((t) => t.typeUrl === CLUSTER)?.state).toBe("SYNCED");
  });

  it("ignores a request carrying a stale nonce while a newer response is outstanding", async () => {
    srv = await startTestServer({ endpoints: [endpoints("a", [1]), endpoints("b", [2])] });
    const c = sotw(srv);
    c.send({ node: node("p1"), type_url: ENDPOINT, resource_names: ["a"] });
    const r1 = await c.next();
    // Not an answer to r1: an older nonce. The spec says not to respond to it.
    c.send({ type_url: ENDPOINT, resource_names: ["a", "b"], response_nonce: "some-older-nonce" });
    expect(await c.quiet()).toBe(true);
    const st = srv.server.streamStatuses()[0]?.types.find((t) => t.typeUrl === ENDPOINT);
    expect(st?.resourceNames).toEqual(["a"]);
    // The ACK carries the full subscription again and is honoured.
    c.send({ type_url: ENDPOINT, resource_names: ["a", "b"], version_info: r1.version_info, response_nonce: r1.nonce });
    const r2 = await c.next();
    expect(names(r2)).toEqual(["b"]);
  });

  it("honours subscription changes: adds, removes, and re-sends a re-subscribed resource even if unchanged", async () => {
    srv = await startTestServer({ endpoints: [endpoints("a", [1]), endpoints("b", [2])] });
    const c = sotw(srv);
    c.send({ node: node("p1"), type_url: ENDPOINT, resource_names: ["a"] });
    let r = await c.next();
    expect(names(r)).toEqual(["a"]);
    c.send({ type_url: ENDPOINT, resource_names: ["a", "b"], version_info: r.version_info, response_nonce: r.nonce });
    r = await c.next();
    expect(names(r)).toEqual(["b"]);
    c.send({ type_url: ENDPOINT, resource_names: ["a"], version_info: r.version_info, response_nonce: r.nonce });
    expect(await c.quiet()).toBe(true);
    c.send({ type_url: ENDPOINT, resource_names: ["a", "b"], version_info: r.version_info, response_nonce: r.nonce });
    r = await c.next();
    expect(names(r)).toEqual(["b"]);
    expect(r.resources[0]?.value.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value).toBe(2);
  });

  it("sends a requested resource when it springs into existence later", async () => {
    srv = await startTestServer({ routes: [] });
    const c = sotw(srv);
    c.send({ node: node("p1"), type_url: ROUTE, resource_names: ["r1"] });
    expect(await c.quiet()).toBe(true);
    srv.set({ routes: [route("r1", "svc", "c1")] });
    const r = await c.next();
    expect(names(r)).toEqual(["r1"]);
  });

  it("treats an empty LDS/CDS request as wildcard only until the stream names a resource", async () => {
    srv = await startTestServer({ listeners: [listener("l1", "r"), listener("l2", "r")] });
    const c = sotw(srv);
    c.send({ node: node("p1"), type_url: LISTENER, resource_names: ["l1"] });
    let r = await c.next();
    expect(names(r)).toEqual(["l1"]);
    c.send({ type_url: LISTENER, resource_names: [], version_info: r.version_info, response_nonce: r.nonce });
    r = await c.next();
    expect(names(r)).toEqual([]); // unsubscribed from everything, not wildcard
    c.send({ type_url: LISTENER, resource_names: ["*"], version_info: r.version_info, response_nonce: r.nonce });
    r = await c.next();
    expect(names(r)).toEqual(["l1", "l2"]);
  });

  it("pushes CDS before EDS before LDS before RDS", async () => {
    const cfg = {
      clusters: [cluster("c")],
      endpoints: [endpoints("c", [1])],
      listeners: [listener("l", "r")],
      routes: [route("r", "svc", "c")],
    };
    srv = await startTestServer(cfg);
    const c = sotw(srv);
    c.send({ node: node("p1"), type_url: ROUTE, resource_names: ["r"] });
    c.send({ type_url: LISTENER, resource_names: [] });
    c.send({ type_url: ENDPOINT, resource_names: ["c"] });
    c.send({ type_url: CLUSTER, resource_names: [] });
    const ackUntilQuiet = async () => {
      for (;;) {
        let r: Awaited<ReturnType<typeof c.next>>;
        try {
          r = await c.next(300);
        } catch {
          return;
        }
        c.send({
          type_url: r.type_url,
          version_info: r.version_info,
          response_nonce: r.nonce,
          resource_names: r.type_url === ROUTE ? ["r"] : r.type_url === ENDPOINT ? ["c"] : [],
        });
      }
    };
    await ackUntilQuiet();
    // A change touching every type goes out in make-before-break order.
    srv.set({
      clusters: [cluster("c", 5)],
      endpoints: [endpoints("c", [2])],
      listeners: [listener("l", "r")],
      routes: [route("r", "svc2", "c")],
    });
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await c.next();
      order.push(r.type_url);
      // Routes are held back until clusters and endpoints are ACKed.
      if (r.type_url !== ROUTE)
        expect(srv.server.streamStatuses()[0]?.types.find((t) => t.typeUrl === ROUTE)?.pendingNonce).toBe(null);
      c.send({
        type_url: r.type_url,
        version_info: r.version_info,
        response_nonce: r.nonce,
        resource_names: r.type_url === ROUTE ? ["r"] : r.type_url === ENDPOINT ? ["c"] : [],
      });
    }
    expect(order).toEqual([CLUSTER, ENDPOINT, ROUTE]);
  });

  it("re-sends a cluster's endpoints after the cluster changes, even when the endpoints did not (envoy#13009)", async () => {
    srv = await startTestServer({ clusters: [cluster("c")], endpoints: [endpoints("c", [1])] });
    const c = sotw(srv);
    c.send({ node: node("p1"), type_url: CLUSTER });
    const cds = await c.next();
    c.send({ type_url: CLUSTER, version_info: cds.version_info, response_nonce: cds.nonce });
    c.send({ type_url: ENDPOINT, resource_names: ["c"] });
    const eds = await c.next();
    c.send({ type_url: ENDPOINT, resource_names: ["c"], version_info: eds.version_info, response_nonce: eds.nonce });
    srv.set({ clusters: [cluster("c", 9)], endpoints: [endpoints("c", [1])] });
    expect((await c.next()).type_url).toBe(CLUSTER);
    const again = await c.next();
    expect(again.type_url).toBe(ENDPOINT);
    expect(names(again)).toEqual(["c"]);
  });

  it("never serves secrets to an unauthenticated (development) caller", async () => {
    srv = await startTestServer({ clusters: [cluster("a")] });
    const c = sotw(srv);
    c.send({ node: node("p1"), type_url: SECRET, resource_names: ["default"] });
    expect(await c.quiet()).toBe(true);
  });
});

describe("Delta ADS", () => {
  it("treats a first request with empty lists as wildcard and sends every resource with its version", async () => {
    srv = await startTestServer({ clusters: [cluster("a"), cluster("b")] });
    const c = delta(srv);
    c.send({ node: node("d1"), type_url: CLUSTER });
    const r = await c.next();
    expect(names(r)).toEqual(["a", "b"]);
    expect(r.resources.every((x) => typeof x.version === "string" && x.version.length > 0)).toBe(true);
    expect(r.removed_resources).toEqual([]);
  });

  it("sends only the resources that changed, never an unchanged one", async () => {
    srv = await startTestServer({ clusters: [cluster("a"), cluster("b")] });
    const c = delta(srv);
    c.send({ node: node("d1"), type_url: CLUSTER });
    const r1 = await c.next();
    c.send({ type_url: CLUSTER, response_nonce: r1.nonce });
    srv.set({ clusters: [cluster("a"), cluster("b", 7)] });
    const r2 = await c.next();
    expect(names(r2)).toEqual(["b"]);
    c.send({ type_url: CLUSTER, response_nonce: r2.nonce });
    // Same content rebuilt from scratch: nothing to send.
    srv.set({ clusters: [cluster("a"), cluster("b", 7)] });
    expect(await c.quiet()).toBe(true);
  });

  it("reports deleted resources in removed_resources", async () => {
    srv = await startTestServer({ clusters: [cluster("a"), cluster("b")] });
    const c = delta(srv);
    c.send({ node: node("d1"), type_url: CLUSTER });
    const r1 = await c.next();
    c.send({ type_url: CLUSTER, response_nonce: r1.nonce });
    srv.set({ clusters: [cluster("a")] });
    const r2 = await c.next();
    expect(r2.resources).toEqual([]);
    expect(r2.removed_resources).toEqual(["b"]);
  });

  it("subscribes and unsubscribes by name, tells the client a missing name does not exist, and answers a re-subscribe", async () => {
    srv = await startTestServer({ endpoints: [endpoints("a", [1]), endpoints("b", [2])] });
    const c = delta(srv);
    c.send({ node: node("d1"), type_url: ENDPOINT, resource_names_subscribe: ["a", "missing"] });
    let r = await c.next();
    expect(names(r)).toEqual(["a"]);
    expect(r.removed_resources).toEqual(["missing"]);
    c.send({ type_url: ENDPOINT, response_nonce: r.nonce });
    c.send({ type_url: ENDPOINT, resource_names_unsubscribe: ["a"] });
    expect(await c.quiet()).toBe(true);
    // Phantom unsubscribe is ignored cleanly.
    c.send({ type_url: ENDPOINT, resource_names_unsubscribe: ["never-subscribed"] });
    expect(await c.quiet()).toBe(true);
    c.send({ type_url: ENDPOINT, resource_names_subscribe: ["a"] });
    r = await c.next();
    expect(names(r)).toEqual(["a"]);
    c.send({ type_url: ENDPOINT, response_nonce: r.nonce });
    // Subscribing to a resource the client already has is still answered (it may have forgotten it).
    c.send({ type_url: ENDPOINT, resource_names_subscribe: ["a"] });
    r = await c.next();
    expect(names(r)).toEqual(["a"]);
  });

  it("skips resources whose initial_resource_versions match on reconnect", async () => {
    srv = await startTestServer({ clusters: [cluster("a"), cluster("b")] });
    const c1 = delta(srv);
    c1.send({ node: node("d1"), type_url: CLUSTER });
    const r1 = await c1.next();
    const versions = Object.fromEntries(r1.resources.map((x) => [x.name, x.version]));
    c1.close();
    srv.set({ clusters: [cluster("a"), cluster("b", 3)] });
    const c2 = delta(srv);
    c2.send({ node: node("d1"), type_url: CLUSTER, initial_resource_versions: versions });
    const r2 = await c2.next();
    expect(names(r2)).toEqual(["b"]);
  });

  it("honours subscription changes even when the nonce is stale", async () => {
    srv = await startTestServer({ endpoints: [endpoints("a", [1]), endpoints("b", [2])] });
    const c = delta(srv);
    c.send({ node: node("d1"), type_url: ENDPOINT, resource_names_subscribe: ["a"] });
    const r1 = await c.next();
    c.send({ type_url: ENDPOINT, resource_names_subscribe: ["b"], response_nonce: "stale" });
    c.send({ type_url: ENDPOINT, response_nonce: r1.nonce });
    const r2 = await c.next();
    expect(names(r2)).toEqual(["b"]);
  });

  it("re-sends a name the client unsubscribes while its wildcard still covers it", async () => {
    srv = await startTestServer({ clusters: [cluster("a"), cluster("b")] });
    const c = delta(srv);
    c.send({ node: node("d1"), type_url: CLUSTER, resource_names_subscribe: ["*", "a"] });
    const r1 = await c.next();
    c.send({ type_url: CLUSTER, response_nonce: r1.nonce });
    c.send({ type_url: CLUSTER, resource_names_unsubscribe: ["a"] });
    const r2 = await c.next();
    expect(names(r2)).toEqual(["a"]);
  });

  it("records a Delta NACK and keeps the rejected resources from being re-sent", async () => {
    srv = await startTestServer({ clusters: [cluster("a")] });
    const c = delta(srv);
    c.send({ node: node("d-nack"), type_url: CLUSTER });
    const r1 = await c.next();
    c.send({ type_url: CLUSTER, response_nonce: r1.nonce, error_detail: { code: 3, message: "rejected a" } });
    expect(await c.quiet()).toBe(true);
    const st = srv.server.streamStatuses()[0];
    expect(st?.kind).toBe("Delta");
    expect(st?.types[0]?.lastNack?.message).toBe("rejected a");
  });
});

describe("per-type services", () => {
  it("serves CDS on ClusterDiscoveryService.StreamClusters and Delta EDS on DeltaEndpoints", async () => {
    srv = await startTestServer({ clusters: [cluster("a")], endpoints: [endpoints("a", [1])] });
    const c = sotw(srv, "envoy.service.cluster.v3.ClusterDiscoveryService", "StreamClusters");
    c.send({ node: node("p") });
    expect(names(await c.next())).toEqual(["a"]);
    const d = delta(srv, "envoy.service.endpoint.v3.EndpointDiscoveryService", "DeltaEndpoints");
    d.send({ node: node("p"), resource_names_subscribe: ["a"] });
    expect(names(await d.next())).toEqual(["a"]);
  });

  it("rejects a request for another type on a per-type stream", async () => {
    srv = await startTestServer({ clusters: [cluster("a")] });
    const c = sotw(srv, "envoy.service.cluster.v3.ClusterDiscoveryService", "StreamClusters");
    c.send({ node: node("p"), type_url: LISTENER });
    await expect(c.next()).rejects.toThrow(/type_url/);
    expect(c.status?.code ?? grpc.status.INVALID_ARGUMENT).toBe(grpc.status.INVALID_ARGUMENT);
  });
});

describe("authentication", () => {
  const rpcs: [string, string, "sotw" | "delta"][] = [
    ["envoy.service.discovery.v3.AggregatedDiscoveryService", "StreamAggregatedResources", "sotw"],
    ["envoy.service.discovery.v3.AggregatedDiscoveryService", "DeltaAggregatedResources", "delta"],
    ["envoy.service.listener.v3.ListenerDiscoveryService", "StreamListeners", "sotw"],
    ["envoy.service.listener.v3.ListenerDiscoveryService", "DeltaListeners", "delta"],
    ["envoy.service.route.v3.RouteDiscoveryService", "StreamRoutes", "sotw"],
    ["envoy.service.route.v3.RouteDiscoveryService", "DeltaRoutes", "delta"],
    ["envoy.service.cluster.v3.ClusterDiscoveryService", "StreamClusters", "sotw"],
    ["envoy.service.cluster.v3.ClusterDiscoveryService", "DeltaClusters", "delta"],
    ["envoy.service.endpoint.v3.EndpointDiscoveryService", "StreamEndpoints", "sotw"],
    ["envoy.service.endpoint.v3.EndpointDiscoveryService", "DeltaEndpoints", "delta"],
    ["envoy.service.secret.v3.SecretDiscoveryService", "StreamSecrets", "sotw"],
    ["envoy.service.secret.v3.SecretDiscoveryService", "DeltaSecrets", "delta"],
  ];

  it("passes every streaming xDS RPC through the authenticator before any response", async () => {
    const seen: string[] = [];
    srv = await startTestServer({ clusters: [cluster("a")], listeners: [listener("l", "r")] }, async (req) => {
      seen.push(req.method);
      return { ok: false, code: grpc.status.PERMISSION_DENIED, message: `denied ${req.node.id}` };
    });
    for (const [service, method, kind] of rpcs) {
      const c = kind === "sotw" ? sotw(srv, service, method) : delta(srv, service, method);
      const typeUrl = service.includes("Aggregated") ? CLUSTER : undefined;
      c.send({
        node: node(`${method}-client`),
        type_url: typeUrl,
        resource_names: [],
        resource_names_subscribe: ["a"],
      });
      await expect(c.next()).rejects.toThrow(/denied/);
      expect(c.received).toEqual([]);
      expect(c.status?.code).toBe(grpc.status.PERMISSION_DENIED);
    }
    expect(seen).toEqual(rpcs.map(([s, m]) => `/${s}/${m}`));
  });

  it("refuses a stream whose first request has no node id", async () => {
    srv = await startTestServer({ clusters: [cluster("a")] });
    const c = sotw(srv);
    c.send({ type_url: CLUSTER });
    await expect(c.next()).rejects.toThrow(/node\.id/);
  });
});

describe("backpressure", () => {
  it("holds at most one response per type for a client that stops reading, then sends only the latest state", async () => {
    // Large clusters so the transport buffers fill quickly.
    const big = (gen: number) => ({
      clusters: Array.from({ length: 400 }, (_, i) => ({ ...cluster(`c${i}`, gen), alt_stat_name: "x".repeat(500) })),
    });
    srv = await startTestServer(big(1));
    const c = sotw(srv);
    c.send({ node: node("slow"), type_url: CLUSTER });
    const first = await c.next();
    c.pause();
    c.send({ type_url: CLUSTER, version_info: first.version_info, response_nonce: first.nonce });
    await new Promise((r) => setTimeout(r, 100));
    const before = process.memoryUsage().heapUsed;
    for (let gen = 2; gen <= 60; gen++) srv.set(big(gen));
    const stream = srv.server.streamsOf("slow")[0];
    expect(stream?.outstanding()).toBeLessThanOrEqual(1);
    c.resume();
    const next = await c.next();
    // Whatever was in flight when the client paused, the client is never handed
    // a queue of intermediate states: the next response after the ACK is the latest.
    c.send({ type_url: CLUSTER, version_info: next.version_info, response_nonce: next.nonce });
    let latest = next;
    if (latest.resources[0]?.value.connect_timeout.seconds !== "60") latest = await c.next();
    expect(latest.resources[0]?.value.connect_timeout.seconds).toBe("60");
    expect(c.received.length).toBeLessThanOrEqual(3);
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(200 * 1024 * 1024);
  });
});
