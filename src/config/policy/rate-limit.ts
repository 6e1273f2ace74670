// RateLimit (policy.trellis.dev/v1alpha1): local rate limiting as a first-class
// API. Istio users have had to patch Envoy's local rate limit filter in with an
// EnvoyFilter; here they name a service and give token buckets.
//
// Semantics: the limit is enforced by the sidecar of every workload that
// implements the service, on inbound requests, per instance (Envoy's local rate
// limit is per proxy): `maxTokens: 100, tokensPerFill: 100, fillInterval: 1s`
// on a service with 3 replicas admits about 300 requests per second in total.
// Limits are matched in order; the first whose match applies counts a request.
// VirtualService route names are not a match criterion: they exist only on the
// client side, which a per-instance server-side limit never sees.

import { z } from "zod";
import { POLICY_API_VERSIONS } from "../api-groups.js";
import { meshObjectSchema } from "../object-meta.js";
import { Duration, Percentage, Port, StringMap } from "../primitives.js";

export const TokenBucket = z.strictObject({
  /** Bucket size: the burst admitted at once. */
  maxTokens: z.int().min(1),
  /** Tokens added every fillInterval; defaults to maxTokens. */
  tokensPerFill: z.int().min(1).optional(),
  /** How often the bucket is refilled, e.g. "1s" (at least 50ms, as Envoy requires). */
  fillInterval: Duration,
});
export type TokenBucket = z.infer<typeof TokenBucket>;

export const RateLimitMatch = z.strictObject({
  /** Request paths starting with one of these. */
  pathPrefixes: z.array(z.string().startsWith("/")).min(1).optional(),
  /** Exact request paths. */
  paths: z.array(z.string().startsWith("/")).min(1).optional(),
  /** HTTP methods (GET, POST, …). */
  methods: z.array(z.string().min(1)).min(1).optional(),
});
export type RateLimitMatch = z.infer<typeof RateLimitMatch>;

export const RateLimitRule = z.strictObject({
  /** Optional name, shown in stats and diagnostics. */
  name: z.string().optional(),
  /** Which requests this limit counts; all requests when unset. */
  match: RateLimitMatch.optional(),
  tokenBucket: TokenBucket,
});
export type RateLimitRule = z.infer<typeof RateLimitRule>;

export const RateLimitSpec = z.strictObject({
  /** The service to protect: a host as in a VirtualService (short names resolve in this object's namespace). */
  host: z.string().min(1),
  /** Only these service ports; all HTTP ports of the service when unset. */
  ports: z.array(Port).min(1).optional(),
  /** Ordered limits; a request counts against the first that matches. */
  limits: z.array(RateLimitRule).min(1),
  /** Status code of a limited response; default 429. */
  statusCode: z.int().min(400).max(599).optional(),
  /** Headers added to limited responses. */
  responseHeaders: StringMap.optional(),
  /** Share of requests the limit is enforced on (the rest are only counted in stats); default 100. */
  enforcePercentage: Percentage.optional(),
});
export type RateLimitSpec = z.infer<typeof RateLimitSpec>;

export const RateLimitSchema = meshObjectSchema("RateLimit", POLICY_API_VERSIONS, RateLimitSpec, {
  specRequired: true,
});
export type RateLimit = z.infer<typeof RateLimitSchema>;
