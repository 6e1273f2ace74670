import { X509Certificate } from "node:crypto";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createCertificateAuthority, renewAt } from "../ca/index.js";
import { controlPlaneDnsNames, type ServerCertificateIssuer, ServingCertificate } from "./serving-cert.js";

describe("controlPlaneDnsNames", () => {
  it("names the Service in its namespace, fully qualified too, plus extras once each", () => {
    expect(controlPlaneDnsNames("trellis", "mesh", "corp.local", ["xds.example.com", "trellis.mesh.svc"])).toEqual([
      "trellis.mesh.svc",
      "trellis.mesh.svc.corp.local",
      "xds.example.com",
    ]);
  });
});

describe("ServingCertificate", () => {
  afterEach(() => vi.useRealTimers());

  it("issues a certificate for the control plane's names from the mesh CA", async () => {
    const ca = await createCertificateAuthority({ signing: { kind: "generated" }, workers: 0 });
    try {
      const serving = new ServingCertificate({
        ca,
        dnsNames: controlPlaneDnsNames("trellis", "trellis-system", "cluster.local"),
        ipAddresses: ["10.96.0.12"],
        renewAt: (c) => renewAt(c),
        onRenewed: () => {},
      });
      const cert = await serving.start();
      serving.stop();
      const leaf = new X509Certificate(cert.certificateChainPem);
      expect(leaf.subjectAltName?.split(", ").sort()).toEqual(
        [
          "DNS:trellis.trellis-system.svc",
          "DNS:trellis.trellis-system.svc.cluster.local",
          "IP Address:10.96.0.12",
        ].sort(),
      );
      expect(leaf.verify(new X509Certificate(ca.trustBundlePem()).publicKey)).toBe(true);
    } finally {
      await ca.close();
    }
  });

  it("renews at the renewal time and on a signer switch, retrying failures, and hands each new one over", async () => {
    vi.useFakeTimers({ now: Date.parse("2026-01-01T00:00:00Z") });
    let n = 0;
    let failures = 0;
    const signer = new Set<() => void>();
    const ca: ServerCertificateIssuer = {
      issueServer: async () => {
        if (failures > 0) {
          failures--;
          throw new Error("CA busy");
        }
        n++;
        const now = Date.now();
        return {
          certificateChainPem: `CERT-${n}`,
          privateKeyPem: `KEY-${n}`,
          notBefore: new Date(now),
          notAfter: new Date(now + 10_000),
          serialNumber: String(n),
        };
      },
      onSignerChange: (cb) => {
        signer.add(cb);
        return () => signer.delete(cb);
      },
    };
    const renewed: string[] = [];
    const errors: number[] = [];
    const serving = new ServingCertificate({
      ca,
      dnsNames: ["trellis.x.svc"],
      renewAt: (c) => new Date(c.notBefore.getTime() + 5_000),
      onRenewed: (c) => renewed.push(c.serialNumber),
      onError: (_e, attempt) => errors.push(attempt),
    });
    await serving.start();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(renewed).toEqual(["2"]);
    failures = 1;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(errors).toEqual([1]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(renewed).toEqual(["2", "3"]);
    for (const cb of signer) cb();
    await vi.advanceTimersByTimeAsync(0);
    expect(renewed).toEqual(["2", "3", "4"]);
    serving.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(renewed).toHaveLength(3);
    expect(signer.size).toBe(0);
  });
});
