// CorsPolicy → per-route config of the CORS filter
// (typed_per_filter_config["envoy.filters.http.cors"]), sidecars only: the
// proxyless filter chain has no CORS filter and gRPC has no browsers. As in
// Istio: allowOrigins (or the deprecated exact allowOrigin list), lists joined
// with ",", maxAge in whole seconds, filter enabled for every request,
// unmatched preflights forwarded unless unmatchedPreflights is IGNORE.
import type { CorsPolicy as IstioCorsPolicy } from "../../config/networking/virtual-service.js";
import { packAny } from "../../envoy/any.js";
import type { CorsPolicy } from "../../envoy/generated/envoy/extensions/filters/http/cors/v3/CorsPolicy.js";
import type { StringMatcher } from "../../envoy/generated/envoy/type/matcher/v3/StringMatcher.js";
import type { Any } from "../../envoy/generated/google/protobuf/Any.js";
import { durationMs } from "../duration.js";
import { isRe2Compatible } from "./regex.js";
import { stringMatcher } from "./string-match.js";

export const CORS_POLICY_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy";

export function corsConfig(c: IstioCorsPolicy): Any {
  const out: CorsPolicy = {
    filter_enabled: { default_value: { numerator: 100, denominator: "HUNDRED" } },
    forward_not_matching_preflights: { value: c.unmatchedPreflights !== "IGNORE" },
  };
  let origins: StringMatcher[] | undefined;
  if (c.allowOrigins) {
    origins = c.allowOrigins
      .filter((m) => m.regex === undefined || m.regex === "*" || isRe2Compatible(m.regex))
      .map((m) => stringMatcher(m) ?? { safe_regex: { regex: ".*" } });
  } else if (c.allowOrigin) origins = c.allowOrigin.map((exact) => ({ exact }));
  if (origins && origins.length > 0) out.allow_origin_string_match = origins;
  if (c.allowMethods?.length) out.allow_methods = c.allowMethods.join(",");
  if (c.allowHeaders?.length) out.allow_headers = c.allowHeaders.join(",");
  if (c.exposeHeaders?.length) out.expose_headers = c.exposeHeaders.join(",");
  if (c.maxAge) out.max_age = String(Math.floor(durationMs(c.maxAge) / 1000));
  if (c.allowCredentials !== undefined) out.allow_credentials = { value: c.allowCredentials };
  return packAny<CorsPolicy>(CORS_POLICY_TYPE_URL, out);
}
