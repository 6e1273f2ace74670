// AuthorizationPolicy enforced by a real xDS-enabled gRPC server: a
// @grpc/grpc-js-xds XdsServer bootstrapped by `trellis bootstrap --grpc` asks
// `trellis serve` for its server listener and enforces the RBAC filters in it
// (grpc-js implements them with GRPC_XDS_EXPERIMENTAL_RBAC=true, read when the
// package loads: vitest runs this file in its own process, and the variable is
// set before the package is first required). Calls come from a plain gRPC
// client that can put any `:path` and `:authority` on the wire.
//
// What the bypass attempts show: grpc-js dispatches a call by the exact
// `:path` of a registered method and evaluates RBAC on that method's path, so a
// non-canonical spelling of a denied method (`//pkg.Svc/Admin`, `%41dmin`,
// `./Admin`, a query) reaches no handler at all; and where a server does
// answer such a path, an ALLOW list still denies it, since it matches no
// allowed method. Envoy sidecars normalise paths before RBAC instead; that is
// proven on the generated config (src/translate/filters/path-normalization.test.ts).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as Grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runTrellis, startTrellis, type TrellisProcess } from "../support/trellis-process.js";

process.env.GRPC_XDS_EXPERIMENTAL_RBAC = "true";
const require = createRequire(import.meta.url);
const grpc = require("@grpc/grpc-js") as typeof Grpc;
const grpcXds = require("@grpc/grpc-js-xds") as typeof import("@grpc/grpc-js-xds");
const xdsEnv = require("@grpc/grpc-js-xds/build/src/environment.js") as { EXPERIMENTAL_RBAC: boolean };

const SVC = "/trellis.test.Authz";
const raw = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };

function method(path: string): Grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: raw.serialize,
    requestDeserialize: raw.deserialize,
    responseSerialize: raw.serialize,
    responseDeserialize: raw.deserialize,
  };
}

