// The CA checked by software nobody here wrote: the openssl CLI verifies every
// chain (`-x509_strict`, with the TLS client and server purposes) and prints
// every extension; a Node TLS handshake (OpenSSL underneath) does mutual TLS
// with issued SVIDs; the provided CAs are made by openssl itself.
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, createServer, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CaMaterial,
  CaMaterialError,
  type CertificateAuthority,
  createCertificateAuthority,
  InvalidSpiffeIdError,
  PoolClosedError,
  type RootRotation,
  RotationError,
  splitPemCertificates,
} from "./index.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-ca-"));
let fileNo = 0;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(text: string): string {
  const p = join(dir, `f${fileNo++}.pem`);
  writeFileSync(p, text);
  return p;
}

function openssl(...args: string[]): string {
  return execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** `openssl verify` of the chain's leaf against `trusted`, with the chain's other certificates as untrusted. */
function verify(trusted: string, chainPem: string, purpose = "sslclient"): { ok: boolean; output: string } {
  const [leaf = ""] = splitPemCertificates(chainPem);
  const args = ["verify", "-x509_strict", "-purpose", purpose, "-CAfile", write(trusted)];
  args.push("-untrusted", write(chainPem), write(leaf));
  try {
    return { ok: true, output: openssl(...args) };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { ok: false, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

function leafText(chainPem: string): string {
  return openssl("x509", "-noout", "-text", "-in", write(splitPemCertificates(chainPem)[0] ?? ""));
}

const HOUR = 3600_000;
const frontend = { trustDomain: "cluster.local", namespace: "default", serviceAccount: "frontend" };
const cas: (CertificateAuthority & RootRotation)[] = [];
async function newCa(opts: Parameters<typeof createCertificateAuthority>[0]) {
  const ca = await createCertificateAuthority({ workers: 1, ...opts });
  cas.push(ca);
  return ca;
}
afterAll(async () => {
  await Promise.all(cas.map((c) => c.close()));
});

describe("generated root", () => {
  it("is a P-256 CA:TRUE root with keyCertSign + cRLSign (critical), valid for 10 years", async () => {
    const ca = await newCa({ signing: { kind: "generated" } });
    const [root = ""] = splitPemCertificates(ca.trustBundlePem());
    expect(splitPemCertificates(ca.trustBundlePem())).toHaveLength(1);
    const text = openssl("x509", "-noout", "-text", "-in", write(root));
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
    expect(text).toMatch(/X509v3 Subject Key Identifier/);
    expect(text).not.toMatch(/Extended Key Usage/);
    expect(text).toMatch(/NIST CURVE: P-256/);
    expect(text).toMatch(/Subject: O = trellis, OU = root [0-9a-f]{12}, CN = Trellis Root CA/);
    expect(verify(root, root, "any").ok).toBe(true);
    const x = new X509Certificate(root);
    expect(Date.parse(x.validTo) - Date.now()).toBeGreaterThan(3649 * 24 * HOUR);
    expect(Date.now() - Date.parse(x.validFrom)).toBeGreaterThanOrEqual(55_000);
  });

  it("issues X.509-SVIDs that openssl verifies for TLS client and server, with exactly one URI SAN", async () => {
    const ca = await newCa({ signing: { kind: "generated", commonName: "Test Root" } });
    const before = Date.now();
    const cert = await ca.issueWorkload(frontend);
    expect(cert.spiffeId).toBe("spiffe://cluster.local/ns/default/sa/frontend");
    expect(splitPemCertificates(cert.certificateChainPem)).toHaveLength(1); // the root is never in the chain
    for (const purpose of ["sslclient", "sslserver"]) {
      const r = verify(ca.trustBundlePem(), cert.certificateChainPem, purpose);
      expect(r.output).toMatch(/: OK/);
      expect(r.ok).toBe(true);
    }
    const text = leafText(cert.certificateChainPem);
    const san = /X509v3 Subject Alternative Name: critical\n\s+(.*)\n/.exec(text)?.[1];
    expect(san).toBe("URI:spiffe://cluster.local/ns/default/sa/frontend"); // one entry, nothing else
    expect(text).toMatch(/Subject: *\n/); // empty subject, hence the critical SAN (X509-SVID §3.1)
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    expect(text).toMatch(
      /X509v3 Extended Key Usage: *\n\s+TLS Web Server Authentication, TLS Web Client Authentication\n/,
    );
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(text).toMatch(/NIST CURVE: P-256/);
    const ski = /X509v3 Subject Key Identifier: *\n\s+(\S+)/.exec(text)?.[1];
    const aki = /X509v3 Authority Key Identifier: *\n\s+(?:keyid:)?(\S+)/.exec(text)?.[1];
    const rootText = openssl("x509", "-noout", "-text", "-in", write(ca.trustBundlePem()));
    expect(aki).toBe(/X509v3 Subject Key Identifier: *\n\s+(\S+)/.exec(rootText)?.[1]);
    expect(ski).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    expect(openssl("x509", "-noout", "-subject_hash", "-in", write(cert.certificateChainPem))).toBeTruthy();

    const x = new X509Certificate(cert.certificateChainPem);
    expect(x.serialNumber).toBe(cert.serialNumber);
    expect(cert.serialNumber.length).toBeGreaterThanOrEqual(28); // ~127 random bits
    expect(Number.parseInt(cert.serialNumber.slice(0, 2), 16)).toBeLessThan(0x80); // positive
    expect(cert.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/); // PKCS#8
    expect(x.checkPrivateKey(await import("node:crypto").then((c) => c.createPrivateKey(cert.privateKeyPem)))).toBe(
      true,
    );
    expect(Date.parse(x.validFrom)).toBe(cert.notBefore.getTime());
    expect(Date.parse(x.validTo)).toBe(cert.notAfter.getTime());
    // Backdated about a minute for clock skew; 24 h by default.
    expect(before - cert.notBefore.getTime()).toBeGreaterThanOrEqual(59_000);
    expect(before - cert.notBefore.getTime()).toBeLessThanOrEqual(62_000);
    expect(cert.notAfter.getTime() - cert.issuedAt.getTime()).toBeGreaterThan(24 * HOUR - 1000);
    expect(cert.notAfter.getTime() - cert.issuedAt.getTime()).toBeLessThanOrEqual(24 * HOUR);
  });

  it("issues xDS server certificates with DNS and IP SANs for serverAuth", async () => {
    const ca = await newCa({ signing: { kind: "generated" } });
    const cert = await ca.issueServer(["trellis.trellis-system.svc", "trellis.trellis-system.svc.cluster.local"], {
      ipAddresses: ["10.0.0.7", "fd00::7"],
      ttlMs: 30 * 24 * HOUR,
    });
    expect(verify(ca.trustBundlePem(), cert.certificateChainPem, "sslserver").ok).toBe(true);
    expect(cert.spiffeId).toBeUndefined();
    const text = leafText(cert.certificateChainPem);
    expect(text).toMatch(
      /X509v3 Subject Alternative Name: critical\n\s+DNS:trellis\.trellis-system\.svc, DNS:trellis\.trellis-system\.svc\.cluster\.local, IP Address:10\.0\.0\.7, IP Address:FD00:0:0:0:0:0:0:7\n/,
    );
    expect(text).toMatch(/X509v3 Extended Key Usage: *\n\s+TLS Web Server Authentication\n/);
    expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE/);
    const x = new X509Certificate(cert.certificateChainPem);
    expect(x.checkHost("trellis.trellis-system.svc")).toBe("trellis.trellis-system.svc");
    expect(x.checkIP("10.0.0.7")).toBe("10.0.0.7");
    await expect(ca.issueServer([])).rejects.toThrow(RangeError);
    await expect(ca.issueServer(["bad name"])).rejects.toThrow(/invalid DNS name/);
  });

  it("makes short TTLs possible, bounds long ones, and never outlives the root", async () => {
    const ca = await newCa({ signing: { kind: "generated", rootTtlMs: 2 * HOUR } });
    const short = await ca.issueWorkload(frontend, { ttlMs: 10_000 });
    const life = short.notAfter.getTime() - short.issuedAt.getTime();
    expect(life).toBeGreaterThan(9_000);
    expect(life).toBeLessThanOrEqual(10_000);
    expect(verify(ca.trustBundlePem(), short.certificateChainPem).ok).toBe(true);
    const capped = await ca.issueWorkload(frontend); // 24 h asked, the root lives 2 h
    const root = new X509Certificate(ca.trustBundlePem());
    expect(capped.notAfter.getTime()).toBe(Date.parse(root.validTo));
    await expect(ca.issueWorkload(frontend, { ttlMs: 500 })).rejects.toThrow(RangeError);
    await expect(ca.issueWorkload(frontend, { ttlMs: 91 * 24 * HOUR })).rejects.toThrow(RangeError);
    await expect(ca.issueWorkload(frontend, { ttlMs: Number.NaN })).rejects.toThrow(RangeError);
  });

  it("refuses identities that are not valid SPIFFE ID parts before doing any work", async () => {
    const ca = await newCa({ signing: { kind: "generated" } });
    for (const bad of [
      { ...frontend, serviceAccount: "" },
      { ...frontend, namespace: ".." },
      { ...frontend, serviceAccount: "a/b" },
      { ...frontend, trustDomain: "Cluster.Local" },
      { ...frontend, namespace: "ns%2F" },
    ]) {
      await expect(ca.issueWorkload(bad)).rejects.toThrow(InvalidSpiffeIdError);
    }
  });

  it("issues many certificates concurrently, all distinct and valid, and the same without workers", async () => {
    for (const workers of [2, 0]) {
      const ca = await newCa({ signing: { kind: "generated" }, workers });
      const rootKey = new X509Certificate(ca.trustBundlePem()).publicKey;
      const certs = await Promise.all(
        Array.from({ length: 200 }, (_, i) => ca.issueWorkload({ ...frontend, serviceAccount: `sa-${i}` })),
      );
      expect(new Set(certs.map((c) => c.serialNumber)).size).toBe(200);
      expect(new Set(certs.map((c) => c.privateKeyPem)).size).toBe(200);
      certs.forEach((c, i) => {
        const x = new X509Certificate(c.certificateChainPem);
        expect(x.verify(rootKey)).toBe(true);
        expect(x.subjectAltName).toBe(`URI:spiffe://cluster.local/ns/default/sa/sa-${i}`);
      });
    }
  });

  it("rejects issuance after close", async () => {
    const ca = await createCertificateAuthority({ signing: { kind: "generated" }, workers: 1 });
    await ca.issueWorkload(frontend);
    await ca.close();
    await expect(ca.issueWorkload(frontend)).rejects.toThrow(PoolClosedError);
  });

  it("lets two workloads do mutual TLS with their SVIDs, each trusting only the bundle", async () => {
    const ca = await newCa({ signing: { kind: "generated" } });
    const server = await ca.issueWorkload({ ...frontend, serviceAccount: "backend" });
    const client = await ca.issueWorkload(frontend);
    const { peerUri, serverSawUri } = await mtls(ca.trustBundlePem(), server, client);
    expect(peerUri).toBe("URI:spiffe://cluster.local/ns/default/sa/backend");
    expect(serverSawUri).toBe("URI:spiffe://cluster.local/ns/default/sa/frontend");
  });
});

/** A TLS 1.3 handshake with client certificates; identities are checked by SAN like Envoy's SAN matchers. */
async function mtls(
  bundle: string,
  server: { certificateChainPem: string; privateKeyPem: string },
  client: { certificateChainPem: string; privateKeyPem: string },
): Promise<{ peerUri: string; serverSawUri: string }> {
  let serverSawUri = "";
  const srv = createServer(
    {
      cert: server.certificateChainPem,
      key: server.privateKeyPem,
      ca: bundle,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.3",
    },
    (s: TLSSocket) => {
      serverSawUri = s.getPeerCertificate().subjectaltname ?? "";
      s.end("ok");
    },
  );
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  try {
    const peerUri = await new Promise<string>((resolve, reject) => {
      const sock = connect({
        host: "127.0.0.1",
        port,
        cert: client.certificateChainPem,
        key: client.privateKeyPem,
        ca: bundle,
        checkServerIdentity: () => undefined, // SPIFFE: the identity is the URI SAN, checked below
      });
      sock.on("secureConnect", () => resolve(sock.getPeerCertificate().subjectaltname ?? ""));
      sock.on("error", reject);
      sock.on("data", () => sock.end());
    });
    await new Promise((r) => setTimeout(r, 20));
    return { peerUri, serverSawUri };
  } finally {
    srv.close();
  }
}

describe("provided CA (root + intermediate made by openssl)", () => {
  let root: { certPem: string; keyPem: string };
  let intermediate: { certPem: string; keyPem: string };

  beforeAll(() => {
    const rk = join(dir, "root.key");
    const rc = join(dir, "root.crt");
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", rk);
    openssl(
      "req",
      ...["-x509", "-new", "-key", rk, "-subj", "/O=Example Corp/CN=Example Root", "-days", "30", "-out", rc],
      ...["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
    );
    // An RSA intermediate (Istio's tooling makes RSA CAs): the leaf keys stay P-256.
    const ik = join(dir, "int.key");
    const csr = join(dir, "int.csr");
    const ic = join(dir, "int.crt");
    const ext = write(
      "[v3]\nbasicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
    );
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", ik);
    openssl("req", "-new", "-key", ik, "-subj", "/O=Example Corp/CN=Mesh Intermediate", "-out", csr);
    openssl(
      "x509",
      ...["-req", "-in", csr, "-CA", rc, "-CAkey", rk, "-CAcreateserial", "-days", "20"],
      ...["-extfile", ext, "-extensions", "v3", "-out", ic],
    );
    const read = (p: string) => execFileSync("cat", [p], { encoding: "utf8" });
    root = { certPem: read(rc), keyPem: read(rk) };
    intermediate = { certPem: read(ic), keyPem: read(ik) };
  });

  it("signs with an intermediate: the chain is leaf + intermediate, the bundle is the root, openssl verifies", async () => {
    // Istio's cacerts layout: cert-chain.pem holds the intermediate and the root.
    const ca = await newCa({
      signing: {
        kind: "provided",
        certPem: intermediate.certPem,
        keyPem: intermediate.keyPem,
        chainPem: intermediate.certPem + root.certPem,
        rootPem: root.certPem,
      },
    });
    expect(ca.trustBundlePem()).toBe(new X509Certificate(root.certPem).toString());
    const cert = await ca.issueWorkload(frontend);
    const chain = splitPemCertificates(cert.certificateChainPem);
    expect(chain).toHaveLength(2);
    expect(new X509Certificate(chain[1] ?? "").subject).toContain("CN=Mesh Intermediate");
    for (const purpose of ["sslclient", "sslserver"]) {
      expect(verify(ca.trustBundlePem(), cert.certificateChainPem, purpose).ok).toBe(true);
    }
    const text = leafText(cert.certificateChainPem);
    expect(text).toMatch(/Signature Algorithm: sha256WithRSAEncryption/);
    expect(text).toMatch(/Issuer: O = Example Corp, CN = Mesh Intermediate/);
    expect(text).toMatch(/NIST CURVE: P-256/); // the leaf key is P-256 whatever the CA's key is
    expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
    // Without the intermediate, the leaf does not verify: the chain really is needed.
    const leafOnly = chain[0] ?? "";
    expect(verify(ca.trustBundlePem(), leafOnly).ok).toBe(false);
    // Leaves never outlive the intermediate (20 days).
    const long = await ca.issueWorkload(frontend, { ttlMs: 60 * 24 * HOUR });
    expect(long.notAfter.getTime()).toBe(Date.parse(new X509Certificate(intermediate.certPem).validTo));
  });

  it("finds the root at the end of the chain when no root file is given", async () => {
    const ca = await newCa({
      signing: { kind: "provided", ...intermediate, chainPem: root.certPem },
    });
    expect(ca.trustBundlePem()).toBe(new X509Certificate(root.certPem).toString());
    const cert = await ca.issueServer(["xds.example"]);
    expect(verify(ca.trustBundlePem(), cert.certificateChainPem, "sslserver").ok).toBe(true);
  });

  it("signs with a provided root directly", async () => {
    const ca = await newCa({ signing: { kind: "provided", ...root } });
    const cert = await ca.issueWorkload(frontend);
    expect(splitPemCertificates(cert.certificateChainPem)).toHaveLength(1);
    expect(verify(root.certPem, cert.certificateChainPem).ok).toBe(true);
  });

  it("refuses material that cannot work, saying why", async () => {
    const cases: [CaMaterial, RegExp][] = [
      [{ certPem: intermediate.certPem, keyPem: root.keyPem, rootPem: root.certPem }, /does not match/],
      [{ ...intermediate }, /not self-signed and no root was given/],
      [{ ...intermediate, rootPem: intermediate.certPem }, /root .* is not self-signed/],
      [{ certPem: "nope", keyPem: root.keyPem }, /exactly one certificate/],
      [{ certPem: root.certPem, keyPem: "nope" }, /not a PEM private key/],
    ];
    for (const [material, message] of cases) {
      await expect(createCertificateAuthority({ signing: { kind: "provided", ...material } })).rejects.toThrow(message);
    }
    // A leaf is not a CA.
    const ca = await newCa({ signing: { kind: "provided", ...root } });
    const leaf = await ca.issueWorkload(frontend);
    await expect(
      createCertificateAuthority({
        signing: { kind: "provided", certPem: leaf.certificateChainPem, keyPem: leaf.privateKeyPem },
      }),
    ).rejects.toThrow(/is not a CA/);
    // An expired CA (the clock says 2 months from now).
    await expect(
      createCertificateAuthority({
        signing: { kind: "provided", ...root },
        clock: () => Date.now() + 60 * 24 * HOUR,
      }),
    ).rejects.toThrow(CaMaterialError);
  });

  it("rotates from one provided intermediate to another only when given the new material", async () => {
    const ca = await newCa({ signing: { kind: "provided", ...intermediate, rootPem: root.certPem } });
    await expect(ca.beginRootRotation()).rejects.toThrow(RotationError);
    await ca.beginRootRotation({ ...root });
    expect(ca.state()).toBe("PUBLISHED");
    expect(splitPemCertificates(ca.trustBundlePem())).toHaveLength(1); // same root: nothing to publish
    await ca.switchSigning();
    const cert = await ca.issueWorkload(frontend);
    expect(splitPemCertificates(cert.certificateChainPem)).toHaveLength(1);
    expect(verify(ca.trustBundlePem(), cert.certificateChainPem).ok).toBe(true);
  });
});

describe("root rotation", () => {
  it("keeps old- and new-root leaves verifying through publish and switch; after retire only new ones verify", async () => {
    const ca = await newCa({ signing: { kind: "generated" } });
    const bundles: string[] = [];
    let signerChanges = 0;
    ca.onTrustBundleChange((pem) => bundles.push(pem));
    ca.onSignerChange(() => signerChanges++);
    const [oldRoot = ""] = splitPemCertificates(ca.trustBundlePem());
    expect(ca.state()).toBe("STABLE");
    const leafA = await ca.issueWorkload(frontend);

    await ca.beginRootRotation();
    expect(ca.state()).toBe("PUBLISHED");
    const published = splitPemCertificates(ca.trustBundlePem());
    expect(published).toHaveLength(2);
    expect(published[0]).toBe(oldRoot);
    const newRoot = published[1] ?? "";
    expect(bundles).toEqual([ca.trustBundlePem()]);
    const leafB = await ca.issueWorkload(frontend); // still signed by the old root
    expect(verify(oldRoot, leafB.certificateChainPem).ok).toBe(true);
    expect(verify(newRoot, leafB.certificateChainPem).ok).toBe(false);
    for (const leaf of [leafA, leafB]) expect(verify(ca.trustBundlePem(), leaf.certificateChainPem).ok).toBe(true);

    await ca.switchSigning();
    expect(ca.state()).toBe("SWITCHED");
    expect(signerChanges).toBe(1);
    expect(bundles).toHaveLength(1); // the bundle did not change, not even its order
    const leafC = await ca.issueWorkload(frontend); // signed by the new root
    expect(verify(newRoot, leafC.certificateChainPem).ok).toBe(true);
    expect(verify(oldRoot, leafC.certificateChainPem).ok).toBe(false);
    for (const leaf of [leafA, leafB, leafC]) {
      expect(verify(ca.trustBundlePem(), leaf.certificateChainPem).ok).toBe(true);
    }
    // Both generations of workloads still talk to each other over mTLS.
    await expect(mtls(ca.trustBundlePem(), leafA, leafC)).resolves.toBeTruthy();

    await expect(ca.retireOldRoot()).rejects.toThrow(/valid until/);
    await ca.retireOldRoot({ force: true });
    expect(ca.state()).toBe("STABLE");
    expect(ca.trustBundlePem()).toBe(newRoot);
    expect(bundles).toEqual([published.join(""), newRoot]);
    expect(verify(ca.trustBundlePem(), leafC.certificateChainPem).ok).toBe(true);
    for (const leaf of [leafA, leafB]) {
      const r = verify(ca.trustBundlePem(), leaf.certificateChainPem);
      expect(r.ok).toBe(false);
      expect(r.output).toMatch(/unable to get local issuer certificate/);
    }
  });

  it("retires without force once every old-root certificate issued here has expired", async () => {
    let now = Date.now();
    const ca = await newCa({ signing: { kind: "generated" }, clock: () => now });
    const old = await ca.issueWorkload(frontend, { ttlMs: 10_000 });
    await ca.beginRootRotation();
    await ca.switchSigning();
    await expect(ca.retireOldRoot()).rejects.toThrow(RotationError);
    now = old.notAfter.getTime() + 1;
    await ca.retireOldRoot();
    expect(ca.state()).toBe("STABLE");
  });

  it("enforces the phase order", async () => {
    const ca = await newCa({ signing: { kind: "generated" } });
    await expect(ca.switchSigning()).rejects.toThrow(/needs state PUBLISHED, the CA is STABLE/);
    await expect(ca.retireOldRoot()).rejects.toThrow(RotationError);
    await ca.beginRootRotation();
    await expect(ca.beginRootRotation()).rejects.toThrow(RotationError);
    await expect(ca.retireOldRoot()).rejects.toThrow(RotationError);
  });

  it("lets a follower replica adopt each persisted phase and sign like the leader", async () => {
    const leader = await newCa({ signing: { kind: "generated" } });
    const follower = await newCa({ signing: { kind: "provided", ...leader.persisted().current } });
    let followerBundles = 0;
    let followerSigners = 0;
    follower.onTrustBundleChange(() => followerBundles++);
    follower.onSignerChange(() => followerSigners++);
    expect(follower.trustBundlePem()).toBe(leader.trustBundlePem());

    await leader.beginRootRotation();
    follower.adopt(leader.persisted());
    expect(follower.state()).toBe("PUBLISHED");
    expect(follower.trustBundlePem()).toBe(leader.trustBundlePem());
    expect(followerBundles).toBe(1);

    await leader.switchSigning();
    follower.adopt(leader.persisted());
    expect(follower.state()).toBe("SWITCHED");
    expect(followerSigners).toBe(1);
    expect(follower.trustBundlePem()).toBe(leader.trustBundlePem());
    const [, newRoot = ""] = splitPemCertificates(leader.trustBundlePem());
    expect(verify(newRoot, (await follower.issueWorkload(frontend)).certificateChainPem).ok).toBe(true);

    await leader.retireOldRoot({ force: true });
    follower.adopt(leader.persisted());
    expect(follower.state()).toBe("STABLE");
    expect(follower.trustBundlePem()).toBe(newRoot);
    expect(followerBundles).toBe(2);

    // A restart in the middle of a rotation resumes it from the persisted phase.
    await leader.beginRootRotation();
    const restarted = await newCa({
      signing: { kind: "provided", ...leader.persisted().current },
      rotation: leader.persisted().rotation,
    });
    expect(restarted.state()).toBe("PUBLISHED");
    expect(restarted.trustBundlePem()).toBe(leader.trustBundlePem());
  });
});
