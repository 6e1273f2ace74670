// The "done when" of the xDS core, with real peers: a @grpc/grpc-js-xds client
// bootstrapped by `trellis bootstrap --grpc` makes real RPCs to real gRPC
// servers through config served by `trellis serve`, follows endpoint moves
// without restart, and keeps working on the last good config when the YAML
// becomes invalid.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as grpcXds from "@grpc/grpc-js-xds";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Backend, EchoClient, echo, startBackend } from "../support/backends.js";
import { runTrellis, startTrellis, type TrellisProcess } from "../support/trellis-process.js";

const HOST = "echo.default.svc.cluster.local";

function serviceEntry(ports: number[], extra = "") {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: echo
  namespace: default
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - number: 9090
    name: grpc-echo
    protocol: GRPC
  endpoints:
${ports.map((p) => `  - address: 127.0.0.1\n    ports: { grpc-echo: ${p} }${extra}`).join("\n")}
`;
}

async function rpcsUntil(
  client: grpc.Client,
  pred: (seen: Set<string>) => boolean,
  timeoutMs = 20_000,
): Promise<Set<string>> {
  const deadline = Date.now() + timeoutMs;
  let seen = new Set<string>();
  let window: string[] = [];
  while (Date.now() < deadline) {
    try {
      const r = await echo(client, "hi", 2_000);
      window.push(r.backend);
      if (window.length > 12) window = window.slice(-12);
      seen = new Set(window);
      if (pred(seen)) return seen;
    } catch {
      // not routable yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`condition not reached; last backends seen: ${[...seen].join(", ")}`);
}

describe("proxyless gRPC through trellis serve", () => {
  let dir: string;
  let trellis: TrellisProcess;
  let backends: Backend[];
  let client: grpc.Client;

  beforeAll(async () => {
    grpcXds.register();
    backends = await Promise.all(["a", "b", "c"].map(startBackend));
    dir = mkdtempSync(join(tmpdir(), "trellis-e2e-"));
    writeFileSync(join(dir, "echo.yaml"), serviceEntry([backends[0]?.port ?? 0]));
    trellis = await startTrellis(dir, ["--debounce-quiet", "50", "--debounce-max", "200"]);
    const boot = await runTrellis([
      "bootstrap",
      "--grpc",
      "--xds-address",
      trellis.xdsAddress,
      "--node-id",
      "e2e-client",
    ]);
    expect(boot.code).toBe(0);
    client = new EchoClient(`xds:///${HOST}:9090`, grpc.credentials.createInsecure(), {
      "grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config": boot.stdout,
    });
  }, 60_000);

  afterAll(async () => {
    client?.close();
    const code = await trellis?.stop();
    expect(code).toBe(0); // graceful shutdown on SIGTERM
    await Promise.all((backends ?? []).map((b) => b.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("routes real RPCs to the endpoint the YAML names", async () => {
    const seen = await rpcsUntil(client, (s) => s.has("a"));
    expect([...seen]).toEqual(["a"]);
    const sync = (await (await fetch(`${trellis.adminUrl}/debug/syncz`)).json()) as {
      nodeId: string;
      types: { type: string; state: string }[];
    }[];
    const me = sync.find((s) => s.nodeId === "e2e-client");
    expect(me?.types.map((t) => t.type).sort()).toEqual(["CDS", "EDS", "LDS", "RDS"]);
    expect(me?.types.every((t) => t.state === "SYNCED")).toBe(true);
  });

  it("follows the endpoints when the YAML moves them to other servers, without restarting the client", async () => {
    writeFileSync(join(dir, "echo.yaml"), serviceEntry([backends[1]?.port ?? 0, backends[2]?.port ?? 0]));
    const seen = await rpcsUntil(client, (s) => s.has("b") && s.has("c") && !s.has("a"));
    expect([...seen].sort()).toEqual(["b", "c"]);
  });

  it("keeps serving the last good config when the YAML becomes invalid, and names the file and field", async () => {
    const callsBefore = backends[0]?.calls ?? 0;
    writeFileSync(
      join(dir, "echo.yaml"),
      serviceEntry([backends[0]?.port ?? 0]).replace("resolution: STATIC", "resolution: STATIK"),
    );
    const logged = await trellis.waitForLog((l) => typeof l.msg === "string" && l.msg.includes("STATIK"));
    expect(logged.msg).toContain("echo.yaml");
    expect(logged.msg).toContain("spec.resolution");
    const ready = (await (await fetch(`${trellis.adminUrl}/readyz`)).json()) as { status: string; errors: string[] };
    expect(ready.status).toBe("ready");
    expect(ready.errors.join("\n")).toMatch(/echo\.yaml.*spec\.resolution/);
    const metrics = await (await fetch(`${trellis.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/trellis_config_errors\{severity="error"\} [1-9]/);
    // Still the last good endpoints (b, c), never the invalid document's (a).
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < 10; i++) expect(["b", "c"]).toContain((await echo(client, "still")).backend);
    expect(backends[0]?.calls).toBe(callsBefore);
  });

  it("serves the config it sent on /debug/config_dump", async () => {
    const dump = (await (await fetch(`${trellis.adminUrl}/debug/config_dump?proxy=e2e-client`)).json()) as {
      streams: { resources: Record<string, { name: string }[]> }[];
    };
    expect(dump.streams[0]?.resources.LDS?.map((r) => r.name)).toEqual([`${HOST}:9090`]);
    expect(dump.streams[0]?.resources.CDS?.map((r) => r.name)).toEqual([`outbound|9090||${HOST}`]);
  });
});
