// Envoy compiles every regex of a route configuration with RE2 and rejects the
// whole configuration — every service on that port — if one does not compile.
// Istio refuses such a VirtualService at admission; Trellis, which cannot
// refuse it, leaves out the clause, rewrite or origin that carries it (and
// analyze reports it). The check is an approximation with JavaScript's RegExp:
// RE2-only syntax (flag groups `(?i)`, `(?i:…)`, `(?P<name>…)`) is rewritten to
// JavaScript's first, and constructs RE2 lacks (lookaround, backreferences)
// are refused.
const RE2_UNSUPPORTED = /\(\?<?[=!]|\\[1-9]|\\k</;

export function isRe2Compatible(pattern: string): boolean {
  if (RE2_UNSUPPORTED.test(pattern)) return false;
  const js = pattern
    .replace(/\(\?[imsU-]+\)/g, "")
    .replace(/\(\?[imsU-]+:/g, "(?:")
    .replace(/\(\?P</g, "(?<");
  try {
    new RegExp(js);
    return true;
  } catch {
    return false;
  }
}

/** Header names and values Envoy accepts (its non-strict HTTP_HEADER_NAME/VALUE rules): no NUL, CR or LF. */
export function isHeaderText(s: string): boolean {
  return !/[\0\r\n]/.test(s);
}
