// User-provided serving certificates: loaded at start (refused if the pair is
// broken), and reloaded when the files change the way a kubelet updates a
// Secret volume (a `..data` symlink swapped to a new directory), keeping the
// old pair while an update is half-written.
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createCa, issueServingCert } from "./certs.js";
import { FileCertificates, type LoadedPair, loadPair } from "./file-cert.js";

const DAY = 86_400_000;
const root = mkdtempSync(join(tmpdir(), "trellis-injector-files-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Writes a pair the kubelet's way: a fresh directory, then `..data` swapped atomically to point at it. */
function publish(dir: string, version: number, cert: string, key: string) {
  const data = join(dir, `..v${version}`);
  mkdirSync(data);
  writeFileSync(join(data, "tls.crt"), cert);
  writeFileSync(join(data, "tls.key"), key);
  symlinkSync(`..v${version}`, join(dir, "..data_tmp"));
  renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
}

describe("serving certificate from files", () => {
  it("refuses to start with a key that does not belong to the certificate, naming the file", async () => {
    const ca = await createCa({ lifetimeMs: DAY });
    const a = await issueServingCert(ca, { dnsNames: ["a"], lifetimeMs: DAY });
    const b = await issueServingCert(ca, { dnsNames: ["b"], lifetimeMs: DAY });
    const dir = join(root, "mismatch");
    mkdirSync(dir);
    writeFileSync(join(dir, "tls.crt"), a.certPem);
    writeFileSync(join(dir, "tls.key"), b.keyPem);
    expect(() => loadPair(join(dir, "tls.crt"), join(dir, "tls.key"))).toThrow(/--tls-key-file .*tls\.key: .*mismatch/);
    writeFileSync(join(dir, "tls.crt"), "not pem");
    expect(() => loadPair(join(dir, "tls.crt"), join(dir, "tls.key"))).toThrow(
      /--tls-cert-file .*: not a PEM certificate/,
    );
  });

  it("reloads a Secret-volume style update without a restart, and skips a half-written one", async () => {
    const ca = await createCa({ lifetimeMs: DAY });
    const one = await issueServingCert(ca, { dnsNames: ["injector"], lifetimeMs: DAY });
    const two = await issueServingCert(ca, { dnsNames: ["injector"], lifetimeMs: DAY });
    const dir = join(root, "volume");
    mkdirSync(dir);
    publish(dir, 1, one.certPem, one.keyPem);
    symlinkSync("..data/tls.crt", join(dir, "tls.crt"));
    symlinkSync("..data/tls.key", join(dir, "tls.key"));

    const loaded: LoadedPair[] = [];
    const warnings: string[] = [];
    const files = new FileCertificates({
      certFile: join(dir, "tls.crt"),
      keyFile: join(dir, "tls.key"),
      onCertificate: (p) => loaded.push(p),
      logger: { info() {}, warn: (_o, m) => warnings.push(m) },
      pollMs: 200,
    });
    try {
      expect(files.start().serial).toBe(one.serial);
      // Half-written: new certificate, old key. Kept, with a warning.
      publish(dir, 2, two.certPem, one.keyPem);
      expect(files.reload()).toBe(false);
      expect(warnings.at(-1)).toMatch(/not a usable pair/);
      // Complete: picked up by the watch or the poll, no call needed.
      publish(dir, 3, two.certPem, two.keyPem);
      const deadline = Date.now() + 5_000;
      while (loaded.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(loaded.map((p) => p.serial)).toEqual([two.serial]);
      expect(files.reload()).toBe(false);
    } finally {
      files.stop();
    }
  });
});
