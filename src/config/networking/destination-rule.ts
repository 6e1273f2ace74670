// DestinationRule: what happens to traffic for a host after routing — load
// balancing, connection pools, outlier detection, client TLS, per port and per
// subset.

import { z } from "zod";
import { NETWORKING_API_VERSIONS } from "../api-groups.js";
import { meshObjectSchema } from "../object-meta.js";
import { Duration, Int32, Percentage, Port, StringList, StringMap, UInt32, UInt64 } from "../primitives.js";
import { WorkloadSelector } from "../selectors.js";
import { PortSelector } from "./virtual-service.js";

const HTTPCookie = z.strictObject({
  name: z.string(),
  path: z.string().optional(),
  ttl: Duration.optional(),
  attributes: z
    .array(
      z.strictObject({
        name: z.string(),
        value: z.string().optional(),
      }),
    )
    .optional(),
});

/**
 * Hash key: one of httpHeaderName, httpCookie, useSourceIp,
 * httpQueryParameterName; algorithm: one of ringHash, maglev (oneofs in
 * Istio's API).
 */
export const ConsistentHashLB = z.strictObject({
  httpHeaderName: z.string().optional(),
  httpCookie: HTTPCookie.optional(),
  useSourceIp: z.boolean().optional(),
  httpQueryParameterName: z.string().optional(),
  ringHash: z.strictObject({ minimumRingSize: UInt64.optional() }).optional(),
  maglev: z.strictObject({ tableSize: UInt64.optional() }).optional(),
  /** Deprecated in Istio: use `ringHash.minimumRingSize`. */
  minimumRingSize: UInt64.optional(),
});
export type ConsistentHashLB = z.infer<typeof ConsistentHashLB>;

const LocalityFailover = z.strictObject({
  from: z.string().optional(),
  to: z.string().optional(),
});

export const LocalityLoadBalancerSetting = z.strictObject({
  distribute: z
    .array(
      z.strictObject({
        from: z.string().optional(),
        /** Locality → weight (percent). */
        to: z.record(z.string(), UInt32).optional(),
      }),
    )
    .optional(),
  failover: z.array(LocalityFailover).optional(),
  failoverPriority: StringList.optional(),
  enabled: z.boolean().optional(),
});
export type LocalityLoadBalancerSetting = z.infer<typeof LocalityLoadBalancerSetting>;

export const ZoneAwareLoadBalancerSetting = z.strictObject({
  enabled: z.boolean().optional(),
  failover: z.array(LocalityFailover).optional(),
  failoverPriority: StringList.optional(),
  minClusterSize: UInt64.optional(),
});

export const WarmupConfiguration = z.strictObject({
  duration: Duration,
  minimumPercent: Percentage.optional(),
  aggression: z.number().min(0).optional(),
});

/** Either `simple` or `consistentHash` (a oneof in Istio's API). */
export const LoadBalancerSettings = z.strictObject({
  /** LEAST_CONN is deprecated in Istio in favour of LEAST_REQUEST. */
  simple: z.enum(["UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"]).optional(),
  consistentHash: ConsistentHashLB.optional(),
  localityLbSetting: LocalityLoadBalancerSetting.optional(),
  zoneAwareLbSetting: ZoneAwareLoadBalancerSetting.optional(),
  warmupDurationSecs: Duration.optional(),
  warmup: WarmupConfiguration.optional(),
});
export type LoadBalancerSettings = z.infer<typeof LoadBalancerSettings>;

const TCPSettings = z.strictObject({
  maxConnections: Int32.optional(),
  connectTimeout: Duration.optional(),
  tcpKeepalive: z
    .strictObject({
      probes: UInt32.optional(),
      time: Duration.optional(),
      interval: Duration.optional(),
    })
    .optional(),
  maxConnectionDuration: Duration.optional(),
  idleTimeout: Duration.optional(),
});

