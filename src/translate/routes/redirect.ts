// HTTPRedirect → Envoy RedirectAction (sidecars only: gRPC has no redirects).
// As in Istio: redirectCode 0/301 → MOVED_PERMANENTLY, 302, 303, 307, 308;
// derivePort FROM_REQUEST_PORT uses the listener port (routes are generated
// per port); no explicit :80 for http or :443 for https.
import type { HTTPRedirect } from "../../config/networking/virtual-service.js";
import type { RedirectAction } from "../../envoy/generated/envoy/config/route/v3/RedirectAction.js";

const RESPONSE_CODES: Record<number, RedirectAction["response_code"]> = {
  301: "MOVED_PERMANENTLY",
  302: "FOUND",
  303: "SEE_OTHER",
  307: "TEMPORARY_REDIRECT",
  308: "PERMANENT_REDIRECT",
};

export function isSupportedRedirectCode(code: number | undefined): boolean {
  return code === undefined || code === 0 || code in RESPONSE_CODES;
}

/** Undefined for a redirect code Envoy cannot send (the route is left out; analyze reports it). */
export function redirectAction(r: HTTPRedirect, port: number): RedirectAction | undefined {
  const code = r.redirectCode ?? 0;
  const response_code = code === 0 ? "MOVED_PERMANENTLY" : RESPONSE_CODES[code];
  if (!response_code) return undefined;
  const out: RedirectAction = { response_code };
  if (r.authority) out.host_redirect = r.authority;
  if (r.uri) out.path_redirect = r.uri;
  else if (r.prefixRewrite !== undefined) out.prefix_rewrite = r.prefixRewrite;
  if (r.scheme) out.scheme_redirect = r.scheme;
  if (r.port !== undefined || r.derivePort !== undefined) {
    let redirectPort = r.port ?? (r.derivePort === "FROM_REQUEST_PORT" ? port : 0);
    const scheme = r.scheme || "http";
    if ((redirectPort === 80 && scheme === "http") || (redirectPort === 443 && scheme === "https")) redirectPort = 0;
    if (redirectPort) out.port_redirect = redirectPort;
  }
  return out;
}
