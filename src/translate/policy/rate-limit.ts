// RateLimit (policy.trellis.dev) → Envoy's local rate limit filter on the
// inbound side of every workload that implements the limited service.
//
// Each limit becomes one inbound route (first match wins, like the limits'
// order) carrying its own LocalRateLimit as typed_per_filter_config, so each
// limit has exactly one token bucket per proxy and port; path prefixes, exact
// paths and methods of one limit are folded into that single route's match.
// The filter itself sits in the inbound HTTP chain without a bucket of its own,
// so requests no limit matches are not limited.
import type { RateLimit, RateLimitRule } from "../../config/policy/rate-limit.js";
import { packAny } from "../../envoy/any.js";
import type { Route } from "../../envoy/generated/envoy/config/route/v3/Route.js";
import type { HttpFilter } from "../../envoy/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.js";
import { resolveHost } from "../../model/hosts.js";
import { isHttp } from "../../model/protocol.js";
import { type MeshSnapshot, objectsOfKind } from "../../model/snapshot.js";
import type { TranslationContext } from "../context.js";
import { durationMs, protoDuration } from "../duration.js";
import type { InboundPort } from "../inbound.js";

/** Envoy's lower bound for a token bucket's fill interval. */
export const MIN_FILL_INTERVAL_MS = 50;
export const LOCAL_RATE_LIMIT_FILTER = "envoy.filters.http.local_ratelimit";
const LOCAL_RATE_LIMIT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";

export interface InboundRateLimit {
  /** Goes into the inbound HTTP filter chain, before the router. */
  filter: HttpFilter;
  /** Routes that go before the inbound port's catch-all route; `route` is the action they all take. */
  routes(action: Route["route"]): Route[];
}

// The snapshot's RateLimits, once per snapshot: every inbound port of every view asks.
const rateLimitsBySnapshot = new WeakMap<MeshSnapshot, readonly RateLimit[]>();

/** The RateLimits that apply to a workload's inbound port, in namespace/name order. */
export function rateLimitsFor(ctx: TranslationContext, inbound: InboundPort): RateLimit[] {
  const svc = inbound.service;
  if (!svc || !isHttp(inbound.protocol)) return [];
  let all = rateLimitsBySnapshot.get(ctx.snapshot);
  if (!all) {
    all = objectsOfKind<RateLimit>(ctx.snapshot, "RateLimit").map((s) => s.object);
    rateLimitsBySnapshot.set(ctx.snapshot, all);
  }
  return all
    .filter((rl) => {
      const ns = rl.metadata.namespace ?? "default";
      return (
        resolveHost(rl.spec.host, ns, ctx.mesh.clusterDomain) === svc.host &&
        ns === svc.namespace &&
        (!rl.spec.ports || (inbound.servicePort !== undefined && rl.spec.ports.includes(inbound.servicePort)))
      );
    })
    .sort((a, b) =>
      `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`),
    );
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function routeMatch(rule: RateLimitRule): Route["match"] {
  const m = rule.match;
  const prefixes = m?.pathPrefixes ?? [];
  const paths = m?.paths ?? [];
  const match: NonNullable<Route["match"]> = {};
  if (prefixes.length === 1 && paths.length === 0) match.prefix = prefixes[0];
  else if (paths.length === 1 && prefixes.length === 0) match.path = paths[0];
  else if (prefixes.length + paths.length > 0) {
    const alternatives = [...prefixes.map((p) => `${escapeRegex(p)}.*`), ...paths.map(escapeRegex)];
    match.safe_regex = { regex: `(?:${alternatives.join("|")})` };
  } else match.prefix = "/";
  if (m?.methods) {
    match.headers = [
      {
        name: ":method",
        string_match: { safe_regex: { regex: `(?:${m.methods.map((x) => escapeRegex(x.toUpperCase())).join("|")})` } },
      },
    ];
  }
  return match;
}

function localRateLimit(rl: RateLimit, rule: RateLimitRule, index: number) {
  const percent = rl.spec.enforcePercentage ?? 100;
  const fraction = { numerator: Math.round(percent * 10_000), denominator: "MILLION" as const };
  return packAny(LOCAL_RATE_LIMIT_TYPE, {
    stat_prefix: `ratelimit_${rl.metadata.namespace ?? "default"}_${rl.metadata.name}_${rule.name ?? index}`,
    token_bucket: {
      max_tokens: rule.tokenBucket.maxTokens,
      tokens_per_fill: { value: rule.tokenBucket.tokensPerFill ?? rule.tokenBucket.maxTokens },
      fill_interval: protoDuration(rule.tokenBucket.fillInterval),
    },
    filter_enabled: {
      runtime_key: "trellis_local_rate_limit_enabled",
      default_value: { numerator: 100, denominator: "HUNDRED" },
    },
    filter_enforced: { runtime_key: "trellis_local_rate_limit_enforced", default_value: fraction },
    ...(rl.spec.statusCode ? { status: { code: rl.spec.statusCode } } : {}),
    ...(rl.spec.responseHeaders
      ? {
          response_headers_to_add: Object.entries(rl.spec.responseHeaders).map(([key, value]) => ({
            header: { key, value },
            append_action: "OVERWRITE_IF_EXISTS_OR_ADD",
          })),
        }
      : {}),
  });
}

/** The filter and routes a workload's inbound port needs for its RateLimits; undefined when none apply. */
export function inboundRateLimit(ctx: TranslationContext, inbound: InboundPort): InboundRateLimit | undefined {
  const limits = rateLimitsFor(ctx, inbound);
  if (limits.length === 0) return undefined;
  return {
    filter: {
      name: LOCAL_RATE_LIMIT_FILTER,
      typed_config: packAny(LOCAL_RATE_LIMIT_TYPE, { stat_prefix: "inbound_local_rate_limit" }),
    },
    routes: (action) =>
      limits.flatMap((rl) =>
        rl.spec.limits.flatMap((rule, i) =>
          // A bucket Envoy would reject (reported by analyzeRateLimits) is left out, never sent to be NACKed.
          durationMs(rule.tokenBucket.fillInterval) < MIN_FILL_INTERVAL_MS
            ? []
            : [
                {
                  name: `ratelimit/${rl.metadata.namespace ?? "default"}/${rl.metadata.name}/${rule.name ?? i}`,
                  match: routeMatch(rule),
                  route: action,
                  typed_per_filter_config: { [LOCAL_RATE_LIMIT_FILTER]: localRateLimit(rl, rule, i) },
                },
              ],
        ),
      ),
  };
}
