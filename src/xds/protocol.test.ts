// Protocol tests written from the xDS protocol specification
// (envoy/api-docs/xds_protocol), driven by a raw ADS client so every edge case
// is scripted exactly. Both SotW and Delta.
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { DeltaClient, node, rawClient, SotwClient, type SotwResponse } from "../../test/support/ads-client.js";
import { cluster, endpoints, listener, makeView, route } from "../../test/support/views.js";
import { startTestServer, type TestServer } from "../../test/support/xds-server.js";
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET } from "../envoy/type-urls.js";
import { type EncodedResource, encodeResource } from "./resource.js";
import { deriveResources, type ProxyView } from "./stream.js";

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

/** The ACK a client subscribed to CDS/LDS by wildcard, RDS ["r"] and EDS ["c"] would send. */
function ack(r: SotwResponse) {
  return {
    type_url: r.type_url,
    version_info: r.version_info,
    response_nonce: r.nonce,
    resource_names: r.type_url === ROUTE ? ["r"] : r.type_url === ENDPOINT ? ["c"] : [],
  };
}
async function ackUntilQuiet(c: SotwClient): Promise<void> {
  for (;;) {
    let r: SotwResponse;
    try {
      r = await c.next(300);
    } catch {
      return;
    }
    c.send(ack(r));
  }
}

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
    // Unsubscribed from everything, not wildcard: nothing more to tell the client.
    expect(await c.quiet()).toBe(true);
    expect(srv.server.streamStatuses()[0]?.types.find((t) => t.typeUrl === LISTENER)?.wildcard).toBe(false);
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

  // Envoy before 1.28 kept each type's last nonce across ADS reconnects (envoy#30155, fixed by
  // envoy#30206; OSM hit it too, openservicemesh/osm#3252). The nonce is stream-local (xDS spec
  // "Basic Protocol Overview"): one this stream never issued cannot make a request stale.
  it("answers a type's first request on a new stream even when it carries a nonce from an earlier stream", async () => {
    srv = await startTestServer({ clusters: [cluster("a")], listeners: [listener("l", "r")] });
    const c = sotw(srv);
    c.send({ node: node("reconnected"), type_url: CLUSTER, version_info: "v-old", response_nonce: "1-7" });
    const cds = await c.next();
    expect(names(cds)).toEqual(["a"]);
    c.send({ type_url: CLUSTER, version_info: cds.version_info, response_nonce: cds.nonce });
    c.send({ type_url: LISTENER, version_info: "v-old", response_nonce: "1-8" });
    const lds = await c.next();
    expect(lds.type_url).toBe(LISTENER);
    expect(names(lds)).toEqual(["l"]);
  });

  // SotW "How the client specifies what resources to return": a newly requested resource must be
  // sent even if unchanged. grpc-js drops its cached copy when the last watcher of a name goes and
  // re-requests it from scratch; if both requests cross an outstanding response they are stale, but
  // the drop they carry must still be remembered, or the re-requested name is never sent again
  // (the client then declares it does-not-exist after 15 s).
  it("re-sends a resource the client dropped and re-requested in requests that crossed an outstanding response", async () => {
    srv = await startTestServer({ endpoints: [endpoints("a", [1]), endpoints("b", [2])] });
    const c = sotw(srv);
    c.send({ node: node("p1"), type_url: ENDPOINT, resource_names: ["a", "b"] });
    const r1 = await c.next();
    c.send({ type_url: ENDPOINT, resource_names: ["a", "b"], version_info: r1.version_info, response_nonce: r1.nonce });
    expect(await c.quiet()).toBe(true);
    srv.set({ endpoints: [endpoints("a", [1]), endpoints("b", [3])] });
    const r2 = await c.next();
    expect(names(r2)).toEqual(["b"]);
    // Sent before the client read r2: drop "a", then ask for it again.
    c.send({ type_url: ENDPOINT, resource_names: ["b"], version_info: r1.version_info, response_nonce: r1.nonce });
    c.send({ type_url: ENDPOINT, resource_names: ["b", "a"], version_info: r1.version_info, response_nonce: r1.nonce });
    c.send({ type_url: ENDPOINT, resource_names: ["b", "a"], version_info: r2.version_info, response_nonce: r2.nonce });
    const r3 = await c.next();
    expect(names(r3)).toEqual(["a"]);
  });

  // Envoy re-warms only clusters whose content changed (it skips an identical update), so only
  // their endpoints need a fresh ClusterLoadAssignment; re-sending every CLA on any CDS change is
  // the "needless work" the spec warns about ("When to send an update").
  it("after one cluster changes, re-sends that cluster's endpoints only, not every cluster's", async () => {
    const cfg = (timeoutA: number) => ({
      clusters: [cluster("a", timeoutA), cluster("b")],
      endpoints: [endpoints("a", [1]), endpoints("b", [2])],
    });
    srv = await startTestServer(cfg(1));
    const c = sotw(srv);
    c.send({ node: node("p1"), type_url: CLUSTER });
    const cds = await c.next();
    c.send({ type_url: CLUSTER, version_info: cds.version_info, response_nonce: cds.nonce });
    c.send({ type_url: ENDPOINT, resource_names: ["a", "b"] });
    const eds = await c.next();
    expect(names(eds)).toEqual(["a", "b"]);
    c.send({
      type_url: ENDPOINT,
      resource_names: ["a", "b"],
      version_info: eds.version_info,
      response_nonce: eds.nonce,
    });
    srv.set(cfg(9));
    const cds2 = await c.next();
    expect(cds2.type_url).toBe(CLUSTER);
    expect(names(cds2)).toEqual(["a", "b"]); // LDS/CDS: always the full state
    const again = await c.next();
    expect(again.type_url).toBe(ENDPOINT);
    expect(names(again)).toEqual(["a"]);
  });

  it("after a NACKed CDS response, re-sends the endpoints of every cluster in the next one (the client's copy is unknown)", async () => {
    const cfg = (timeoutA: number, timeoutB = 1) => ({
      clusters: [cluster("a", timeoutA), cluster("b", timeoutB)],
      endpoints: [endpoints("a", [1]), endpoints("b", [2])],
    });
    srv = await startTestServer(cfg(1));
    const c = sotw(srv);
    c.send({ node: node("p1"), type_url: CLUSTER });
    const cds = await c.next();
    c.send({ type_url: CLUSTER, version_info: cds.version_info, response_nonce: cds.nonce });
    c.send({ type_url: ENDPOINT, resource_names: ["a", "b"] });
    const eds = await c.next();
    c.send({
      type_url: ENDPOINT,
      resource_names: ["a", "b"],
      version_info: eds.version_info,
      response_nonce: eds.nonce,
    });
    srv.set(cfg(2, 2));
    const cds2 = await c.next();
    const eds2 = await c.next();
    expect(names(eds2)).toEqual(["a", "b"]);
    c.send({
      type_url: CLUSTER,
      version_info: cds.version_info,
      response_nonce: cds2.nonce,
      error_detail: { message: "a" },
    });
    c.send({
      type_url: ENDPOINT,
      resource_names: ["a", "b"],
      version_info: eds2.version_info,
      response_nonce: eds2.nonce,
    });
    srv.set(cfg(3, 2));
    expect((await c.next()).type_url).toBe(CLUSTER);
    expect(names(await c.next())).toEqual(["a", "b"]);
  });

  // xDS spec "ACK/NACK": "The preferred mechanism for a server to detect a NACK is to look for the
  // presence of the error_detail field" -- presence, whatever it holds.
  it("treats any error_detail as a NACK, even an empty one", async () => {
    srv = await startTestServer({ clusters: [cluster("a")] });
    const c = sotw(srv);
    c.send({ node: node("empty-nack"), type_url: CLUSTER });
    const r = await c.next();
    c.send({ type_url: CLUSTER, version_info: "", response_nonce: r.nonce, error_detail: {} });
    expect(await c.quiet(150)).toBe(true);
    const cds = srv.server.streamStatuses()[0]?.types.find((t) => t.typeUrl === CLUSTER);
    expect(cds?.state).toBe("NACKED");
    expect(cds?.ackedVersion).toBe("");
  });

  it("holds a route to a new cluster back until the endpoints the client requested for it are acknowledged", async () => {
    srv = await startTestServer({
      clusters: [cluster("c")],
      endpoints: [endpoints("c", [1])],
      listeners: [listener("l", "r")],
      routes: [route("r", "svc", "c")],
    });
    const c = sotw(srv);
    c.send({ node: node("mbb"), type_url: CLUSTER });
    c.send({ type_url: ENDPOINT, resource_names: ["c"] });
    c.send({ type_url: LISTENER });
    c.send({ type_url: ROUTE, resource_names: ["r"] });
    await ackUntilQuiet(c);
    srv.set({
      clusters: [cluster("c"), cluster("c2")],
      endpoints: [endpoints("c", [1]), endpoints("c2", [2])],
      listeners: [listener("l", "r")],
      routes: [route("r", "svc", "c2")],
    });
    const cds = await c.next();
    expect(names(cds)).toEqual(["c", "c2"]);
    // As Envoy does: the new cluster's EDS request goes out before the CDS ACK.
    const edsAck = c.received.filter((r) => r.type_url === ENDPOINT).at(-1) as SotwResponse;
    c.send({
      type_url: ENDPOINT,
      resource_names: ["c", "c2"],
      version_info: edsAck.version_info,
      response_nonce: edsAck.nonce,
    });
    c.send({ type_url: CLUSTER, version_info: cds.version_info, response_nonce: cds.nonce });
    const eds = await c.next();
    expect(eds.type_url).toBe(ENDPOINT);
    expect(names(eds)).toEqual(["c2"]);
    expect(await c.quiet(200)).toBe(true); // the route to c2 waits for c2's endpoints
    c.send({
      type_url: ENDPOINT,
      resource_names: ["c", "c2"],
      version_info: eds.version_info,
      response_nonce: eds.nonce,
    });
    const rds = await c.next();
    expect(rds.type_url).toBe(ROUTE);
  });

  // Listeners and routes wait while cluster/endpoint responses are unacknowledged (make before
  // break). That wait must end: endpoints that change again before every EDS ACK (routine under
  // pod churn) must not hold a route change back forever.
  it("does not starve routes while endpoints keep changing before every EDS acknowledgement", async () => {
    const cfg = (port: number, domain: string) => ({
      clusters: [cluster("c")],
      endpoints: [endpoints("c", [port])],
      listeners: [listener("l", "r")],
      routes: [route("r", domain, "c")],
    });
    srv = await startTestServer(cfg(1, "svc"));
    const c = sotw(srv);
    c.send({ node: node("churn"), type_url: CLUSTER });
    c.send({ type_url: ENDPOINT, resource_names: ["c"] });
    c.send({ type_url: LISTENER });
    c.send({ type_url: ROUTE, resource_names: ["r"] });
    await ackUntilQuiet(c);
    srv.set(cfg(2, "svc2"));
    let rds: SotwResponse | undefined;
    for (let i = 0; i < 8 && !rds; i++) {
      const r = await c.next();
      if (r.type_url === ROUTE) rds = r;
      // A new endpoint change lands before the client's ACK every time.
      else if (r.type_url === ENDPOINT) srv.set(cfg(10 + i, "svc2"));
      c.send(ack(r));
    }
    expect(rds?.resources[0]?.value.virtual_hosts[0].domains).toEqual(["svc2"]);
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

  // A reconnecting client lists what it holds in initial_resource_versions; whatever of that the
  // server no longer has must be reported in removed_resources (xDS spec "Deleting Resources"),
  // or the client keeps serving a deleted cluster/listener for the life of the stream.
  it("tells a reconnecting wildcard client that resources it still holds were deleted meanwhile", async () => {
    srv = await startTestServer({ clusters: [cluster("a"), cluster("b")] });
    const c1 = delta(srv);
    c1.send({ node: node("d1"), type_url: CLUSTER });
    const r1 = await c1.next();
    const versions = Object.fromEntries(r1.resources.map((x) => [x.name, x.version]));
    c1.close();
    srv.set({ clusters: [cluster("a")] });
    const c2 = delta(srv);
    c2.send({ node: node("d1"), type_url: CLUSTER, initial_resource_versions: versions });
    const r2 = await c2.next();
    expect(r2.resources).toEqual([]);
    expect(r2.removed_resources).toEqual(["b"]);
  });

  it("on reconnect re-sends a held resource whose version differs and removes a held one that is gone", async () => {
    srv = await startTestServer({ endpoints: [endpoints("a", [1]), endpoints("b", [2])] });
    const c1 = delta(srv);
    c1.send({ node: node("d2"), type_url: ENDPOINT, resource_names_subscribe: ["a", "b"] });
    const r1 = await c1.next();
    const versions = Object.fromEntries(r1.resources.map((x) => [x.name, x.version]));
    c1.close();
    srv.set({ endpoints: [endpoints("a", [5])] });
    const c2 = delta(srv);
    c2.send({
      node: node("d2"),
      type_url: ENDPOINT,
      resource_names_subscribe: ["a", "b"],
      initial_resource_versions: versions,
    });
    const r2 = await c2.next();
    expect(names(r2)).toEqual(["a"]);
    expect(r2.removed_resources).toEqual(["b"]);
  });

  it("remembers what a reconnecting client holds even when it connects before any configuration is loaded", async () => {
    srv = await startTestServer(undefined);
    const held = (name: string, timeout = 1) => {
      const r = encodeResource(CLUSTER, name, cluster(name, timeout));
      if (!r.ok) throw new Error(r.error);
      return r.value.version;
    };
    const c = delta(srv);
    c.send({
      node: node("early"),
      type_url: CLUSTER,
      initial_resource_versions: { a: held("a"), b: held("b"), c: held("c") },
    });
    expect(await c.quiet(150)).toBe(true);
    srv.set({ clusters: [cluster("a"), cluster("c", 4)] });
    const r = await c.next();
    expect(names(r)).toEqual(["c"]);
    expect(r.removed_resources).toEqual(["b"]);
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

describe("node identification", () => {
  // Envoy identifies itself with user_agent_name "envoy" and a structured
  // user_agent_build_version (envoy.config.core.v3.BuildVersion), not the string
  // user_agent_version that gRPC clients set.
  it("reads Envoy's structured build version as a version string", async () => {
    srv = await startTestServer({ clusters: [cluster("a")] });
    const c = sotw(srv);
    c.send({
      node: node("envoy-1", {
        user_agent_name: "envoy",
        user_agent_build_version: { version: { major_number: 1, minor_number: 31, patch: 0 } },
        client_features: ["envoy.lb.does_not_support_overprovisioning"],
        // protobufjs's bundled struct.proto spells Value's fields in camelCase.
        metadata: { fields: { ISTIO_VERSION: { stringValue: "1.22.0" } } },
      }),
      type_url: CLUSTER,
    });
    await c.next();
    const n = srv.server.streamsOf("envoy-1")[0]?.node;
    expect(n?.userAgentName).toBe("envoy");
    expect(n?.userAgentVersion).toBe("1.31.0");
    expect(n?.clientFeatures).toEqual(["envoy.lb.does_not_support_overprovisioning"]);
    expect(n?.metadata).toEqual({ ISTIO_VERSION: "1.22.0" });
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

  // Authentication (a TokenReview round trip) can take a while; until it completes the peer is
  // unauthenticated and must not be able to make the server buffer an unbounded number of requests.
  it("stops reading a stream's requests while its authentication is pending", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    srv = await startTestServer({ clusters: [cluster("a")] }, async () => {
      await gate;
      return { ok: true, identity: { kind: "anonymous" } };
    });
    const c = sotw(srv);
    c.send({ node: node("flood"), type_url: CLUSTER });
    const many = Array.from({ length: 2000 }, (_, i) => `eds-${i}-${"x".repeat(40)}`); // ~100 KB a request
    for (let i = 0; i < 300; i++) c.send({ type_url: ENDPOINT, resource_names: many });
    // Unchecked, the server drains all ~30 MB into its heap in well under a second.
    await new Promise((r) => setTimeout(r, 2_000));
    // HTTP/2 flow control pushes back, so the requests wait on the client's side, not in the server.
    expect(c.pendingWrites).toBeGreaterThan(0);
    release();
    expect(names(await c.next())).toEqual(["a"]);
    // Every request is still processed, in order, once the stream is authenticated.
    await expect.poll(() => c.pendingWrites, { timeout: 10_000 }).toBe(0);
    await expect
      .poll(() => srv?.server.streamStatuses()[0]?.types.find((t) => t.typeUrl === ENDPOINT)?.requests, {
        timeout: 10_000,
      })
      .toBe(300);
  });

  it("refuses a stream whose authentication does not finish in time", async () => {
    srv = await startTestServer({ clusters: [cluster("a")] }, () => new Promise(() => {}), { authTimeoutMs: 200 });
    const c = sotw(srv);
    c.send({ node: node("hung"), type_url: CLUSTER });
    await expect(c.next()).rejects.toThrow(/authentication did not finish/);
    expect(c.status?.code).toBe(grpc.status.UNAVAILABLE);
    expect(srv.server.connectionCount).toBe(0);
  });

  it("authenticates unary Fetch requests too, and answers them with the current state", async () => {
    const seen: string[] = [];
    srv = await startTestServer({ clusters: [cluster("a"), cluster("b")] }, async (req) => {
      seen.push(req.method);
      return req.node.id === "allowed"
        ? { ok: true, identity: { kind: "anonymous" } }
        : { ok: false, code: grpc.status.PERMISSION_DENIED, message: "not you" };
    });
    const fetchClusters = (id: string) =>
      new Promise<{ err: grpc.ServiceError | null; res: { resources?: unknown[] } }>((resolve) => {
        const client = rawClient((srv as TestServer).address, "envoy.service.cluster.v3.ClusterDiscoveryService");
        client.FetchClusters({ node: node(id) }, (err: grpc.ServiceError | null, res: { resources?: unknown[] }) => {
          client.close();
          resolve({ err, res });
        });
      });
    const denied = await fetchClusters("intruder");
    expect(denied.err?.code).toBe(grpc.status.PERMISSION_DENIED);
    const ok = await fetchClusters("allowed");
    expect(ok.err).toBe(null);
    expect(ok.res.resources).toHaveLength(2);
    expect(seen).toEqual([
      "/envoy.service.cluster.v3.ClusterDiscoveryService/FetchClusters",
      "/envoy.service.cluster.v3.ClusterDiscoveryService/FetchClusters",
    ]);
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

describe("push slots", () => {
  it("with one slot, a second proxy's first response waits until the first proxy ACKs", async () => {
    srv = await startTestServer({ clusters: [cluster("a")] }, undefined, { pushConcurrency: 1 });
    const first = sotw(srv);
    first.send({ node: node("p1"), type_url: CLUSTER });
    const r1 = await first.next();
    const second = sotw(srv);
    second.send({ node: node("p2"), type_url: CLUSTER });
    expect(await second.quiet(300)).toBe(true);
    first.send({ type_url: CLUSTER, version_info: r1.version_info, response_nonce: r1.nonce });
    expect(names(await second.next())).toEqual(["a"]);
  });

  it("frees the slot of a proxy that disconnects with a response in flight", async () => {
    srv = await startTestServer({ clusters: [cluster("a")] }, undefined, { pushConcurrency: 1 });
    const first = sotw(srv);
    first.send({ node: node("p1"), type_url: CLUSTER });
    await first.next();
    const second = sotw(srv);
    second.send({ node: node("p2"), type_url: CLUSTER });
    expect(await second.quiet(300)).toBe(true);
    first.close();
    expect(names(await second.next())).toEqual(["a"]);
  });
});

describe("derived resource maps", () => {
  /** A view whose EDS map is `base` with `changes` applied, recorded as derived from it. */
  function derivedView(view: ProxyView, changes: Record<string, object | null>) {
    const base = view.get(ENDPOINT) as ReadonlyMap<string, EncodedResource>;
    const next = new Map(base);
    for (const [name, cla] of Object.entries(changes)) {
      if (cla === null) next.delete(name);
      else {
        const enc = encodeResource(ENDPOINT, name, cla);
        if (!enc.ok) throw new Error(enc.error);
        next.set(name, enc.value);
      }
    }
    deriveResources(next, base, Object.keys(changes));
    const out = new Map(view);
    out.set(ENDPOINT, next);
    return out;
  }

  it("SotW: a stream in sync with the base map is sent exactly the changed assignments", async () => {
    const v1 = makeView({ endpoints: [endpoints("a", [1]), endpoints("b", [2]), endpoints("c", [3])] });
    srv = await startTestServer(undefined);
    srv.setView(v1);
    const c = sotw(srv);
    c.send({ node: node("p1"), type_url: ENDPOINT, resource_names: ["a", "b", "c"] });
    const r1 = await c.next();
    expect(names(r1)).toEqual(["a", "b", "c"]);
    c.send({
      type_url: ENDPOINT,
      version_info: r1.version_info,
      response_nonce: r1.nonce,
      resource_names: ["a", "b", "c"],
    });
    const v2 = derivedView(v1, { b: endpoints("b", [20]) });
    srv.setView(v2);
    const r2 = await c.next();
    expect(names(r2)).toEqual(["b"]);
    c.send({
      type_url: ENDPOINT,
      version_info: r2.version_info,
      response_nonce: r2.nonce,
      resource_names: ["a", "b", "c"],
    });
    // A fresh stream on the derived view gets everything.
    const d = sotw(srv);
    d.send({ node: node("p2"), type_url: ENDPOINT, resource_names: ["a", "b", "c"] });
    expect(names(await d.next())).toEqual(["a", "b", "c"]);
    expect(await c.quiet()).toBe(true);
  });

  it("Delta: changed and removed names in a derived map reach a subscribed stream", async () => {
    const v1 = makeView({ endpoints: [endpoints("a", [1]), endpoints("b", [2])] });
    srv = await startTestServer(undefined);
    srv.setView(v1);
    const c = delta(srv);
    c.send({ node: node("d1"), type_url: ENDPOINT, resource_names_subscribe: ["a", "b"] });
    const r1 = await c.next();
    c.send({ type_url: ENDPOINT, response_nonce: r1.nonce });
    srv.setView(derivedView(v1, { a: endpoints("a", [10]), b: null }));
    const r2 = await c.next();
    expect(r2.resources.map((r) => r.name)).toEqual(["a"]);
    expect(r2.removed_resources).toEqual(["b"]);
  });
});
