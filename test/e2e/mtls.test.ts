// Istio mutual TLS for proxyless gRPC, with real peers: certificates issued by
// the Trellis CA (src/security/ca) for two SPIFFE identities are written to
// files, a @grpc/grpc-js-xds XdsServer and clients are bootstrapped by
// `trellis bootstrap --grpc --cert-dir`, and `trellis serve` translates a
// DestinationRule ISTIO_MUTUAL (client side) and the server's
// PeerAuthentication (PERMISSIVE by default, STRICT for a gRPC server labelled
// with a sidecar). RPCs succeed over mTLS and the server sees the client's
// SPIFFE ID; a plaintext client and a client whose certificate comes from
// another root are refused by the server, and a client whose DestinationRule
// expects another server identity refuses the server.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as grpcXds from "@grpc/grpc-js-xds";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CertificateAuthority, createCertificateAuthority } from "../../src/security/ca/index.js";
import { ECHO_SERVICE, EchoClient } from "../support/backends.js";
import { runTrellis, startTrellis, type TrellisProcess } from "../support/trellis-process.js";

const TD = "cluster.local";
const HOST = "echo.default.svc.cluster.local";
const PINNED_HOST = "echo-pinned.default.svc.cluster.local";
const EXACT_HOST = "echo-exact.default.svc.cluster.local";
const SERVER_ID = `spiffe://${TD}/ns/default/sa/echo-server`;
const CLIENT_ID = `spiffe://${TD}/ns/default/sa/echo-client`;
const BOOTSTRAP_KEY = "grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config";

type Reply = { backend: string; text: string; peer: string | null };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The same server under another host, whose DestinationRule names the server identity to expect. */
function pinnedTo(name: string, host: string, port: number, san: string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: default }
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - { number: ${port}, name: grpc, protocol: GRPC }
  endpoints:
  - { address: 127.0.0.1 }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: ${name}, namespace: default }
spec:
  host: ${host}
  trafficPolicy:
    tls:
      mode: ISTIO_MUTUAL
      subjectAltNames: [${san}]
---
`;
}

function mesh(port: number): string {
  return `${pinnedTo("echo-pinned", PINNED_HOST, port, `spiffe://${TD}/ns/default/sa/someone-else`)}${pinnedTo("echo-exact", EXACT_HOST, port, SERVER_ID)}apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: echo, namespace: default }
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  workloadSelector:
    labels: { app: echo }
  ports:
  - { number: ${port}, name: grpc, protocol: GRPC }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: echo-1, namespace: default }
spec:
  address: 127.0.0.1
  serviceAccount: echo-server
  labels: { app: echo, security.istio.io/tlsMode: istio }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: echo, namespace: default }
spec:
  host: ${HOST}
  trafficPolicy:
    tls: { mode: ISTIO_MUTUAL }
