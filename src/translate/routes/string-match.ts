// Istio's StringMatch (exactly one of exact, prefix, regex) as Envoy matchers.
// A regex of "*" — not an RE2 pattern — and an empty StringMatch both mean
// "present", as in Istio (istio/istio#20629).
import type { StringMatch } from "../../config/networking/virtual-service.js";
import type { StringMatcher } from "../../envoy/generated/envoy/type/matcher/v3/StringMatcher.js";

export function isPresenceMatch(m: StringMatch | undefined): boolean {
  if (!m) return true;
  if (m.regex === "*") return true;
  return m.exact === undefined && m.prefix === undefined && m.regex === undefined;
}

/** The Envoy StringMatcher for a StringMatch; undefined for a presence match. */
export function stringMatcher(m: StringMatch): StringMatcher | undefined {
  if (isPresenceMatch(m)) return undefined;
  if (m.exact !== undefined) return { exact: m.exact };
  if (m.prefix !== undefined) return { prefix: m.prefix };
  return { safe_regex: { regex: m.regex ?? "" } };
}
