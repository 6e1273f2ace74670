// The wired injector with a user-provided certificate (mode a), in-process:
// replacing the files changes the certificate new TLS clients get, with no
// restart. No API server is needed for that (the kubeconfig points at a closed
// port), which also shows that readiness waits for the Namespace cache.
// Generated certificates against a real API server: e2e/kube/injector.test.ts.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { afterAll, describe, expect, it } from "vitest";
import { createCa, issueServingCert } from "./certs.js";
import { createInjectorLogger, type RunningInjector, startInjector } from "./injector.js";

const DAY = 86_400_000;
const dir = mkdtempSync(join(tmpdir(), "trellis-injector-run-"));
let running: RunningInjector | undefined;
afterAll(async () => {
  await running?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("trellis-injector with --tls-cert-file/--tls-key-file", () => {
  it("serves the files' certificate and swaps in a replaced one without restarting", async () => {
    const ca = await createCa({ lifetimeMs: DAY });
    const one = await issueServingCert(ca, { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], lifetimeMs: DAY });
    const two = await issueServingCert(ca, { dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], lifetimeMs: DAY });
    const certFile = join(dir, "tls.crt");
    const keyFile = join(dir, "tls.key");
    writeFileSync(certFile, one.certPem);
    writeFileSync(keyFile, one.keyPem);
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(
      kubeconfig,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]",
        "users: [{name: u, user: {token: t}}]",
        "contexts: [{name: x, context: {cluster: c, user: u}}]",
        "current-context: x",
      ].join("\n"),
    );
    running = await startInjector(
      {
        port: 0,
        bindAddress: "127.0.0.1",
        metricsAddress: "127.0.0.1:0",
        namespace: "trellis-system",
        webhookConfigName: "trellis-sidecar-injector",
        serviceName: "trellis-injector",
        extraSans: [],
        tlsCertFile: certFile,
        tlsKeyFile: keyFile,
        certLifetimeMs: DAY,
        caLifetimeMs: DAY,
        checkIntervalMs: 60_000,
        kubeconfig,
        shutdownDelayMs: 0,
      },
      createInjectorLogger("silent"),
    );
    const port = running.port;
    const serial = () =>
      new Promise<string>((resolve, reject) => {
        const s = connect({ host: "127.0.0.1", port, ca: ca.certPem }, () => {
          resolve(s.getPeerX509Certificate()?.serialNumber ?? "");
          s.end();
        });
        s.on("error", reject);
      });
    expect(await serial()).toBe(one.serial);

    writeFileSync(keyFile, two.keyPem);
    writeFileSync(certFile, two.certPem);
    const deadline = Date.now() + 15_000;
    let got = await serial();
    while (got !== two.serial && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      got = await serial();
    }
    expect(got).toBe(two.serial);
    expect(running.servingCertificate()).toBe(two.certPem);

    // No API server: not ready (the Namespace cache cannot sync), but alive.
    const readyz = await fetchTls(port, "/readyz", ca.certPem);
    expect(readyz.status).toBe(503);
    expect(readyz.body).toContain("TRL9504");
    expect((await fetchTls(port, "/healthz", ca.certPem)).status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${running.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/trellis_injector_serving_cert_rotations_total 1/);
    expect(running.caBundle()).toBeUndefined();
  });
});

async function fetchTls(port: number, path: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, ca }, (res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}
