// The certificate profiles and the template fill, read back by @peculiar/x509
// (an independent X.509 parser on asn1js) rather than by our own DER reader.
import "reflect-metadata"; // @peculiar/x509 resolves its codecs through tsyringe
import * as nodeCrypto from "node:crypto";
import { generateKeyPairSync, sign, webcrypto, X509Certificate } from "node:crypto";
import * as x509 from "@peculiar/x509";
import { describe, expect, it } from "vitest";
import {
  certificate,
  distinguishedName,
  ipAddressBytes,
  keyIdentifier,
  rootTbs,
  SignatureAlgorithm,
  serverTbs,
  workloadTbs,
} from "./certificate.js";
import { pem } from "./der.js";
import { locateKeySlots, PLACEHOLDER_KEY_ID, placeholderSpki, runIssueJob } from "./issue-job.js";
import { randomSerial } from "./signer.js";
import { IssuePool } from "./worker-pool.js";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

function p256() {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { spki: publicKey.export({ type: "spki", format: "der" }), privateKey };
}

const now = Date.UTC(2026, 10, 25, 12, 0, 0);
const root = (() => {
  const k = p256();
  const subject = distinguishedName({ organization: "trellis", commonName: "Test Root" });
  const tbs = rootTbs({
    serial: randomSerial(),
    signatureAlgorithm: "ecdsa-with-SHA256",
    subject,
    notBefore: now - 60_000,
    notAfter: now + 3650 * 86_400_000,
    spki: k.spki,
  });
  const der = certificate(tbs, "ecdsa-with-SHA256", sign("sha256", tbs, k.privateKey));
  return { ...k, subject, der, keyId: keyIdentifier(k.spki) };
})();

function extensionsOf(der: Uint8Array) {
  const cert = new x509.X509Certificate(Buffer.from(der));
  return { cert, exts: cert.extensions.map((e) => ({ type: e.type, critical: e.critical })) };
}

