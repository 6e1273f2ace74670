// /debug/config_dump shows what a proxy was sent, but never a workload's private key.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import pino from "pino";
import client from "prom-client";
import { afterAll, describe, expect, it } from "vitest";
import { node, SotwClient } from "../../test/support/ads-client.js";
import { SECRET } from "../envoy/type-urls.js";
import { XdsMetrics } from "../xds/metrics.js";
import { encodeResource } from "../xds/resource.js";
import { XdsServer } from "../xds/server.js";
import { RotatingServerCredentials } from "../xds/tls.js";
import { buildAdminServer } from "./server.js";

describe("/debug/config_dump", () => {
  const dir = mkdtempSync(join(tmpdir(), "trellis-dump-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("redacts the private key of the secrets a workload was sent, as Envoy's own config_dump does", async () => {
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-subj",
        "/CN=trellis",
        "-addext",
        "subjectAltName=DNS:trellis.test.svc",
        "-days",
        "1",
        "-keyout",
        join(dir, "k.pem"),
        "-out",
        join(dir, "c.pem"),
      ],
      { stdio: "ignore" },
    );
    const cert = readFileSync(join(dir, "c.pem"), "utf8");
    const secret = encodeResource(SECRET, "default", {
      name: "default",
      tls_certificate: {
        certificate_chain: { inline_string: "CHAIN-PEM" },
        private_key: { inline_string: "PRIVATE-KEY-MATERIAL" },
      },
    });
    if (!secret.ok) throw new Error(secret.error);
    const view = new Map([[SECRET, new Map([["default", secret.value]])]]);
    const xds = new XdsServer({
      authenticate: async () => ({
        ok: true,
        identity: { kind: "workload", namespace: "shop", serviceAccount: "cart", podName: "cart-1" },
      }),
      generate: () => view,
      metrics: new XdsMetrics(new client.Registry()),
      logger: pino({ level: "silent" }),
    });
    const port = await xds.listen(
      "127.0.0.1:0",
      new RotatingServerCredentials({
        certificateChainPem: cert,
        privateKeyPem: readFileSync(join(dir, "k.pem"), "utf8"),
      }),
    );
    const c = new SotwClient(`127.0.0.1:${port}`, undefined, undefined, undefined, {
      credentials: grpc.credentials.createSsl(Buffer.from(cert)),
      channelOptions: { "grpc.ssl_target_name_override": "trellis.test.svc" },
    });
    const app = buildAdminServer({
      xds,
      registry: new client.Registry(),
      state: { ready: () => true, diagnostics: () => [], configInfo: () => ({}) },
    });
    try {
      c.send({ node: node("cart-1"), type_url: SECRET, resource_names: ["default"] });
      const sent = await c.next();
      // The proxy itself gets its key…
      expect(sent.resources[0]?.value.tls_certificate.private_key.inline_string).toBe("PRIVATE-KEY-MATERIAL");
      // …the debug endpoint does not.
      const dump = await app.inject("/debug/config_dump?proxy=cart-1");
      expect(dump.statusCode).toBe(200);
      expect(dump.body).not.toContain("PRIVATE-KEY-MATERIAL");
      const [stream] = dump.json().streams;
      expect(stream.resources.SDS[0].resource.tls_certificate).toEqual({
        certificate_chain: { inline_string: "CHAIN-PEM" },
        private_key: { inline_string: "[redacted]" },
      });
    } finally {
      c.close();
      await app.close();
      await xds.shutdown(500);
    }
  });
});
