// VirtualService: routing rules for traffic addressed to a set of hosts —
// HTTP (match, route, redirect, rewrite, retries, fault injection, mirroring,
// CORS, header manipulation, delegation), TLS by SNI, and plain TCP.

import { z } from "zod";
import { NETWORKING_API_VERSIONS } from "../api-groups.js";
import { meshObjectSchema } from "../object-meta.js";
import { Duration, Int32, Percentage, Port, StringList, StringMap, UInt32 } from "../primitives.js";

/** Exactly one of exact, prefix, regex (RE2 syntax) in Istio's API. */
export const StringMatch = z.strictObject({
  exact: z.string().optional(),
  prefix: z.string().optional(),
  regex: z.string().optional(),
});
export type StringMatch = z.infer<typeof StringMatch>;

export const PortSelector = z.strictObject({
  number: Port.optional(),
});
export type PortSelector = z.infer<typeof PortSelector>;

export const Destination = z.strictObject({
  host: z.string(),
  subset: z.string().optional(),
  port: PortSelector.optional(),
});
export type Destination = z.infer<typeof Destination>;

export const Percent = z.strictObject({
  value: Percentage.optional(),
});
export type Percent = z.infer<typeof Percent>;

const HeaderOperations = z.strictObject({
  set: StringMap.optional(),
  add: StringMap.optional(),
  remove: StringList.optional(),
});

export const Headers = z.strictObject({
  request: HeaderOperations.optional(),
  response: HeaderOperations.optional(),
});
export type Headers = z.infer<typeof Headers>;

export const HTTPMatchRequest = z.strictObject({
  name: z.string().optional(),
  uri: StringMatch.optional(),
  scheme: StringMatch.optional(),
  method: StringMatch.optional(),
  authority: StringMatch.optional(),
  headers: z.record(z.string(), StringMatch).optional(),
  port: Port.optional(),
  sourceLabels: StringMap.optional(),
  gateways: StringList.optional(),
  queryParams: z.record(z.string(), StringMatch).optional(),
  ignoreUriCase: z.boolean().optional(),
  withoutHeaders: z.record(z.string(), StringMatch).optional(),
  sourceNamespace: z.string().optional(),
  statPrefix: z.string().optional(),
});
export type HTTPMatchRequest = z.infer<typeof HTTPMatchRequest>;

export const HTTPRouteDestination = z.strictObject({
  destination: Destination,
  weight: Int32.min(0).optional(),
  headers: Headers.optional(),
});
export type HTTPRouteDestination = z.infer<typeof HTTPRouteDestination>;

/** Either `port` or `derivePort` (a oneof in Istio's API). */
export const HTTPRedirect = z.strictObject({
  uri: z.string().optional(),
  authority: z.string().optional(),
  port: Port.optional(),
  derivePort: z.enum(["FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"]).optional(),
  scheme: z.string().optional(),
  redirectCode: UInt32.optional(),
  prefixRewrite: z.string().optional(),
});
export type HTTPRedirect = z.infer<typeof HTTPRedirect>;

/** Either `string` or `bytes` (base64) (a oneof in Istio's API). */
export const HTTPBody = z.strictObject({
  string: z.string().optional(),
  bytes: z.base64().optional(),
});

export const HTTPDirectResponse = z.strictObject({
  status: UInt32,
  body: HTTPBody.optional(),
});
export type HTTPDirectResponse = z.infer<typeof HTTPDirectResponse>;

export const Delegate = z.strictObject({
  name: z.string().optional(),
  namespace: z.string().optional(),
});
export type Delegate = z.infer<typeof Delegate>;

export const RegexRewrite = z.strictObject({
  match: z.string().optional(),
  rewrite: z.string().optional(),
});

export const HTTPRewrite = z.strictObject({
  uri: z.string().optional(),
  authority: z.string().optional(),
  uriRegexRewrite: RegexRewrite.optional(),
});
export type HTTPRewrite = z.infer<typeof HTTPRewrite>;

export const HTTPRetry = z.strictObject({
  attempts: Int32.min(0).optional(),
  perTryTimeout: Duration.optional(),
  retryOn: z.string().optional(),
  retryRemoteLocalities: z.boolean().optional(),
  retryIgnorePreviousHosts: z.boolean().optional(),
  backoff: Duration.optional(),
});
export type HTTPRetry = z.infer<typeof HTTPRetry>;

