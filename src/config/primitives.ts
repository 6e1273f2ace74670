// Scalar building blocks shared by every mesh kind. They stay plain (strings,
// integers, patterns, bounds) so `z.toJSONSchema` can turn them into CRD
// OpenAPI schemas; a custom message is attached wherever the default one would
// not tell a user what to write instead.

import { z } from "zod";

/** Quotes a user value for an error message: strings in JSON quotes, everything else as written. */
export function showValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  return String(value);
}

/**
 * A duration as Kubernetes CEL `duration()` and Istio accept it: one or more
 * `<number><unit>` terms, units h, m, s, ms, us (µs) and ns — "30s", "1.5s",
 * "100ms", "1h30m". Istio additionally requires >= 1ms for most durations,
 * which a pattern cannot express.
 */
export const DURATION_PATTERN = /^(?:\d+(?:\.\d+)?(?:h|ms|m|s|us|µs|ns))+$/;

export const Duration = z.string().regex(DURATION_PATTERN, {
  error: (issue) => `expected a duration such as "30s", "1.5s" or "100ms", got ${showValue(issue.input)}`,
});

export const Int32 = z.int32();
export const UInt32 = z.uint32();
/** protobuf uint64 fields; values above 2^53 are not representable in YAML/JSON numbers anyway. */
export const UInt64 = z.int().min(0);

export const Port = z
  .int()
  .min(1, { error: (issue) => `port must be between 1 and 65535, got ${showValue(issue.input)}` })
  .max(65535, { error: (issue) => `port must be between 1 and 65535, got ${showValue(issue.input)}` });

/** Istio's `Percent`-style doubles: a percentage in [0, 100]. */
export const Percentage = z
  .number()
  .min(0, { error: (issue) => `percentage must be between 0 and 100, got ${showValue(issue.input)}` })
  .max(100, { error: (issue) => `percentage must be between 0 and 100, got ${showValue(issue.input)}` });

export const StringList = z.array(z.string());
export const StringMap = z.record(z.string(), z.string());

/** Kubernetes DNS-1123 subdomain: object names. */
export const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Kubernetes DNS-1123 label: namespace names. */
export const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const ObjectName = z
  .string()
  .max(253, { error: "name must be at most 253 characters" })
  .regex(DNS1123_SUBDOMAIN, {
    error: (issue) =>
      `name must be a DNS-1123 subdomain (lowercase letters, digits, "-" and ".", starting and ending with a letter or digit), got ${showValue(issue.input)}`,
  });

export const NamespaceName = z
  .string()
  .max(63, { error: "namespace must be at most 63 characters" })
  .regex(DNS1123_LABEL, {
    error: (issue) =>
      `namespace must be a DNS-1123 label (lowercase letters, digits and "-", starting and ending with a letter or digit), got ${showValue(issue.input)}`,
  });

/** Kubernetes resource quantity ("100m", "128Mi", "1"); YAML may also give a plain number. */
export const QUANTITY_PATTERN = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$/;
export const Quantity = z.union([
  z.string().regex(QUANTITY_PATTERN, {
    error: (issue) => `expected a Kubernetes quantity such as "100m" or "128Mi", got ${showValue(issue.input)}`,
  }),
  z.number().min(0),
]);
