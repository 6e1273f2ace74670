// Kubernetes discovery end to end: Services, Pods and EndpointSlices created in
// a real kube-apiserver become xDS that a real @grpc/grpc-js-xds client routes
// RPCs with, to real gRPC servers on loopback. Scaling and VirtualService
// changes follow within a second; endpoint-only changes push EDS only. A
// semantically wrong VirtualService is accepted by the API server and gets a
// status condition from Trellis; a schema-invalid one never reaches etcd.
import * as grpc from "@grpc/grpc-js";
import * as grpcXds from "@grpc/grpc-js-xds";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EchoClient } from "../../test/support/backends.js";
import { type BehaviourBackend, startBehaviourBackend } from "../../test/support/behaviour-backends.js";
import { runTrellis, startTrellis, type TrellisProcess } from "../../test/support/trellis-process.js";
import { applyCrds, call, localEndpointAddress, Objects, pushes, spread, until } from "./cluster.js";
import { type KubeconfigCreds, type KubeHarness, kubeRequest, loadKubeconfig, startKube } from "./harness.js";

describe("Kubernetes discovery through a real API server", () => {
  const ns = `trellis-disc-${Date.now().toString(36)}`;
  const host = `greeter.${ns}.svc.cluster.local`;
  let kube: KubeHarness;
  let creds: KubeconfigCreds;
  let api: Objects;
  let trellis: TrellisProcess;
  let bootstrap: string;
  const backends: Record<string, BehaviourBackend> = {};
  const clients: grpc.Client[] = [];
  const newClient = () => {
    const c = new EchoClient(`xds:///${host}:9090`, grpc.credentials.createInsecure(), {
      "grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config": bootstrap,
    });
    clients.push(c);
    return c;
  };

  const pod = (name: string, version: string) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, labels: { app: "greeter", version } },
    spec: {
      serviceAccountName: "greeter",
      automountServiceAccountToken: false,
      containers: [{ name: "app", image: "example.invalid/greeter:1" }],
    },
  });
  // One slice per backend: each listens on its own loopback port (a named targetPort resolves per pod).
  const slice = (name: string, podName: string, port: number, ready = true) => ({
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name, namespace: ns, labels: { "kubernetes.io/service-name": "greeter" } },
    addressType: "IPv4",
    ports: [{ name: "grpc", port, protocol: "TCP" }],
    endpoints: [
      { addresses: [address], conditions: { ready }, targetRef: { kind: "Pod", name: podName, namespace: ns } },
    ],
  });
  // Backends listen on this machine's own address: loopback is not a valid endpoint address.
  const address = localEndpointAddress() ?? "";
  const slices = `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`;
  const vsPath = `/apis/networking.istio.io/v1/namespaces/${ns}/virtualservices`;

  beforeAll(async () => {
    grpcXds.register();
    kube = await startKube();
    creds = loadKubeconfig(kube.kubeconfigPath);
    api = new Objects(creds);
    await applyCrds(creds);
    if (!address) throw new Error("no non-loopback IPv4 address on this machine to use as an endpoint address");
    for (const name of ["v1-a", "v1-b", "v2-a"]) backends[name] = await startBehaviourBackend(name, { host: address });
    await api.create("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    await api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "greeter" },
    });
    await api.create(`/api/v1/namespaces/${ns}/services`, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "greeter", namespace: ns },
      spec: { selector: { app: "greeter" }, ports: [{ name: "grpc", port: 9090, targetPort: "grpc" }] },
    });
    await api.create(`/api/v1/namespaces/${ns}/pods`, pod("greeter-v1-a", "v1"));
    await api.create(`/api/v1/namespaces/${ns}/pods`, pod("greeter-v2-a", "v2"));
    await api.create(slices, slice("greeter-v1-a", "greeter-v1-a", backends["v1-a"]?.port as number));
    await api.create(slices, slice("greeter-v2-a", "greeter-v2-a", backends["v2-a"]?.port as number));
    await api.create(`/apis/networking.istio.io/v1/namespaces/${ns}/destinationrules`, {
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name: "greeter", namespace: ns },
      spec: {
        host: "greeter",
        subsets: [
          { name: "v1", labels: { version: "v1" } },
          { name: "v2", labels: { version: "v2" } },
        ],
      },
    });
    trellis = await startTrellis("examples/mesh", [
      "--kube",
      // The proxyless clients here dial plaintext xDS (they carry no service-account token).
      "--dev-plaintext-xds",
      "--kubeconfig",
      kube.kubeconfigPath,
      "--namespace",
      ns,
      "--pod-name",
      "trellis-a",
      "--debounce-quiet",
      "20",
      "--debounce-max",
      "100",
    ]);
    const boot = await runTrellis([
      "bootstrap",
      "--grpc",
      "--xds-address",
      trellis.xdsAddress,
      "--node-id",
      "disc",
      "--namespace",
      ns,
    ]);
    bootstrap = boot.stdout;
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await trellis?.stop();
    for (const b of Object.values(backends)) await b.stop();
    if (kube?.external && creds) await kubeRequest(creds, "DELETE", `/api/v1/namespaces/${ns}`).catch(() => {});
    await kube?.stop();
  });

  it("routes RPCs to the endpoints of a Kubernetes Service", async () => {
    const client = newClient();
    await until("RPCs succeed", async () => (await call(client).catch(() => undefined))?.backend);
    const seen = await spread(client, 40);
    expect(Object.keys(seen).sort()).toEqual(["v1-a", "v2-a"]);
  });

  it("follows scaling: a new ready endpoint gets traffic and a removed one stops, with EDS-only pushes", async () => {
    const client = newClient();
    await until("client ready", async () => (await call(client).catch(() => undefined))?.backend);
    const before = await pushes(trellis.adminUrl);
    await api.create(`/api/v1/namespaces/${ns}/pods`, pod("greeter-v1-b", "v1"));
    // Not ready yet: never gets traffic.
    await api.create(slices, slice("greeter-v1-b", "greeter-v1-b", backends["v1-b"]?.port as number, false));
    await new Promise((r) => setTimeout(r, 500));
    expect((await spread(client, 20))["v1-b"]).toBeUndefined();

    const started = Date.now();
    await api.update(`${slices}/greeter-v1-b`, (o) => {
      for (const e of o.endpoints as { conditions: { ready: boolean } }[]) e.conditions.ready = true;
    });
    await until(
      "v1-b gets traffic",
      async () => (await call(client).catch(() => undefined))?.backend === "v1-b",
      10_000,
      10,
    );
    const scaledUpMs = Date.now() - started;

    const removed = Date.now();
    await api.delete(`${slices}/greeter-v1-b`);
    await until(
      "v1-b no longer gets traffic",
      async () => {
        const s = await spread(client, 6);
        return s["v1-b"] === undefined;
      },
      10_000,
      10,
    );
    const scaledDownMs = Date.now() - removed;
    expect(scaledUpMs).toBeLessThan(1_000);
    expect(scaledDownMs).toBeLessThan(1_000);

    const after = await pushes(trellis.adminUrl);
    expect(after.EDS ?? 0).toBeGreaterThan(before.EDS ?? 0);
    for (const type of ["LDS", "RDS", "CDS"]) expect(after[type] ?? 0, type).toBe(before[type] ?? 0);
  });

  it("follows a VirtualService change within a second", async () => {
    const client = newClient();
    await until("client ready", async () => (await call(client).catch(() => undefined))?.backend);
    const started = Date.now();
    await api.create(vsPath, {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "greeter", namespace: ns },
      spec: { hosts: ["greeter"], http: [{ route: [{ destination: { host: "greeter", subset: "v2" } }] }] },
    });
    await until(
      "all traffic on v2",
      async () => {
        const s = await spread(client, 5);
        return s["v2-a"] === 5;
      },
      10_000,
      10,
    );
    expect(Date.now() - started).toBeLessThan(1_000 + 500);
    expect(await spread(client, 20)).toEqual({ "v2-a": 20 });
  });

  it("rejects a schema-invalid VirtualService in the API server, naming the field", async () => {
    const r = await kubeRequest(creds, "POST", vsPath, {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "bad-schema", namespace: ns },
      spec: { hosts: ["greeter"], http: [{ route: [{ destination: { host: "greeter" }, weight: "eighty" }] }] },
    });
    expect(r.status).toBe(422);
    expect(JSON.stringify(r.body)).toContain("spec.http[0].route[0].weight");
  });

  it("accepts a semantically wrong VirtualService and explains the problem in its status", async () => {
    await api.create(vsPath, {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "missing-subset", namespace: ns },
      spec: {
        hosts: ["greeter-canary"],
        http: [{ route: [{ destination: { host: "greeter", subset: "v3" } }] }],
      },
    });
    const status = await until("status written", async () => {
      const o = await api.get(`${vsPath}/missing-subset`);
      const s = o?.status as { conditions?: { type: string; status: string; reason: string; message: string }[] };
      return s?.conditions?.find((c) => c.type === "Accepted");
    });
    expect(status.status).toBe("False");
    expect(status.message).toContain("v3");
    // The valid one is reported as accepted.
    const ok = await until("status of the valid VirtualService", async () => {
      const o = await api.get(`${vsPath}/greeter`);
      return (o?.status as { conditions?: { type: string; reason: string }[] })?.conditions?.[0];
    });
    expect(ok.reason).toBe("Accepted");
  });
});
