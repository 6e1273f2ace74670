// renewAt: 50 % ± 10 % of the lifetime from issue, clamped before expiry.
import { describe, expect, it } from "vitest";
import { renewAt } from "./rotation.js";

const H = 3600_000;
const t0 = Date.UTC(2026, 0, 1);
const cert = (ttl: number, backdate = 60_000) => ({
  issuedAt: new Date(t0),
  notBefore: new Date(t0 - backdate),
  notAfter: new Date(t0 + ttl),
});

describe("renewAt", () => {
  it("is half the lifetime from issue (not from the backdated notBefore) with jitter in the middle", () => {
    expect(renewAt(cert(24 * H), () => 0.5).getTime()).toBe(t0 + 12 * H);
  });

  it("spreads between 40 % and 60 % of the lifetime", () => {
    expect(renewAt(cert(24 * H), () => 0).getTime()).toBe(t0 + 0.4 * 24 * H);
    expect(renewAt(cert(24 * H), () => 0.999999).getTime()).toBeCloseTo(t0 + 0.6 * 24 * H, -3);
    const seen = Array.from({ length: 1000 }, () => renewAt(cert(24 * H)).getTime() - t0);
    expect(Math.min(...seen)).toBeGreaterThanOrEqual(0.4 * 24 * H);
    expect(Math.max(...seen)).toBeLessThanOrEqual(0.6 * 24 * H);
    expect(Math.max(...seen) - Math.min(...seen)).toBeGreaterThan(0.15 * 24 * H); // really spread
  });

  it("works for the 10 s TTL of the rotation demo", () => {
    expect(renewAt(cert(10_000), () => 0.5).getTime()).toBe(t0 + 5_000);
    expect(renewAt(cert(10_000), () => 1).getTime()).toBe(t0 + 6_000);
  });

  it("never returns a time after notAfter minus the margin, nor before issue, whatever the rng says", () => {
    const c = cert(24 * H);
    expect(renewAt(c, () => 50).getTime()).toBeLessThanOrEqual(c.notAfter.getTime() - 5 * 60_000);
    expect(renewAt(c, () => -3).getTime()).toBeGreaterThanOrEqual(t0);
    expect(renewAt(c, () => Number.NaN).getTime()).toBeGreaterThanOrEqual(t0);
  });

  it("measures from notBefore when the issue time is unknown, which renews earlier", () => {
    const c = { notBefore: new Date(t0 - 60_000), notAfter: new Date(t0 + 10_000) };
    expect(renewAt(c, () => 0.5).getTime()).toBe(t0 - 25_000);
  });

  it("says now for a certificate with no lifetime left", () => {
    const c = { issuedAt: new Date(t0), notBefore: new Date(t0), notAfter: new Date(t0 - 1) };
    expect(renewAt(c).getTime()).toBeLessThanOrEqual(t0);
  });
});
