// Which caBundle patch a replica sends: only what is missing, never a fight
// with another replica that knows a newer CA.
import { describe, expect, it } from "vitest";
import { caBundlePatch, type WebhookConfiguration } from "./ca-bundle.js";
import { createCa } from "./certs.js";

const DAY = 86_400_000;
const b64 = (s: string) => Buffer.from(s).toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");

function config(...bundles: (string | undefined)[]): WebhookConfiguration {
  return {
    metadata: { name: "trellis-sidecar-injector" },
    webhooks: bundles.map((caBundle, i) => ({
      name: `w${i}.sidecar-injector.trellis.dev`,
      clientConfig: caBundle === undefined ? {} : { caBundle },
    })),
  };
}

describe("caBundlePatch", () => {
  it("fills in every webhook's empty caBundle, each guarded by a test of the webhook's name", async () => {
    const ca = await createCa({ lifetimeMs: DAY });
    const ops = caBundlePatch(config(undefined, ""), [ca.certPem]);
    expect(ops).toEqual([
      { op: "test", path: "/webhooks/0/name", value: "w0.sidecar-injector.trellis.dev" },
      { op: "add", path: "/webhooks/0/clientConfig/caBundle", value: b64(ca.certPem) },
      { op: "test", path: "/webhooks/1/name", value: "w1.sidecar-injector.trellis.dev" },
      { op: "add", path: "/webhooks/1/clientConfig/caBundle", value: b64(ca.certPem) },
    ]);
  });

  it("writes nothing when every webhook already trusts the CA", async () => {
    const ca = await createCa({ lifetimeMs: DAY });
    expect(caBundlePatch(config(b64(ca.certPem), b64(ca.certPem)), [ca.certPem])).toEqual([]);
  });

  it("keeps a newer CA another replica added, and drops expired or unparseable entries", async () => {
    const ours = await createCa({ lifetimeMs: 10 * DAY });
    const theirs = await createCa({ lifetimeMs: 10 * DAY });
    // Both present: nothing to do, even though `theirs` is not one we know.
    expect(caBundlePatch(config(b64(ours.certPem + theirs.certPem)), [ours.certPem])).toEqual([]);
    // Ours missing: added in front, theirs kept.
    const [, add] = caBundlePatch(config(b64(theirs.certPem)), [ours.certPem]);
    expect(unb64(add?.value)).toBe(ours.certPem + theirs.certPem);
    // Eleven days later `theirs` has expired: dropped, even though ours is present.
    const later = new Date(Date.now() + 11 * DAY);
    const fresh = await createCa({ lifetimeMs: 20 * DAY, now: later });
    const [, trimmed] = caBundlePatch(config(b64(fresh.certPem + theirs.certPem)), [fresh.certPem], later);
    expect(unb64(trimmed?.value)).toBe(fresh.certPem);
    // Garbage is replaced.
    const [, replaced] = caBundlePatch(config(b64("not a certificate")), [ours.certPem]);
    expect(unb64(replaced?.value)).toBe(ours.certPem);
  });
});
