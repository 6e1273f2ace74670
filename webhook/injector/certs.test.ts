// The webhook's CA and serving certificates, checked by OpenSSL (the CLI, not
// our own parser): extensions, SANs, chain, key pairing; and by a real TLS
// handshake the way the API server makes it (SNI = the Service's DNS name).
import { execFileSync } from "node:child_process";
import { createPrivateKey, generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "node:tls";
import { afterAll, describe, expect, it } from "vitest";
import { classifySans, createCa, issueServingCert, loadCa, pemCertificates } from "./certs.js";
import { parseDuration } from "./duration.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-injector-certs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function openssl(...args: string[]): string {
  return execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

const DAY = 86_400_000;
const names = ["trellis-injector.trellis-system.svc", "trellis-injector.trellis-system.svc.cluster.local"];

describe("webhook certificates", () => {
  it("makes a P-256 CA that OpenSSL reads as a CA: CA:TRUE pathlen 0, keyCertSign, self-signed", async () => {
    const ca = await createCa({ lifetimeMs: 3650 * DAY });
    const file = write("ca.pem", ca.certPem);
    const text = openssl("x509", "-in", file, "-noout", "-text");
    expect(text).toMatch(/Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/Key Usage: critical\s+Certificate Sign, CRL Sign/);
    expect(text).toMatch(/Public Key Algorithm: id-ecPublicKey[\s\S]*NIST CURVE: P-256/);
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(text).toMatch(/Subject Key Identifier/);
    expect(openssl("verify", "-CAfile", file, file).trim()).toBe(`${file}: OK`);
    // Back-dated for clock skew; 10 years ahead.
    expect(ca.notBefore.getTime()).toBeLessThan(Date.now() - 4 * 60_000);
    expect(ca.notAfter.getTime() - Date.now()).toBeGreaterThan(3649 * DAY);
  });

  it("issues a serving certificate with the Service names and extra IP SANs, chained to the CA", async () => {
    const ca = await createCa({ lifetimeMs: 3650 * DAY });
    const { dnsNames, ipAddresses } = classifySans(["127.0.0.1", "::1", "injector.example"]);
    const cert = await issueServingCert(ca, { dnsNames: [...names, ...dnsNames], ipAddresses, lifetimeMs: 90 * DAY });
    const caFile = write("chain-ca.pem", ca.certPem);
    const leafFile = write("leaf.pem", cert.certPem);
    const keyFile = write("leaf.key", cert.keyPem);
    const text = openssl("x509", "-in", leafFile, "-noout", "-text");
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(/Extended Key Usage:\s+TLS Web Server Authentication\n/);
    expect(text).toMatch(
      /Subject Alternative Name:\s+DNS:trellis-injector\.trellis-system\.svc, DNS:trellis-injector\.trellis-system\.svc\.cluster\.local, DNS:injector\.example, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/,
    );
    expect(text).toMatch(/Subject: CN ?= ?trellis-injector\.trellis-system\.svc/);
    expect(text).toMatch(/Authority Key Identifier/);
    expect(openssl("verify", "-CAfile", caFile, "-purpose", "sslserver", leafFile).trim()).toBe(`${leafFile}: OK`);
    // The key is PKCS#8 P-256 and belongs to the certificate.
    expect(openssl("pkey", "-in", keyFile, "-noout", "-text")).toMatch(/ASN1 OID: prime256v1/);
    expect(new X509Certificate(cert.certPem).checkPrivateKey(createPrivateKey(cert.keyPem))).toBe(true);
    // Renewal is due at two thirds of the lifetime.
    const life = cert.notAfter.getTime() - Date.now();
    expect(life).toBeGreaterThan(89.9 * DAY);
    expect(cert.renewAt.getTime() - Date.now()).toBeCloseTo((90 * DAY * 2) / 3, -5);
  });

  it("never lets a serving certificate outlive its CA", async () => {
    const ca = await createCa({ lifetimeMs: DAY });
    const cert = await issueServingCert(ca, { dnsNames: names, lifetimeMs: 90 * DAY });
    expect(cert.notAfter.getTime()).toBe(ca.notAfter.getTime());
  });

  it("is what a TLS client checking the API server's way accepts (SNI = Service name, CA = caBundle)", async () => {
    const ca = await createCa({ lifetimeMs: DAY });
    const cert = await issueServingCert(ca, { dnsNames: names, ipAddresses: ["127.0.0.1"], lifetimeMs: DAY });
    const server = createServer({ key: cert.keyPem, cert: cert.certPem }, (_req, res) => res.end("ok"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const handshake = (servername: string, caPem: string) =>
      new Promise<{ authorized: boolean; error?: string }>((resolve) => {
        const s = connect({ host: "127.0.0.1", port, servername, ca: caPem, rejectUnauthorized: false }, () => {
          resolve({ authorized: s.authorized, error: s.authorizationError?.toString() });
          s.end();
        });
        s.on("error", (e) => resolve({ authorized: false, error: e.message }));
      });
    try {
      expect(await handshake("trellis-injector.trellis-system.svc", ca.certPem)).toEqual({
        authorized: true,
        error: undefined,
      });
      const other = await createCa({ lifetimeMs: DAY });
      expect((await handshake("trellis-injector.trellis-system.svc", other.certPem)).authorized).toBe(false);
    } finally {
      server.close();
    }
  });

  it("loads a CA back from PEM, and refuses what is not a usable P-256 CA, saying why", async () => {
    const ca = await createCa({ lifetimeMs: DAY });
    const again = await loadCa(ca.certPem, ca.keyPem);
    expect(again.fingerprint).toBe(ca.fingerprint);
    const leaf = await issueServingCert(again, { dnsNames: names, lifetimeMs: DAY });
    expect(new X509Certificate(leaf.certPem).verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);

    const other = await createCa({ lifetimeMs: DAY });
    await expect(loadCa(ca.certPem, other.keyPem)).rejects.toThrow(/does not match/);
    await expect(loadCa(leaf.certPem, leaf.keyPem)).rejects.toThrow(/is not a CA/);
    await expect(loadCa("junk", ca.keyPem)).rejects.toThrow(/not a PEM X\.509 certificate/);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" });
    await expect(loadCa(ca.certPem, rsa.toString())).rejects.toThrow(/must be ECDSA P-256, got rsa/);
  });

  it("splits PEM bundles and SAN flags, and parses lifetimes", () => {
    expect(classifySans(["10.0.0.1", "a.example", "fd00::1"])).toEqual({
      dnsNames: ["a.example"],
      ipAddresses: ["10.0.0.1", "fd00::1"],
    });
    const pem = "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n";
    expect(pemCertificates(`junk\n${pem}${pem}`)).toHaveLength(2);
    expect(parseDuration("90d")).toBe(90 * DAY);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(() => parseDuration("90 days")).toThrow(/not a duration/);
    expect(() => parseDuration("0s")).toThrow(/longer than zero/);
  });

  it("signs fast enough to note: serial and 50-way concurrent leaf issuance (P-256 key + sign + PEM)", async () => {
    const ca = await createCa({ lifetimeMs: DAY });
    const n = 100;
    let t = performance.now();
    for (let i = 0; i < n; i++) await issueServingCert(ca, { dnsNames: names, lifetimeMs: DAY });
    const serialMs = (performance.now() - t) / n;
    t = performance.now();
    for (let i = 0; i < n / 50; i++) {
      await Promise.all(Array.from({ length: 50 }, () => issueServingCert(ca, { dnsNames: names, lifetimeMs: DAY })));
    }
    const concurrentMs = (performance.now() - t) / n;
    process.stdout.write(
      `@peculiar/x509 leaf issuance: ${serialMs.toFixed(2)} ms serial (${Math.round(1000 / serialMs)}/s), ${concurrentMs.toFixed(2)} ms at 50 concurrent (${Math.round(1000 / concurrentMs)}/s)\n`,
    );
    // A loose bound so a slow CI machine passes; the numbers are for docs/injection-webhook.md.
    expect(serialMs).toBeLessThan(200);
  });
});
