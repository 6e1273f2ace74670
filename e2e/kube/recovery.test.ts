// Restarts lose nothing, and replicas share one status writer:
// - the API server restarts: informers resume, clients keep their config (config
//   dumps before and after are equal) and later changes are still followed;
// - Trellis restarts on the same address: the client reconnects and receives the
//   same config;
// - two replicas against one API server: both serve xDS, only the leader writes
//   CR status, and killing it hands leadership (and status writing) over.
import { createServer } from "node:net";
import * as grpc from "@grpc/grpc-js";
import * as grpcXds from "@grpc/grpc-js-xds";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoClient } from "../../test/support/backends.js";
import { type BehaviourBackend, startBehaviourBackend } from "../../test/support/behaviour-backends.js";
import { runTrellis, startTrellis, type TrellisProcess } from "../../test/support/trellis-process.js";
import { applyCrds, call, localEndpointAddress, Objects, spread, until } from "./cluster.js";
import { type KubeconfigCreds, type KubeHarness, kubeRequest, loadKubeconfig, startKube } from "./harness.js";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/** The resources a proxy was last sent, per type (versions are content hashes, so equal config → equal dump). */
async function dump(adminUrl: string, proxy: string): Promise<unknown> {
  const res = await fetch(`${adminUrl}/debug/config_dump?proxy=${encodeURIComponent(proxy)}`);
  if (res.status !== 200) return undefined;
  const body = (await res.json()) as { streams: { resources: Record<string, unknown[]> }[] };
  const resources = body.streams[0]?.resources;
  // All four types must be there before a dump counts as complete.
  if (!resources || ["CDS", "EDS", "LDS", "RDS"].some((t) => !resources[t]?.length)) return undefined;
  return resources;
}

async function metric(adminUrl: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(" ").pop()) : 0;
}

async function leading(adminUrl: string): Promise<boolean> {
  const res = await fetch(`${adminUrl}/debug/diagnostics`);
  const body = (await res.json()) as { config: { leader?: { leading: boolean } } };
  return body.config.leader?.leading === true;
}