describe("certificate profiles (read by @peculiar/x509)", () => {
  it("root: self-signed, BasicConstraints cA pathLen 0 and KeyUsage critical, SKI = SHA-1 of the key bits", async () => {
    const { cert, exts } = extensionsOf(root.der);
    expect(await cert.isSelfSigned()).toBe(true);
    expect(cert.subject).toBe("O=trellis, CN=Test Root");
    expect(exts).toEqual([
      { type: "2.5.29.19", critical: true },
      { type: "2.5.29.15", critical: true },
      { type: "2.5.29.14", critical: false },
    ]);
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    expect([bc?.ca, bc?.pathLength]).toEqual([true, 0]);
    expect(cert.getExtension(x509.KeyUsagesExtension)?.usages).toBe(
      x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
    );
    const expected = await x509.SubjectKeyIdentifierExtension.create(await cert.publicKey.export());
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toBe(expected.keyId);
    expect(cert.notBefore.getTime()).toBe(now - 60_000);
  });

  it("workload: empty subject, one critical URI SAN, cA=false, digitalSignature only, server+client auth, AKI", async () => {
    const leaf = p256();
    const tbs = workloadTbs({
      serial: randomSerial(),
      signatureAlgorithm: "ecdsa-with-SHA256",
      issuer: root.subject,
      notBefore: now - 60_000,
      notAfter: now + 86_400_000,
      spki: leaf.spki,
      issuerKeyId: root.keyId,
      spiffeId: "spiffe://cluster.local/ns/default/sa/frontend",
    });
    const der = certificate(tbs, "ecdsa-with-SHA256", sign("sha256", tbs, root.privateKey));
    const { cert, exts } = extensionsOf(der);
    expect(cert.subject).toBe("");
    expect(cert.issuer).toBe("O=trellis, CN=Test Root");
    expect(
      await cert.verify({ publicKey: await new x509.X509Certificate(Buffer.from(root.der)).publicKey.export() }),
    ).toBe(true);
    expect(exts).toEqual([
      { type: "2.5.29.19", critical: true },
      { type: "2.5.29.15", critical: true },
      { type: "2.5.29.37", critical: false },
      { type: "2.5.29.14", critical: false },
      { type: "2.5.29.35", critical: false },
      { type: "2.5.29.17", critical: true },
    ]);
    expect(cert.getExtension(x509.BasicConstraintsExtension)?.ca).toBe(false);
    expect(cert.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([
      x509.ExtendedKeyUsage.serverAuth,
      x509.ExtendedKeyUsage.clientAuth,
    ]);
    expect(cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON()).toEqual([
      { type: "url", value: "spiffe://cluster.local/ns/default/sa/frontend" },
    ]);
    expect(cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId).toBe(root.keyId.toString("hex"));
    expect(cert.signatureAlgorithm).toMatchObject({ name: "ECDSA", hash: { name: "SHA-256" } });
  });

  it("server: DNS then IP SANs, serverAuth only", () => {
    const leaf = p256();
    const tbs = serverTbs({
      serial: randomSerial(),
      signatureAlgorithm: "ecdsa-with-SHA256",
      issuer: root.subject,
      notBefore: now,
      notAfter: now + 1000,
      spki: leaf.spki,
      issuerKeyId: root.keyId,
      dnsNames: ["trellis.trellis-system.svc"],
      ipAddresses: ["127.0.0.1", "::1"],
    });
    const der = certificate(tbs, "ecdsa-with-SHA256", sign("sha256", tbs, root.privateKey));
    const { cert } = extensionsOf(der);
    expect(cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON()).toEqual([
      { type: "dns", value: "trellis.trellis-system.svc" },
      { type: "ip", value: "127.0.0.1" },
      { type: "ip", value: "::1" },
    ]);
    expect(cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages).toEqual([x509.ExtendedKeyUsage.serverAuth]);
  });

  it("encodes IP addresses in network byte order, IPv4 in 4 octets and IPv6 in 16", () => {
    const hex = (ip: string) => ipAddressBytes(ip).toString("hex");
    expect(hex("10.1.2.255")).toBe("0a0102ff");
    expect(hex("::1")).toBe("00000000000000000000000000000001");
    expect(hex("fd00::7")).toBe("fd000000000000000000000000000007");
    expect(hex("2001:db8:0:0:1:0:0:1")).toBe("20010db8000000000001000000000001");
    expect(hex("::ffff:192.0.2.128")).toBe("00000000000000000000ffffc0000280");
    expect(hex("1::")).toBe("00010000000000000000000000000000");
    expect(() => ipAddressBytes("300.1.1.1")).toThrow();
    expect(() => ipAddressBytes("example.com")).toThrow();
  });
});

describe("template fill (runIssueJob)", () => {
  const template = () =>
    workloadTbs({
      serial: randomSerial(),
      signatureAlgorithm: "ecdsa-with-SHA256",
      issuer: root.subject,
      notBefore: now,
      notAfter: now + 1000,
      spki: placeholderSpki(),
      subjectKeyId: PLACEHOLDER_KEY_ID,
      issuerKeyId: root.keyId,
      spiffeId: "spiffe://td/ns/a/sa/b",
    });

  it("puts a fresh key and its SubjectKeyIdentifier into the template and signs it", async () => {
    const tbs = template();
    const job = {
      tbs,
      ...locateKeySlots(tbs),
      signer: "root",
      digest: "sha256",
      algorithmIdentifier: SignatureAlgorithm["ecdsa-with-SHA256"].identifier,
    };
    const out = runIssueJob(job, root.privateKey, nodeCrypto);
    const node = new X509Certificate(out.certPem);
    expect(node.verify(new X509Certificate(Buffer.from(root.der)).publicKey)).toBe(true);
    expect(node.checkPrivateKey(nodeCrypto.createPrivateKey(out.keyPem))).toBe(true);
    const cert = new x509.X509Certificate(out.certPem);
    const ski = await x509.SubjectKeyIdentifierExtension.create(await cert.publicKey.export());
    expect(cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId).toBe(ski.keyId);
    expect(tbs.equals(template())).toBe(false); // the job filled a copy, not the caller's buffer...
    expect(tbs.subarray(job.spkiOffset + 27, job.spkiOffset + 91).every((b) => b === 0)).toBe(true); // ...untouched
    // Same bytes as the PEM helper would write for the same DER.
    expect(pem("CERTIFICATE", node.raw)).toBe(out.certPem);
  });

  it("encodes the new key's PKCS#8 exactly as OpenSSL does, and its public key is the certificate's", () => {
    for (let i = 0; i < 50; i++) {
      const tbs = template();
      const out = runIssueJob(
        {
          tbs,
          ...locateKeySlots(tbs),
          signer: "root",
          digest: "sha256",
          algorithmIdentifier: SignatureAlgorithm["ecdsa-with-SHA256"].identifier,
        },
        root.privateKey,
        nodeCrypto,
      );
      const ours = Buffer.from(out.keyPem.replace(/-----[^-]+-----|\n/g, ""), "base64");
      const key = nodeCrypto.createPrivateKey(out.keyPem);
      expect(key.export({ type: "pkcs8", format: "der" }).equals(ours)).toBe(true);
      const fromKey = nodeCrypto.createPublicKey(key).export({ type: "spki", format: "der" });
      const fromCert = new X509Certificate(out.certPem).publicKey.export({ type: "spki", format: "der" });
      expect(fromCert.equals(fromKey)).toBe(true);
    }
  });

  it("pads a private scalar with leading zero octets to 32 octets (1 key in 256 has one)", () => {
    for (let i = 0; i < 5000; i++) {
      const tbs = template();
      const out = runIssueJob(
        {
          tbs,
          ...locateKeySlots(tbs),
          signer: "root",
          digest: "sha256",
          algorithmIdentifier: SignatureAlgorithm["ecdsa-with-SHA256"].identifier,
        },
        root.privateKey,
        nodeCrypto,
      );
      const der = Buffer.from(out.keyPem.replace(/-----[^-]+-----|\n/g, ""), "base64");
      if (der[36] !== 0) continue; // d starts at offset 36 of the PKCS#8
      const key = nodeCrypto.createPrivateKey(out.keyPem);
      expect(key.export({ type: "pkcs8", format: "der" }).equals(der)).toBe(true);
      expect(new X509Certificate(out.certPem).checkPrivateKey(key)).toBe(true);
      return;
    }
    throw new Error("no key with a leading zero octet in 5000 tries");
  });

  it("finds no slots in a certificate that is not a P-256 template", () => {
    const rootTbsOnly = rootTbs({
      serial: randomSerial(),
      signatureAlgorithm: "ecdsa-with-SHA256",
      subject: root.subject,
      notBefore: now,
      notAfter: now + 1,
      spki: generateKeyPairSync("ec", { namedCurve: "P-384" }).publicKey.export({ type: "spki", format: "der" }),
    });
    expect(() => locateKeySlots(rootTbsOnly)).toThrow(/P-256/);
  });

  it("terminates a worker that stops answering and serves the next jobs with a new one", async () => {
    const pool = new IssuePool(1, { stallMs: 100 });
    const tbs = template();
    const good = {
      tbs,
      ...locateKeySlots(tbs),
      signer: "root",
      keyPem: root.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      digest: "sha256",
      algorithmIdentifier: SignatureAlgorithm["ecdsa-with-SHA256"].identifier,
    };
    // 128 MiB to copy and hash keeps the worker busy for several times 100 ms: it looks stalled.
    const huge = Buffer.concat([tbs, Buffer.alloc(128 * 1024 * 1024)]);
    await expect(pool.run(() => ({ ...good, tbs: huge }))).rejects.toThrow(/stalled/);
    await expect(pool.run(() => good)).resolves.toMatchObject({ certPem: expect.stringMatching(/^-----BEGIN/) });
    await pool.close();
  });

  it("reports a failing job as a rejection and keeps serving the next ones (workers and inline)", async () => {
    for (const size of [1, 0]) {
      const pool = new IssuePool(size);
      const tbs = template();
      const good = {
        tbs,
        ...locateKeySlots(tbs),
        signer: "root",
        keyPem: root.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
        digest: "sha256",
        algorithmIdentifier: SignatureAlgorithm["ecdsa-with-SHA256"].identifier,
      };
      await expect(pool.run(() => ({ ...good, signer: "other", keyPem: undefined }))).rejects.toThrow(
        /never sent|unknown/,
      );
      await expect(pool.run(() => ({ ...good, spkiOffset: 3 }))).rejects.toThrow(/does not fit the P-256 template/);
      await expect(
        pool.run(() => {
          throw new Error("no template");
        }),
      ).rejects.toThrow("no template");
      await expect(pool.run(() => good)).resolves.toMatchObject({
        certPem: expect.stringMatching(/^-----BEGIN CERT/),
      });
      await pool.close();
      await expect(pool.run(() => good)).rejects.toThrow(/closed/);
    }
  });
});
