// Istio durations ("30s", "1.5s", "100ms", "1h30m"; validated by config/) as
// protobuf Durations and milliseconds. Shared by every translator.

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3, µs: 1e-3, ns: 1e-6 };

/** Milliseconds in an Istio duration string. */
export function durationMs(d: string): number {
  let total = 0;
  for (const m of d.matchAll(/(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g))
    total += Number(m[1]) * (UNIT_MS[m[2] ?? "s"] ?? 0);
  return total;
}

/** A google.protobuf.Duration (proto-loader input shape) for an Istio duration string. */
export function protoDuration(d: string): { seconds: string; nanos: number } {
  return msToProtoDuration(durationMs(d));
}

export function msToProtoDuration(ms: number): { seconds: string; nanos: number } {
  const whole = Math.floor(ms / 1000);
  return { seconds: String(whole), nanos: Math.round((ms - whole * 1000) * 1e6) };
}

/**
 * protoDuration, shared and frozen: the same few strings are parsed for many
 * clusters and routes in every view, and parsing runs a regular expression.
 * Bounded, since they come from configuration.
 */
const durations = new Map<string, Readonly<{ seconds: string; nanos: number }>>();

export function sharedDuration(d: string): Readonly<{ seconds: string; nanos: number }> {
  let found = durations.get(d);
  if (!found) {
    found = Object.freeze(protoDuration(d));
    if (durations.size >= 1024) durations.clear();
    durations.set(d, found);
  }
  return found;
}