/** A free TCP port: XdsServer needs a non-zero port to name its listener. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "0.0.0.0", () => {
      const addr = s.address();
      s.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

function policies(withDeny = true): string {
  const deny = `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: default }
spec:
  selector: { matchLabels: { app: authz-echo } }
  action: DENY
  rules:
  - to: [{ operation: { paths: ["${SVC}/Admin"] } }]
  - to: [{ operation: { hosts: ["admin.internal"] } }]
  - when: [{ key: "request.headers[x-user]", values: ["mallory"] }]
`;
  return `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-methods, namespace: default }
spec:
  selector: { matchLabels: { app: authz-echo } }
  action: ALLOW
  rules:
  - to: [{ operation: { paths: ["${SVC}/Echo", "${SVC}/Admin"] } }]
${withDeny ? deny : ""}`;
}

function service(port: number): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: authz-echo, namespace: default }
spec:
  hosts: [authz-echo.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - { number: ${port}, name: grpc, protocol: GRPC }
  workloadSelector:
    labels: { app: authz-echo }
`;
}

interface Outcome {
  code: Grpc.status;
  details: string;
}

describe("AuthorizationPolicy on a proxyless gRPC server (grpc-js-xds XdsServer, RBAC filter)", () => {
  let dir: string;
  let trellis: TrellisProcess;
  let server: Grpc.Server;
  let port: number;
  const calls = { Echo: 0, Admin: 0, Other: 0, loose: 0 };
  const clients: Grpc.Client[] = [];

  function client(authority?: string): Grpc.Client {
    const c = new grpc.Client(
      `127.0.0.1:${port}`,
      grpc.credentials.createInsecure(),
      authority ? { "grpc.default_authority": authority } : {},
    );
    clients.push(c);
    return c;
  }

  function call(c: Grpc.Client, path: string, headers: Record<string, string> = {}): Promise<Outcome> {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(headers)) md.set(k, v);
    return new Promise((resolve) => {
      c.makeUnaryRequest(
        path,
        raw.serialize,
        raw.deserialize,
        Buffer.from("hi"),
        md,
        { deadline: Date.now() + 5_000 },
        (err: Grpc.ServiceError | null) =>
          resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: "" }),
      );
    });
  }

  beforeAll(async () => {
    expect(xdsEnv.EXPERIMENTAL_RBAC).toBe(true);
    grpcXds.register();
    port = await freePort();
    dir = mkdtempSync(join(tmpdir(), "trellis-authz-"));
    writeFileSync(join(dir, "service.yaml"), service(port));
    writeFileSync(join(dir, "policies.yaml"), policies());
    trellis = await startTrellis(dir, ["--debounce-quiet", "50", "--debounce-max", "200"]);
    const boot = await runTrellis([
      "bootstrap",
      "--grpc",
      "--xds-address",
      trellis.xdsAddress,
      "--node-id",
      "authz-server",
      "--namespace",
      "default",
    ]);
    expect(boot.code).toBe(0);
    const bootstrap = JSON.parse(boot.stdout) as { node: { metadata: Record<string, unknown> } };
    bootstrap.node.metadata.LABELS = { app: "authz-echo" };
    server = new grpcXds.XdsServer({
      "grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config": JSON.stringify(bootstrap),
    });
    const handler = (name: keyof typeof calls) => (_call: unknown, cb: (err: null, res: Buffer) => void) => {
      calls[name]++;
      cb(null, Buffer.from(name));
    };
    server.addService(
      {
        Echo: method(`${SVC}/Echo`),
        Admin: method(`${SVC}/Admin`),
        Other: method(`${SVC}/Other`),
        // A server that also answers a non-canonical spelling of Admin, as an app resolving paths loosely would.
        Loose: method(`/${SVC}/Admin`),
      },
      { Echo: handler("Echo"), Admin: handler("Admin"), Other: handler("Other"), Loose: handler("loose") },
    );
    // Serves (calls back) only once Trellis has sent the listener `grpc/server?xds.resource.listening_address=0.0.0.0:<port>`.
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`0.0.0.0:${port}`, grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    server?.forceShutdown();
    await trellis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("allows a method an ALLOW policy lists", async () => {
    expect(await call(client(), `${SVC}/Echo`)).toEqual({ code: grpc.status.OK, details: "" });
    expect(calls.Echo).toBe(1);
  });

  it("denies a method a DENY policy lists, before the handler runs", async () => {
    const r = await call(client(), `${SVC}/Admin`);
    expect(r.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(calls.Admin).toBe(0);
  });

  it("denies a method no ALLOW policy lists", async () => {
    expect((await call(client(), `${SVC}/Other`)).code).toBe(grpc.status.PERMISSION_DENIED);
    expect(calls.Other).toBe(0);
  });

  it("never lets a non-canonical spelling of the denied method reach it", async () => {
    const c = client();
    const attempts = [
      `${SVC}/%41dmin`,
      `${SVC}/./Admin`,
      `${SVC}//Admin`,
      `${SVC}/x/../Admin`,
      `${SVC}/Admin/`,
      `${SVC}/admin`,
      `${SVC}/Admin?x=1`,
      `${SVC}/Admin#frag`,
      `${SVC.toUpperCase()}/Admin`,
    ];
    for (const path of attempts) {
      const r = await call(c, path);
      // No handler has that exact path: grpc-js answers before any filter runs.
      expect(r.code, path).toBe(grpc.status.UNIMPLEMENTED);
    }
    // `//trellis.test.Authz/Admin` does reach a handler here (registered on purpose):
    // the RBAC filter sees that path, which the ALLOW list does not contain.
    const loose = await call(c, `/${SVC}/Admin`);
    expect(loose.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(calls).toMatchObject({ Admin: 0, loose: 0 });
  });

  it("denies a host in any letter case and with a port (the host DENY rule)", async () => {
    for (const authority of ["admin.internal", "ADMIN.Internal", "admin.internal:443"]) {
      const r = await call(client(authority), `${SVC}/Echo`);
      expect(r.code, authority).toBe(grpc.status.PERMISSION_DENIED);
    }
    expect((await call(client("echo.internal"), `${SVC}/Echo`)).code).toBe(grpc.status.OK);
  });

  it("denies on a request header from a `when` condition", async () => {
    const c = client();
    expect((await call(c, `${SVC}/Echo`, { "x-user": "mallory" })).code).toBe(grpc.status.PERMISSION_DENIED);
    expect((await call(c, `${SVC}/Echo`, { "x-user": "alice" })).code).toBe(grpc.status.OK);
  });

  it("follows a policy change without restarting the server", async () => {
    writeFileSync(join(dir, "policies.yaml"), policies(false));
    const deadline = Date.now() + 20_000;
    let last: Outcome | undefined;
    while (Date.now() < deadline) {
      // A new connection each time: the server applies a new listener to new connections.
      last = await call(client(), `${SVC}/Admin`);
      if (last.code === grpc.status.OK) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(last?.code).toBe(grpc.status.OK);
    expect(calls.Admin).toBe(1);
    // The ALLOW policy still applies.
    expect((await call(client(), `${SVC}/Other`)).code).toBe(grpc.status.PERMISSION_DENIED);
  });
});
