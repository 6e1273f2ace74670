// HTTPRewrite → RouteAction path and host rewrites (Istio's semantics: `uri`
// replaces the matched prefix — Envoy's prefix_rewrite —, `uriRegexRewrite`
// wins over `uri`, `authority` wins over a host/:authority header operation).
import type { HTTPRewrite } from "../../config/networking/virtual-service.js";
import type { RouteAction } from "../../envoy/generated/envoy/config/route/v3/RouteAction.js";

export function pathRewrite(rw: HTTPRewrite | undefined): Pick<RouteAction, "prefix_rewrite" | "regex_rewrite"> {
  if (rw?.uriRegexRewrite) {
    return {
      regex_rewrite: {
        pattern: { regex: rw.uriRegexRewrite.match ?? "" },
        substitution: rw.uriRegexRewrite.rewrite ?? "",
      },
    };
  }
  if (rw?.uri) return { prefix_rewrite: rw.uri };
  return {};
}

/** The host to rewrite to: the rewrite's authority, else one set by a header operation. */
export function hostRewrite(rw: HTTPRewrite | undefined, headerAuthority: string | undefined): string | undefined {
  return rw?.authority || headerAuthority || undefined;
}
