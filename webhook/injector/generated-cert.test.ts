// Serving-certificate rotation with a controlled clock: renewed at two thirds
// of its life, and when the CA changes, the new CA is trusted before any
// certificate it signed is served.
import { afterEach, describe, expect, it } from "vitest";
import { type CaSecretStore, ensureCa, type StoredCa } from "./ca-secret.js";
import type { ServingCertificate } from "./certs.js";
import { GeneratedCertificates } from "./generated-cert.js";

const DAY = 86_400_000;
const quiet = { info() {}, warn() {} };

class MemoryStore implements CaSecretStore {
  readonly description = "Secret test/trellis-injector-ca";
  data: StoredCa | undefined;
  version = 0;
  failReads = 0;
  async read() {
    if (this.failReads > 0) {
      this.failReads--;
      throw new Error("GET …/secrets/trellis-injector-ca: connect ECONNREFUSED");
    }
    return this.data ? { data: { ...this.data }, resourceVersion: String(this.version) } : undefined;
  }
  async create(data: StoredCa) {
    if (this.data) return "exists" as const;
    this.data = data;
    this.version++;
    return "created" as const;
  }
  async replace(data: StoredCa, rv: string) {
    if (rv !== String(this.version)) return "conflict" as const;
    this.data = data;
    this.version++;
    return "replaced" as const;
  }
}

let running: GeneratedCertificates | undefined;
afterEach(async () => {
  await running?.stop();
});

function setup(store = new MemoryStore()) {
  let now = Date.now();
  const events: string[] = [];
  const certs: ServingCertificate[] = [];
  const g = new GeneratedCertificates({
    store,
    caLifetimeMs: 3650 * DAY,
    certLifetimeMs: 90 * DAY,
    dnsNames: ["trellis-injector.trellis-system.svc"],
    ipAddresses: [],
    checkIntervalMs: 3_600_000,
    logger: quiet,
    now: () => new Date(now),
    ensureTrusted: async (bundle) => {
      events.push(`trusted ${bundle.length}`);
      return true;
    },
    onCertificate: (cert, reason) => {
      events.push(`cert ${reason}`);
      certs.push(cert);
    },
  });
  running = g;
  return { g, store, events, certs, advance: (ms: number) => (now += ms) };
}

describe("generated serving certificates", () => {
  it("issues one at start and renews it only once two thirds of its life have passed", async () => {
    const { g, events, certs, advance } = setup();
    await g.start();
    expect(events).toEqual(["cert initial"]);
    advance(59 * DAY);
    await g.check();
    expect(events).toEqual(["cert initial"]);
    advance(1.1 * DAY);
    await g.check();
    expect(events).toEqual(["cert initial", "cert renewed"]);
    expect(certs[1]?.serial).not.toBe(certs[0]?.serial);
    expect(g.current()).toBe(certs[1]);
  });

  it("trusts a replaced CA before serving a certificate from it", async () => {
    const { g, store, events, certs } = setup();
    await g.start();
    const before = g.caFingerprint();
    // Another replica (or an operator) replaced the CA in the Secret.
    store.data = undefined;
    const other = await ensureCa(store, { lifetimeMs: 3650 * DAY });
    await g.check();
    expect(g.caFingerprint()).toBe(other.ca.fingerprint);
    expect(g.caFingerprint()).not.toBe(before);
    expect(events).toEqual(["cert initial", "trusted 1", "cert ca-changed"]);
    expect(certs).toHaveLength(2);
  });

  it("keeps the current certificate while the CA Secret cannot be read, and retries", async () => {
    const { g, store, events, advance } = setup();
    await g.start();
    const first = g.current();
    advance(61 * DAY);
    store.failReads = 1;
    await g.check();
    expect(g.current()).toBe(first);
    await g.check();
    expect(events).toEqual(["cert initial", "cert renewed"]);
  });

  it("waits for the CA at start-up instead of failing (the API server may not be reachable yet)", async () => {
    const store = new MemoryStore();
    store.failReads = 2;
    const { g, events } = setup(store);
    const cert = await g.start();
    expect(cert.dnsNames).toEqual(["trellis-injector.trellis-system.svc"]);
    expect(events).toEqual(["cert initial"]);
  });
});
