import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type IssuedWorkloadCertificate,
  type WorkloadCertificateIssuer,
  type WorkloadKey,
  WorkloadSecrets,
} from "./workload-secrets.js";

/** A CA that issues numbered certificates of `ttlMs`, and can be told to fail. */
class FakeCa implements WorkloadCertificateIssuer {
  issued: { ns: string; sa: string; ttlMs?: number }[] = [];
  failNext = 0;
  bundle = "ROOT-1";
  private bundleCbs = new Set<() => void>();
  private signerCbs = new Set<() => void>();
  gate: Promise<void> | undefined;

  constructor(private readonly ttlMs = 10_000) {}

  async issueWorkload(
    id: { trustDomain: string; namespace: string; serviceAccount: string },
    opts?: { ttlMs?: number },
  ): Promise<IssuedWorkloadCertificate> {
    await this.gate;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error("CA unavailable");
    }
    this.issued.push({ ns: id.namespace, sa: id.serviceAccount, ttlMs: opts?.ttlMs });
    const now = Date.now();
    return {
      certificateChainPem: `CERT-${this.issued.length}`,
      privateKeyPem: `KEY-${this.issued.length}`,
      notBefore: new Date(now),
      notAfter: new Date(now + (opts?.ttlMs ?? this.ttlMs)),
      issuedAt: new Date(now),
      serialNumber: String(this.issued.length),
      spiffeId: `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`,
    };
  }
  trustBundlePem(): string {
    return this.bundle;
  }
  onTrustBundleChange(cb: () => void): () => void {
    this.bundleCbs.add(cb);
    return () => this.bundleCbs.delete(cb);
  }
  onSignerChange(cb: () => void): () => void {
    this.signerCbs.add(cb);
    return () => this.signerCbs.delete(cb);
  }
  rotateBundle(pem: string): void {
    this.bundle = pem;
    for (const cb of this.bundleCbs) cb();
  }
  switchSigner(): void {
    for (const cb of this.signerCbs) cb();
  }
}

const cart: WorkloadKey = { namespace: "shop", serviceAccount: "cart" };
const pay: WorkloadKey = { namespace: "shop", serviceAccount: "payments" };

describe("WorkloadSecrets", () => {
  let ca: FakeCa;
  let changes: (string | undefined)[];
  let secrets: WorkloadSecrets;
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse("2026-01-01T00:00:00Z") });
    ca = new FakeCa();
    changes = [];
    secrets = new WorkloadSecrets({
      ca,
      trustDomain: "cluster.local",
      ttlMs: 10_000,
      // Half-life, as security/ca/rotation.ts renewAt without jitter.
      renewAt: (c) => new Date(c.notBefore.getTime() + (c.notAfter.getTime() - c.notBefore.getTime()) / 2),
      onChange: (k) => changes.push(k ? `${k.namespace}/${k.serviceAccount}` : undefined),
    });
  });
  afterEach(() => {
    secrets.close();
    vi.useRealTimers();
  });

  it("issues one certificate per identity, shared by all its streams, for the identity it is given", async () => {
    let release: () => void = () => {};
    ca.gate = new Promise((r) => {
      release = r;
    });
    const acquiring = Promise.all([secrets.acquire(cart), secrets.acquire(cart), secrets.acquire(pay)]);
    release();
    await acquiring;
    expect(ca.issued).toEqual([
      { ns: "shop", sa: "cart", ttlMs: 10_000 },
      { ns: "shop", sa: "payments", ttlMs: 10_000 },
    ]);
    expect(secrets.current(cart)?.spiffeId).toBe("spiffe://cluster.local/ns/shop/sa/cart");
    expect(secrets.current(pay)?.spiffeId).toBe("spiffe://cluster.local/ns/shop/sa/payments");
    await secrets.acquire(cart);
    expect(ca.issued).toHaveLength(2);
  });

  it("re-issues at the renewal time while streams use it, and announces it for that identity only", async () => {
    await secrets.acquire(cart);
    await secrets.acquire(pay);
    const first = secrets.current(cart);
    changes.length = 0;
    await vi.advanceTimersByTimeAsync(5_000);
    const second = secrets.current(cart);
    expect(second?.serialNumber).not.toBe(first?.serialNumber);
    expect(second && first && second.notAfter > first.notAfter).toBe(true);
    expect(changes.sort()).toEqual(["shop/cart", "shop/payments"]);
    // Renewed again and again, before each expires.
    await vi.advanceTimersByTimeAsync(20_000);
    expect(ca.issued.filter((i) => i.sa === "cart").length).toBeGreaterThanOrEqual(5);
    expect(secrets.current(cart)).toBeDefined();
  });

  it("stops renewing an identity with no streams left, and forgets it at its renewal time", async () => {
    const release = await secrets.acquire(cart);
    release();
    release(); // idempotent
    expect(secrets.current(cart)).toBeDefined();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(ca.issued).toHaveLength(1);
    expect(secrets.current(cart)).toBeUndefined();
    expect(secrets.identities()).toEqual([]);
  });

  it("retries a failed issuance with backoff and announces the certificate when it comes", async () => {
    ca.failNext = 2;
    const errors: number[] = [];
    secrets.close();
    secrets = new WorkloadSecrets({
      ca,
      trustDomain: "cluster.local",
      renewAt: (c) => new Date(c.notAfter.getTime() - 1_000),
      onChange: (k) => changes.push(k ? `${k.namespace}/${k.serviceAccount}` : undefined),
      onError: (_e, _k, attempt) => errors.push(attempt),
    });
    await secrets.acquire(cart);
    expect(secrets.current(cart)).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(errors).toEqual([1, 2]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(secrets.current(cart)).toBeDefined();
    expect(changes).toEqual(["shop/cart"]);
  });

  it("announces a new trust bundle to everyone, and re-issues when the CA switches its signer", async () => {
    await secrets.acquire(cart);
    const dropped = await secrets.acquire(pay);
    dropped();
    changes.length = 0;
    ca.rotateBundle("ROOT-1\nROOT-2");
    expect(secrets.trustBundlePem()).toBe("ROOT-1\nROOT-2");
    expect(changes).toEqual([undefined]);
    const before = secrets.current(cart)?.serialNumber;
    ca.switchSigner();
    await vi.advanceTimersByTimeAsync(0);
    expect(secrets.current(cart)?.serialNumber).not.toBe(before);
    // Nobody uses payments: forgotten rather than re-issued under the old signer.
    expect(secrets.current(pay)).toBeUndefined();
    expect(ca.issued.filter((i) => i.sa === "payments")).toHaveLength(1);
  });

  it("never hands out an expired certificate", async () => {
    secrets.close();
    secrets = new WorkloadSecrets({
      ca,
      trustDomain: "cluster.local",
      renewAt: (c) => new Date(c.notAfter.getTime() + 60_000), // a renewal that comes too late
      onChange: () => {},
    });
    await secrets.acquire(cart);
    expect(secrets.current(cart)).toBeDefined();
    vi.setSystemTime(Date.now() + 10_001);
    expect(secrets.current(cart)).toBeUndefined();
  });
});
