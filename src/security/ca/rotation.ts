// When to replace a workload certificate. Istio's agent renews at half of the
// lifetime (SECRET_GRACE_PERIOD_RATIO 0.5, ±1 % jitter), SPIRE's at half-life
// ±10 %. Trellis issues every key itself, so after a control-plane restart or
// a reconnect storm thousands of certificates share one issue time: a wider
// jitter (±10 % of the lifetime, so between 40 % and 60 %) spreads their
// renewals over a fifth of the lifetime — 4.8 h for the 24 h default — while
// still leaving at least 40 % of the lifetime as a buffer against an outage.
import type { IssuedCertificate } from "./authority.js";

export const RENEW_FRACTION = 0.5;
/** Plus or minus this share of the lifetime. */
export const RENEW_JITTER = 0.1;
/** The renewal is never later than this before notAfter (nor later than 10 % of the lifetime before it). */
export const RENEW_MARGIN_MS = 5 * 60_000;

/**
 * The time to replace `cert`: 50 % ± 10 % of the way from issue to expiry (`rng` in [0, 1) picks
 * where), never after notAfter minus min(5 min, 10 % of the lifetime), never before issue.
 * Lifetime is measured from `issuedAt`, not from the backdated notBefore; without `issuedAt`
 * it is measured from notBefore, which only makes the renewal earlier.
 */
export function renewAt(
  cert: Pick<IssuedCertificate, "notBefore" | "notAfter"> & { issuedAt?: Date },
  rng: () => number = Math.random,
): Date {
  const start = (cert.issuedAt ?? cert.notBefore).getTime();
  const end = cert.notAfter.getTime();
  const life = end - start;
  if (!(life > 0)) return new Date(Math.min(start, end)); // nothing left: renew now
  const x = rng();
  const r = Number.isFinite(x) ? Math.min(Math.max(x, 0), 1) : 0.5;
  const at = start + life * (RENEW_FRACTION + (2 * r - 1) * RENEW_JITTER);
  const latest = end - Math.min(RENEW_MARGIN_MS, life * 0.1);
  return new Date(Math.floor(Math.max(start, Math.min(at, latest))));
}