`;
}

/** Writes Istio's file names into `dir`: the leaf chain and key of `leaf`, and `rootPem` as the trust bundle. */
function writeCerts(dir: string, leaf: { certificateChainPem: string; privateKeyPem: string }, rootPem: string) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "cert-chain.pem"), leaf.certificateChainPem);
  writeFileSync(join(dir, "key.pem"), leaf.privateKeyPem);
  writeFileSync(join(dir, "root-cert.pem"), rootPem);
}

async function grpcBootstrap(xds: string, nodeId: string, certDir: string, labels: string[] = []): Promise<string> {
  const args = ["bootstrap", "--grpc", "--xds-address", xds, "--node-id", nodeId, "--namespace", "default"];
  for (const l of labels) args.push("--label", l);
  const r = await runTrellis([...args, "--cert-dir", certDir]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r.stdout;
}

function call(client: grpc.Client, deadlineMs = 3_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    // biome-ignore lint/suspicious/noExplicitAny: generic client method
    (client as any).Echo({ text: "hi" }, { deadline: Date.now() + deadlineMs }, (err: Error | null, res: Reply) =>
      err ? reject(err) : resolve(res),
    );
  });
}

async function settle(
  p: Promise<Reply>,
): Promise<{ ok: true; value: Reply } | { ok: false; error: grpc.ServiceError }> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error: error as grpc.ServiceError };
  }
}

/** Calls until one succeeds (config has converged), or fails with the last error. */
async function firstSuccess(client: grpc.Client, timeoutMs = 20_000): Promise<Reply> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const r = await settle(call(client, 2_000));
    if (r.ok) return r.value;
    last = r.error;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`no RPC succeeded: ${(last as Error | undefined)?.message}`);
}

/** Calls for a while and returns the failures; fails the test if any call succeeds. */
async function alwaysFails(client: grpc.Client, attempts = 6): Promise<grpc.ServiceError[]> {
  const errors: grpc.ServiceError[] = [];
  for (let i = 0; i < attempts; i++) {
    const r = await settle(call(client, 1_500));
    if (r.ok) throw new Error(`RPC unexpectedly succeeded: ${JSON.stringify(r.value)}`);
    errors.push(r.error);
    await new Promise((res) => setTimeout(res, 200));
  }
  return errors;
}

describe("Istio mutual TLS between proxyless gRPC workloads", () => {
  let dir: string;
  let trellis: TrellisProcess;
  let ca: CertificateAuthority;
  let rogueCa: CertificateAuthority;
  let server: grpcXds.XdsServer;
  let port: number;
  const clients: grpc.Client[] = [];
  let certs: { server: string; client: string; rogue: string };

  const xdsClient = async (target: string, nodeId: string, certDir: string) => {
    const c = new EchoClient(target, new grpcXds.XdsChannelCredentials(grpc.credentials.createInsecure()), {
      [BOOTSTRAP_KEY]: await grpcBootstrap(trellis.xdsAddress, nodeId, certDir),
    });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    grpcXds.register();
    dir = mkdtempSync(join(tmpdir(), "trellis-mtls-"));
    ca = await createCertificateAuthority({ signing: { kind: "generated" }, workers: 0 });
    rogueCa = await createCertificateAuthority({ signing: { kind: "generated", commonName: "Rogue" }, workers: 0 });
    const meshRoot = ca.trustBundlePem();
    certs = { server: join(dir, "server"), client: join(dir, "client"), rogue: join(dir, "rogue") };
    writeCerts(
      certs.server,
      await ca.issueWorkload({ trustDomain: TD, namespace: "default", serviceAccount: "echo-server" }),
      meshRoot,
    );
    writeCerts(
      certs.client,
      await ca.issueWorkload({ trustDomain: TD, namespace: "default", serviceAccount: "echo-client" }),
      meshRoot,
    );
    // Same SPIFFE ID, signed by another root; it trusts the mesh root, so only the server can refuse it.
    writeCerts(
      certs.rogue,
      await rogueCa.issueWorkload({ trustDomain: TD, namespace: "default", serviceAccount: "echo-client" }),
      meshRoot,
    );

    port = await freePort();
    mkdirSync(join(dir, "mesh"));
    writeFileSync(join(dir, "mesh", "echo.yaml"), mesh(port));
    trellis = await startTrellis(join(dir, "mesh"), ["--debounce-quiet", "50", "--debounce-max", "200"]);

    // The server: a workload labelled with a sidecar, so PERMISSIVE (the default) is served as STRICT.
    const serverBootstrap = await grpcBootstrap(trellis.xdsAddress, "echo-server", certs.server, [
      "app=echo",
      "security.istio.io/tlsMode=istio",
    ]);
    server = new grpcXds.XdsServer({ [BOOTSTRAP_KEY]: serverBootstrap });
    server.addService(ECHO_SERVICE, {
      Echo: (call: grpc.ServerUnaryCall<{ text: string }, Reply>, cb: grpc.sendUnaryData<Reply>) => {
        const peer = call.getAuthContext().sslPeerCertificate?.subjectaltname ?? null;
        cb(null, { backend: "echo", text: call.request.text, peer });
      },
    });
    // Serving starts only once Trellis has sent the Listener for this address.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("XdsServer never started serving")), 20_000);
      server.bindAsync(
        `0.0.0.0:${port}`,
        new grpcXds.XdsServerCredentials(grpc.ServerCredentials.createInsecure()),
        (err) => {
          clearTimeout(timer);
          if (err) reject(err);
          else resolve();
        },
      );
    });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await new Promise<void>((resolve) => (server ? server.tryShutdown(() => resolve()) : resolve()));
    const code = await trellis?.stop();
    expect(code).toBe(0);
    await ca?.close();
    await rogueCa?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("makes RPCs over mTLS, and the server sees the client's SPIFFE ID", async () => {
    const client = await xdsClient(`xds:///${HOST}:${port}`, "echo-client", certs.client);
    const reply = await firstSuccess(client);
    expect(reply.backend).toBe("echo");
    expect(reply.peer).toBe(`URI:${CLIENT_ID}`);
    const dump = (await (await fetch(`${trellis.adminUrl}/debug/config_dump?proxy=echo-server`)).json()) as {
      streams: { resources: Record<string, { name: string }[]> }[];
    };
    expect(dump.streams[0]?.resources.LDS?.map((r) => r.name)).toContain(
      `grpc/server?xds.resource.listening_address=0.0.0.0:${port}`,
    );
  });

  it("refuses a plaintext client: the server's port accepts mTLS only", async () => {
    const plain = new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    clients.push(plain);
    const errors = await alwaysFails(plain, 3);
    expect(errors.every((e) => e.code === grpc.status.UNAVAILABLE)).toBe(true);
  });

  it("refuses a client whose certificate comes from another root", async () => {
    const rogue = await xdsClient(`xds:///${HOST}:${port}`, "rogue-client", certs.rogue);
    const errors = await alwaysFails(rogue);
    expect(errors.every((e) => e.code === grpc.status.UNAVAILABLE)).toBe(true);
    // The same bootstrap with the mesh's own certificate works: only the certificate differs.
    expect((await firstSuccess(await xdsClient(`xds:///${HOST}:${port}`, "client-2", certs.client))).peer).toBe(
      `URI:${CLIENT_ID}`,
    );
  });

  it("refuses a server whose identity is not the one the DestinationRule names", async () => {
    const pinned = await xdsClient(`xds:///${PINNED_HOST}:${port}`, "pinned-client", certs.client);
    const errors = await alwaysFails(pinned);
    expect(errors.every((e) => e.code === grpc.status.UNAVAILABLE)).toBe(true);
    // The same server, pinned to the identity it was issued: accepted.
    const exact = await xdsClient(`xds:///${EXACT_HOST}:${port}`, "exact-client", certs.client);
    expect((await firstSuccess(exact)).peer).toBe(`URI:${CLIENT_ID}`);
  });
});