/** Either `fixedDelay` or `exponentialDelay` (a oneof in Istio's API). */
const FaultDelay = z.strictObject({
  /** Deprecated in Istio: use `percentage`. */
  percent: Int32.optional(),
  fixedDelay: Duration.optional(),
  exponentialDelay: Duration.optional(),
  percentage: Percent.optional(),
});

/** One of httpStatus, grpcStatus, http2Error (a oneof in Istio's API). */
const FaultAbort = z.strictObject({
  httpStatus: Int32.optional(),
  grpcStatus: z.string().optional(),
  http2Error: z.string().optional(),
  percentage: Percent.optional(),
});

export const HTTPFaultInjection = z.strictObject({
  delay: FaultDelay.optional(),
  abort: FaultAbort.optional(),
});
export type HTTPFaultInjection = z.infer<typeof HTTPFaultInjection>;

export const HTTPMirrorPolicy = z.strictObject({
  destination: Destination,
  percentage: Percent.optional(),
});
export type HTTPMirrorPolicy = z.infer<typeof HTTPMirrorPolicy>;

export const CorsPolicy = z.strictObject({
  /** Deprecated in Istio: use `allowOrigins`. */
  allowOrigin: StringList.optional(),
  allowOrigins: z.array(StringMatch).optional(),
  allowMethods: StringList.optional(),
  allowHeaders: StringList.optional(),
  exposeHeaders: StringList.optional(),
  maxAge: Duration.optional(),
  allowCredentials: z.boolean().optional(),
  unmatchedPreflights: z.enum(["UNSPECIFIED", "FORWARD", "IGNORE"]).optional(),
});
export type CorsPolicy = z.infer<typeof CorsPolicy>;

export const HTTPRoute = z.strictObject({
  name: z.string().optional(),
  match: z.array(HTTPMatchRequest).optional(),
  route: z.array(HTTPRouteDestination).optional(),
  redirect: HTTPRedirect.optional(),
  directResponse: HTTPDirectResponse.optional(),
  delegate: Delegate.optional(),
  rewrite: HTTPRewrite.optional(),
  timeout: Duration.optional(),
  retries: HTTPRetry.optional(),
  fault: HTTPFaultInjection.optional(),
  mirror: Destination.optional(),
  mirrors: z.array(HTTPMirrorPolicy).optional(),
  /** Deprecated in Istio: use `mirrorPercentage`. */
  mirrorPercent: UInt32.optional(),
  mirrorPercentage: Percent.optional(),
  corsPolicy: CorsPolicy.optional(),
  headers: Headers.optional(),
});
export type HTTPRoute = z.infer<typeof HTTPRoute>;

export const RouteDestination = z.strictObject({
  destination: Destination,
  weight: Int32.min(0).optional(),
});
export type RouteDestination = z.infer<typeof RouteDestination>;

export const TLSMatchAttributes = z.strictObject({
  sniHosts: z.array(z.string()).min(1),
  destinationSubnets: StringList.optional(),
  port: Port.optional(),
  sourceLabels: StringMap.optional(),
  gateways: StringList.optional(),
  sourceNamespace: z.string().optional(),
});

export const TLSRoute = z.strictObject({
  match: z.array(TLSMatchAttributes).min(1),
  route: z.array(RouteDestination).optional(),
});
export type TLSRoute = z.infer<typeof TLSRoute>;

export const L4MatchAttributes = z.strictObject({
  destinationSubnets: StringList.optional(),
  port: Port.optional(),
  sourceSubnet: z.string().optional(),
  sourceLabels: StringMap.optional(),
  gateways: StringList.optional(),
  sourceNamespace: z.string().optional(),
});

export const TCPRoute = z.strictObject({
  match: z.array(L4MatchAttributes).optional(),
  route: z.array(RouteDestination).optional(),
});
export type TCPRoute = z.infer<typeof TCPRoute>;

export const VirtualServiceSpec = z.strictObject({
  hosts: StringList.optional(),
  gateways: StringList.optional(),
  http: z.array(HTTPRoute).optional(),
  tls: z.array(TLSRoute).optional(),
  tcp: z.array(TCPRoute).optional(),
  exportTo: StringList.optional(),
});
export type VirtualServiceSpec = z.infer<typeof VirtualServiceSpec>;

export const VirtualServiceSchema = meshObjectSchema("VirtualService", NETWORKING_API_VERSIONS, VirtualServiceSpec, {
  specRequired: false,
});
export type VirtualService = z.infer<typeof VirtualServiceSchema>;
