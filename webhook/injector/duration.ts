// Durations on the command line: Go-style units plus days, since certificate
// lifetimes are counted in days ("90d", "2160h", "1h30m", "500ms", "12s").

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };

/** Milliseconds in `text`; throws on anything that is not a duration, or on zero unless `allowZero`. */
export function parseDuration(text: string, opts: { allowZero?: boolean } = {}): number {
  const s = text.trim();
  if (!/^(?:\d+(?:\.\d+)?(?:ms|d|h|m|s))+$/.test(s)) {
    throw new Error(`"${text}" is not a duration such as 90d, 2160h, 1h30m, 30s or 500ms`);
  }
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|d|h|m|s)/g)) total += Number(m[1]) * (UNIT_MS[m[2] ?? "s"] ?? 0);
  if (total <= 0 && !opts.allowZero) throw new Error(`"${text}" must be longer than zero`);
  return total;
}
