// The shared CA: created once however many replicas race, read by the rest,
// rotated near its end with the old CA kept trusted. (The real Secret and
// the real race against the API server: e2e/kube/injector.test.ts.)
import { describe, expect, it } from "vitest";
import { type CaSecretStore, ensureCa, type StoredCa } from "./ca-secret.js";
import { createCa } from "./certs.js";

const DAY = 86_400_000;

/** A Secret with resourceVersion semantics; `latency` lets concurrent callers interleave. */
class MemoryStore implements CaSecretStore {
  readonly description = "Secret test/trellis-injector-ca";
  data: StoredCa | undefined;
  version = 0;
  creates = 0;
  replaces = 0;
  constructor(private readonly latencyMs = 0) {}
  private tick() {
    return new Promise((r) => setTimeout(r, this.latencyMs));
  }
  async read() {
    await this.tick();
    return this.data ? { data: { ...this.data }, resourceVersion: String(this.version) } : undefined;
  }
  async create(data: StoredCa) {
    await this.tick();
    this.creates++;
    if (this.data) return "exists" as const;
    this.data = data;
    this.version++;
    return "created" as const;
  }
  async replace(data: StoredCa, resourceVersion: string) {
    await this.tick();
    if (resourceVersion !== String(this.version)) return "conflict" as const;
    this.replaces++;
    this.data = data;
    this.version++;
    return "replaced" as const;
  }
}

describe("the shared webhook CA", () => {
  it("is created by the first replica and read by the others", async () => {
    const store = new MemoryStore();
    const first = await ensureCa(store, { lifetimeMs: 10 * DAY });
    expect(first.action).toBe("created");
    const second = await ensureCa(store, { lifetimeMs: 10 * DAY });
    expect(second.action).toBe("loaded");
    expect(second.ca.fingerprint).toBe(first.ca.fingerprint);
    expect(second.bundle).toEqual([first.ca.certPem]);
  });

  it("converges on one CA when replicas race to create it (the loser of the 409 reads the winner's)", async () => {
    const store = new MemoryStore(5);
    const states = await Promise.all(Array.from({ length: 4 }, () => ensureCa(store, { lifetimeMs: 10 * DAY })));
    expect(states.filter((s) => s.action === "created")).toHaveLength(1);
    expect(new Set(states.map((s) => s.ca.fingerprint)).size).toBe(1);
    expect(store.creates).toBe(4);
  });

  it("rotates the CA with less than a fifth of its life left, keeping the old one trusted", async () => {
    const store = new MemoryStore();
    const old = await ensureCa(store, { lifetimeMs: 10 * DAY });
    const later = new Date(Date.now() + 8.5 * DAY);
    const rotated = await ensureCa(store, { lifetimeMs: 10 * DAY, now: () => later });
    expect(rotated.action).toBe("rotated");
    expect(rotated.ca.fingerprint).not.toBe(old.ca.fingerprint);
    expect(rotated.bundle).toEqual([rotated.ca.certPem, old.ca.certPem]);
    // Another replica sees the same two.
    const other = await ensureCa(store, { lifetimeMs: 10 * DAY, now: () => later });
    expect(other.action).toBe("loaded");
    expect(other.bundle).toEqual(rotated.bundle);
    // Once the old CA has expired it is no longer trusted.
    const afterExpiry = new Date(Date.now() + 10.1 * DAY);
    const trimmed = await ensureCa(store, { lifetimeMs: 10 * DAY, now: () => afterExpiry });
    expect(trimmed.bundle).toEqual([rotated.ca.certPem]);
  });

  it("rotates once when replicas race to rotate (the loser of the conflict reads the new CA)", async () => {
    const store = new MemoryStore(5);
    await ensureCa(store, { lifetimeMs: 10 * DAY });
    const later = new Date(Date.now() + 9 * DAY);
    const states = await Promise.all(
      Array.from({ length: 3 }, () => ensureCa(store, { lifetimeMs: 10 * DAY, now: () => later })),
    );
    expect(store.replaces).toBe(1);
    expect(new Set(states.map((s) => s.ca.fingerprint)).size).toBe(1);
  });

  it("refuses a Secret that does not hold a usable CA, naming it and the fix", async () => {
    const store = new MemoryStore();
    const ca = await createCa({ lifetimeMs: DAY });
    const other = await createCa({ lifetimeMs: DAY });
    store.data = { certPem: ca.certPem, keyPem: other.keyPem };
    await expect(ensureCa(store, { lifetimeMs: DAY })).rejects.toThrow(
      /Secret test\/trellis-injector-ca: CA key does not match the CA certificate; delete it to have a new CA generated/,
    );
  });
});