const HTTPSettings = z.strictObject({
  http1MaxPendingRequests: Int32.optional(),
  http2MaxRequests: Int32.optional(),
  maxRequestsPerConnection: Int32.optional(),
  maxRetries: Int32.optional(),
  idleTimeout: Duration.optional(),
  h2UpgradePolicy: z.enum(["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"]).optional(),
  useClientProtocol: z.boolean().optional(),
  maxConcurrentStreams: Int32.optional(),
  http2KeepAlive: z
    .strictObject({
      interval: Duration.optional(),
      timeout: Duration.optional(),
    })
    .optional(),
});

export const ConnectionPoolSettings = z.strictObject({
  tcp: TCPSettings.optional(),
  http: HTTPSettings.optional(),
});
export type ConnectionPoolSettings = z.infer<typeof ConnectionPoolSettings>;

export const OutlierDetection = z.strictObject({
  /** Deprecated in Istio: use `consecutive5xxErrors` / `consecutiveGatewayErrors`. */
  consecutiveErrors: Int32.optional(),
  splitExternalLocalOriginErrors: z.boolean().optional(),
  consecutiveLocalOriginFailures: UInt32.optional(),
  consecutiveGatewayErrors: UInt32.optional(),
  consecutive5xxErrors: UInt32.optional(),
  interval: Duration.optional(),
  baseEjectionTime: Duration.optional(),
  maxEjectionPercent: Int32.optional(),
  minHealthPercent: Int32.optional(),
  /** HTTP status codes (100–599) counted as errors in addition to 5xx. */
  outlierDetectionHttpErrorCodes: z.array(z.int().min(100).max(599)).optional(),
});
export type OutlierDetection = z.infer<typeof OutlierDetection>;

export const ClientTLSSettings = z.strictObject({
  mode: z.enum(["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"]).optional(),
  clientCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
  credentialName: z.string().optional(),
  subjectAltNames: StringList.optional(),
  sni: z.string().optional(),
  insecureSkipVerify: z.boolean().optional(),
  caCrl: z.string().optional(),
});
export type ClientTLSSettings = z.infer<typeof ClientTLSSettings>;

export const PortTrafficPolicy = z.strictObject({
  port: PortSelector.optional(),
  loadBalancer: LoadBalancerSettings.optional(),
  connectionPool: ConnectionPoolSettings.optional(),
  outlierDetection: OutlierDetection.optional(),
  tls: ClientTLSSettings.optional(),
});
export type PortTrafficPolicy = z.infer<typeof PortTrafficPolicy>;

export const TrafficPolicy = z.strictObject({
  loadBalancer: LoadBalancerSettings.optional(),
  connectionPool: ConnectionPoolSettings.optional(),
  outlierDetection: OutlierDetection.optional(),
  tls: ClientTLSSettings.optional(),
  portLevelSettings: z.array(PortTrafficPolicy).optional(),
  tunnel: z
    .strictObject({
      /** CONNECT (default) or POST. */
      protocol: z.string().optional(),
      targetHost: z.string(),
      targetPort: Port,
    })
    .optional(),
  proxyProtocol: z.strictObject({ version: z.enum(["V1", "V2"]).optional() }).optional(),
  retryBudget: z
    .strictObject({
      percent: Percentage.optional(),
      minRetryConcurrency: UInt32.optional(),
      budgetInterval: Duration.optional(),
    })
    .optional(),
});
export type TrafficPolicy = z.infer<typeof TrafficPolicy>;

export const Subset = z.strictObject({
  name: z.string(),
  labels: StringMap.optional(),
  trafficPolicy: TrafficPolicy.optional(),
});
export type Subset = z.infer<typeof Subset>;

export const DestinationRuleSpec = z.strictObject({
  host: z.string(),
  trafficPolicy: TrafficPolicy.optional(),
  subsets: z.array(Subset).optional(),
  exportTo: StringList.optional(),
  workloadSelector: WorkloadSelector.optional(),
});
export type DestinationRuleSpec = z.infer<typeof DestinationRuleSpec>;

export const DestinationRuleSchema = meshObjectSchema("DestinationRule", NETWORKING_API_VERSIONS, DestinationRuleSpec, {
  specRequired: false,
});
export type DestinationRule = z.infer<typeof DestinationRuleSchema>;