describe("recovery and replicas against a real API server", () => {
  const ns = `trellis-recov-${Date.now().toString(36)}`;
  const host = `greeter.${ns}.svc.cluster.local`;
  const address = localEndpointAddress() ?? "";
  let kube: KubeHarness;
  let creds: KubeconfigCreds;
  let api: Objects;
  const backends: Record<string, BehaviourBackend> = {};
  const running: TrellisProcess[] = [];
  const clients: grpc.Client[] = [];
  const vsPath = `/apis/networking.istio.io/v1/namespaces/${ns}/virtualservices`;
  const slices = `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`;

  const start = async (name: string, xdsPort = 0) => {
    const t = await startTrellis("examples/mesh", [
      "--kube",
      // The proxyless clients here dial plaintext xDS (they carry no service-account token).
      "--dev-plaintext-xds",
      "--kubeconfig",
      kube.kubeconfigPath,
      "--namespace",
      ns,
      "--pod-name",
      name,
      "--xds-address",
      `127.0.0.1:${xdsPort}`,
      "--debounce-quiet",
      "20",
      "--debounce-max",
      "100",
      "--lease-duration",
      "3000",
      "--renew-deadline",
      "2000",
      "--retry-period",
      "500",
    ]);
    running.push(t);
    return t;
  };
  const stop = async (t: TrellisProcess, signal: NodeJS.Signals = "SIGTERM") => {
    if (signal === "SIGKILL") t.child.kill("SIGKILL");
    await t.stop();
    running.splice(running.indexOf(t), 1);
  };
  const client = async (xdsAddress: string, nodeId: string) => {
    const boot = await runTrellis([
      "bootstrap",
      "--grpc",
      "--xds-address",
      xdsAddress,
      "--node-id",
      nodeId,
      "--namespace",
      ns,
    ]);
    const c = new EchoClient(`xds:///${host}:9090`, grpc.credentials.createInsecure(), {
      "grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config": boot.stdout,
    });
    clients.push(c);
    return c;
  };
  const slice = (name: string, port: number) => ({
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name, namespace: ns, labels: { "kubernetes.io/service-name": "greeter" } },
    addressType: "IPv4",
    ports: [{ name: "grpc", port, protocol: "TCP" }],
    endpoints: [{ addresses: [address], conditions: { ready: true } }],
  });
  const badVs = (name: string) => ({
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name, namespace: ns },
    spec: { hosts: ["greeter"], http: [{ route: [{ destination: { host: "greeter", subset: "missing" } }] }] },
  });
  const acceptedCondition = async (name: string) =>
    until(`status of VirtualService ${name}`, async () => {
      const o = await api.get(`${vsPath}/${name}`);
      return (o?.status as { conditions?: { type: string; status: string }[] })?.conditions?.find(
        (c) => c.type === "Accepted",
      );
    });

  beforeAll(async () => {
    if (!address) throw new Error("no non-loopback IPv4 address on this machine to use as an endpoint address");
    grpcXds.register();
    kube = await startKube();
    creds = loadKubeconfig(kube.kubeconfigPath);
    api = new Objects(creds);
    await applyCrds(creds);
    for (const name of ["a", "b", "c"]) backends[name] = await startBehaviourBackend(name, { host: address });
    await api.create("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    await api.create(`/api/v1/namespaces/${ns}/services`, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "greeter", namespace: ns },
      spec: { ports: [{ name: "grpc", port: 9090 }] },
    });
    await api.create(slices, slice("greeter-a", backends.a?.port as number));
    await api.create(slices, slice("greeter-b", backends.b?.port as number));
    await api.create(vsPath, {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "greeter", namespace: ns },
      spec: { hosts: ["greeter"], http: [{ timeout: "3s", route: [{ destination: { host: "greeter" } }] }] },
    });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    for (const t of [...running]) await t.stop();
    for (const b of Object.values(backends)) await b.stop();
    if (kube?.external && creds) await kubeRequest(creds, "DELETE", `/api/v1/namespaces/${ns}`).catch(() => {});
    await kube?.stop();
  });

  it("keeps every client's config across an API server restart, and follows changes afterwards", async () => {
    if (kube.external) return; // cannot restart someone else's API server
    const trellis = await start("restart-api");
    const c = await client(trellis.xdsAddress, "api-restart");
    await until("RPCs succeed", async () => (await call(c).catch(() => undefined))?.backend);
    const before = await until("complete config dump", () => dump(trellis.adminUrl, "api-restart"));

    await kube.restartApiServer();
    // Served throughout: the config did not depend on the API server being up.
    expect(Object.keys(await spread(c, 10)).sort()).toEqual(["a", "b"]);
    // Informers resume from their resourceVersion; nothing was lost or duplicated.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await dump(trellis.adminUrl, "api-restart")).toEqual(before);

    // And the watch is live again: a new endpoint is followed.
    await api.create(slices, slice("greeter-c", backends.c?.port as number));
    await until("c gets traffic", async () => (await spread(c, 6)).c !== undefined, 15_000);
    await api.delete(`${slices}/greeter-c`);
    await until("c is gone", async () => (await spread(c, 6)).c === undefined, 15_000);
    await until(
      "config back to what it was",
      async () => JSON.stringify(await dump(trellis.adminUrl, "api-restart")) === JSON.stringify(before),
      10_000,
    );
    await stop(trellis);
  });

  it("gives a reconnecting client the same config after Trellis restarts", async () => {
    const port = await freePort();
    let trellis = await start("restart-self", port);
    const c = await client(trellis.xdsAddress, "self-restart");
    await until("RPCs succeed", async () => (await call(c).catch(() => undefined))?.backend);
    const before = await until("complete config dump", () => dump(trellis.adminUrl, "self-restart"));
    await stop(trellis, "SIGKILL");
    // Cached config keeps the client working while the control plane is away.
    expect(Object.keys(await spread(c, 6)).sort()).toEqual(["a", "b"]);
    trellis = await start("restart-self", port);
    const after = await until("client reconnected", () => dump(trellis.adminUrl, "self-restart"), 30_000);
    expect(after).toEqual(before);
    expect(Object.keys(await spread(c, 10)).sort()).toEqual(["a", "b"]);
    await stop(trellis);
  });

  it("runs two replicas: both serve, one writes status, and killing it hands over", async () => {
    const one = await start("replica-1");
    const two = await start("replica-2");
    const leaderOf = async () => {
      const [l1, l2] = [await leading(one.adminUrl), await leading(two.adminUrl)];
      if (l1 && l2) throw new Error("two leaders at once");
      return l1 ? one : l2 ? two : undefined;
    };
    const leader = await until("a leader", leaderOf, 10_000).catch((err) => {
      const lines = [...one.logs, ...two.logs].filter((l) => /lead|lease/i.test(JSON.stringify(l)));
      throw new Error(`${(err as Error).message}\n${lines.map((l) => JSON.stringify(l)).join("\n")}`);
    });
    const follower = leader === one ? two : one;

    // Both serve xDS.
    for (const [t, id] of [
      [one, "r1"],
      [two, "r2"],
    ] as const) {
      const c = await client(t.xdsAddress, id);
      await until(`RPCs via ${id}`, async () => (await call(c).catch(() => undefined))?.backend);
    }

    await api.create(vsPath, badVs("bad-1"));
    expect((await acceptedCondition("bad-1")).status).toBe("False");
    await new Promise((r) => setTimeout(r, 500));
    expect(await metric(leader.adminUrl, "trellis_status_writes_total", 'result="ok"')).toBeGreaterThan(0);
    expect(await metric(follower.adminUrl, "trellis_status_writes_total", 'result="ok"')).toBe(0);

    const killedAt = Date.now();
    await stop(leader, "SIGKILL");
    await until("the follower leads", () => leading(follower.adminUrl), 10_000);
    // Not before the crashed leader's lease could have expired.
    expect(Date.now() - killedAt).toBeGreaterThan(2_000);

    await api.create(vsPath, badVs("bad-2"));
    expect((await acceptedCondition("bad-2")).status).toBe("False");
    expect(await metric(follower.adminUrl, "trellis_status_writes_total", 'result="ok"')).toBeGreaterThan(0);
    await stop(follower);
  });
});
