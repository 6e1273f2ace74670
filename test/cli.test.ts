// The `trellis` CLI as a user runs it.
import { describe, expect, it } from "vitest";
import { checkProtoJson } from "../src/envoy/proto-json.js";
import { runTrellis } from "./support/trellis-process.js";

describe("trellis bootstrap", () => {
  for (const api of ["sotw", "delta"]) {
    it(`prints an Envoy bootstrap (${api}) whose every field is known to Envoy's Bootstrap proto`, async () => {
      const r = await runTrellis([
        "bootstrap",
        "--api",
        api,
        "--xds-address",
        "trellis.istio-system.svc:15010",
        "--node-id",
        "sidecar~10.0.0.7~reviews-v1.default~default.svc.cluster.local",
        "--namespace",
        "default",
        "--meta",
        "POD_NAME=reviews-v1",
      ]);
      expect(r.stderr).toBe("");
      const json = JSON.parse(r.stdout);
      const checked = checkProtoJson("envoy.config.bootstrap.v3.Bootstrap", json);
      expect(checked.ok ? [] : checked.errors).toEqual([]);
      expect(json.dynamic_resources.ads_config.api_type).toBe(api === "sotw" ? "GRPC" : "DELTA_GRPC");
      expect(json.node.metadata).toEqual({ NAMESPACE: "default", POD_NAME: "reviews-v1" });
      expect(json.admin.address.socket_address).toEqual({ address: "127.0.0.1", port_value: 15000 });
    });
  }

  it("prints a gRPC bootstrap that marks the node as proxyless", async () => {
    const r = await runTrellis(["bootstrap", "--grpc", "--xds-address", "127.0.0.1:15010", "--node-id", "client-1"]);
    const json = JSON.parse(r.stdout);
    expect(json.xds_servers[0].server_uri).toBe("127.0.0.1:15010");
    expect(json.node).toMatchObject({ id: "client-1", locality: {}, metadata: { GENERATOR: "grpc" } });
  });

  it("rejects a malformed address with a clear error", async () => {
    const r = await runTrellis(["bootstrap", "--xds-address", "no-port-here"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/xds-address/);
  });
});

describe("trellis serve", () => {
  it("refuses a configuration directory that does not exist, naming it", async () => {
    const r = await runTrellis([
      "serve",
      "--config",
      "/nonexistent/mesh",
      "--xds-address",
      "127.0.0.1:0",
      "--admin-address",
      "127.0.0.1:0",
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--config /nonexistent/mesh: no such directory");
  });
});
