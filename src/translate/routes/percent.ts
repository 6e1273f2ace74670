// Istio percentages as Envoy FractionalPercent: a `Percent` (double, 0–100)
// becomes parts per million, the deprecated integer percents parts per hundred,
// as Istio translates them.
import type { FractionalPercent } from "../../envoy/generated/envoy/type/v3/FractionalPercent.js";

/** `{ value: 12.5 }` → 125000 / MILLION (rounded, so 0.29 does not become 2899). */
export function percentOf(value: number): FractionalPercent {
  return { numerator: Math.round(value * 10_000), denominator: "MILLION" };
}

/** A deprecated integer percent (`fault.delay.percent`, `mirrorPercent`) → n / HUNDRED. */
export function integerPercentOf(value: number): FractionalPercent {
  return { numerator: value, denominator: "HUNDRED" };
}
