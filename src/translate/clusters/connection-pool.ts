// DestinationRule `connectionPool` → circuit-breaker thresholds, connect
// timeout, TCP keepalive and upstream HTTP protocol options, with Istio's
// defaults where a field is unset (pilot's applyConnectionPool):
//
// - every sidecar cluster gets one DEFAULT-priority threshold with
//   max_connections, max_pending_requests, max_requests and max_retries at
//   2^32-1 (Envoy's own defaults, 1024 and 3 retries, trip during rollouts) and
//   track_remaining on; a positive DestinationRule value replaces each one
//   (Istio cannot tell an explicit 0 from unset, so 0 means "default");
// - connect_timeout is tcp.connectTimeout, else the mesh's 10s;
// - http.idleTimeout (else tcp.idleTimeout), maxRequestsPerConnection and
//   tcp.maxConnectionDuration go to the common HTTP protocol options;
//   maxConcurrentStreams and http2KeepAlive to the HTTP/2 options when the
//   cluster speaks HTTP/2 upstream;
// - useClientProtocol makes the upstream follow the downstream protocol.
//
// Proxyless gRPC applies only max_requests (gRFC A32): gRPC manages its own
// HTTP/2 connections, so connection counts, pending requests, per-connection
// limits and timeouts have no meaning there and are not sent.
import type { ConnectionPoolSettings, TrafficPolicy } from "../../config/networking/destination-rule.js";
import type { Cluster } from "../../envoy/generated/envoy/config/cluster/v3/Cluster.js";
import { durationMs, protoDuration } from "../duration.js";
import { deepFreeze } from "../security/tls-context.js";
import { CONNECT_TIMEOUT, MAX_UINT32 } from "./defaults.js";
import {
  type ClusterDraft,
  commonHttpOptions,
  http2Options,
  setHttp2,
  setUseDownstreamProtocol,
} from "./upstream-protocol.js";

type Thresholds = NonNullable<NonNullable<Cluster["circuit_breakers"]>["thresholds"]>[number];

/** Istio's thresholds for a cluster without connection-pool settings. */
export function defaultThresholds(): Thresholds {
  return {
    max_connections: { value: MAX_UINT32 },
    max_pending_requests: { value: MAX_UINT32 },
    max_requests: { value: MAX_UINT32 },
    max_retries: { value: MAX_UINT32 },
    track_remaining: true,
  };
}

// Shared (and frozen) by every cluster without connection-pool settings: nearly
// every cluster of every view.
const DEFAULT_CONNECT_TIMEOUT = deepFreeze(protoDuration(CONNECT_TIMEOUT));
const DEFAULT_THRESHOLDS = deepFreeze(defaultThresholds());
const DEFAULT_CIRCUIT_BREAKERS = deepFreeze({ thresholds: [DEFAULT_THRESHOLDS] });

const seconds = (d: string) => Math.floor(durationMs(d) / 1000);

/**
 * `h2UpgradePolicy: UPGRADE` speaks HTTP/2 upstream even on a port not
 * declared HTTP/2 (the user vouches for it); DO_NOT_UPGRADE and the mesh
 * default (DO_NOT_UPGRADE) leave the port's protocol alone; useClientProtocol
 * wins over UPGRADE.
 */
export function applyH2Upgrade(d: ClusterDraft, pool: ConnectionPoolSettings | undefined): void {
  const http = pool?.http;
  if (http?.h2UpgradePolicy === "UPGRADE" && !http.useClientProtocol) setHttp2(d);
}

type CircuitBreakers = NonNullable<Cluster["circuit_breakers"]>;

// Circuit breakers by settings: every cluster of a rule (per port and subset,
// in every view) has the same ones, and most clusters have none (the shared,
// frozen default). Shared: nothing writes to them once built.
const customBreakers = new WeakMap<object, Map<TrafficPolicy["retryBudget"], CircuitBreakers>>();
const NO_POOL = {};

function circuitBreakers(
  pool: ConnectionPoolSettings | undefined,
  retryBudget: TrafficPolicy["retryBudget"],
): CircuitBreakers {
  const http = pool?.http;
  const tcp = pool?.tcp;
  const custom =
    (http?.http2MaxRequests ?? 0) > 0 ||
    (http?.http1MaxPendingRequests ?? 0) > 0 ||
    (http?.maxRetries ?? 0) > 0 ||
    (tcp?.maxConnections ?? 0) > 0 ||
    !!retryBudget;
  if (!custom) return DEFAULT_CIRCUIT_BREAKERS;
  let byBudget = customBreakers.get(pool ?? NO_POOL);
  if (!byBudget) {
    byBudget = new Map();
    customBreakers.set(pool ?? NO_POOL, byBudget);
  }
  let found = byBudget.get(retryBudget);
  if (found) return found;
  const t = defaultThresholds();
  if (http?.http2MaxRequests && http.http2MaxRequests > 0) t.max_requests = { value: http.http2MaxRequests };
  if (http?.http1MaxPendingRequests && http.http1MaxPendingRequests > 0) {
    t.max_pending_requests = { value: http.http1MaxPendingRequests };
  }
  if (http?.maxRetries && http.maxRetries > 0) t.max_retries = { value: http.maxRetries };
  if (tcp?.maxConnections && tcp.maxConnections > 0) t.max_connections = { value: tcp.maxConnections };
  if (retryBudget) {
    // Istio's defaults: 20% of active requests, at least 3 concurrent retries.
    t.retry_budget = {
      budget_percent: { value: retryBudget.percent ?? 20 },
      min_retry_concurrency: {
        value:
          retryBudget.minRetryConcurrency && retryBudget.minRetryConcurrency > 0 ? retryBudget.minRetryConcurrency : 3,
      },
    };
  }
  found = { thresholds: [t] };
  byBudget.set(retryBudget, found);
  return found;
}

export function applyConnectionPool(
  d: ClusterDraft,
  pool: ConnectionPoolSettings | undefined,
  retryBudget?: TrafficPolicy["retryBudget"],
): void {
  const c = d.cluster;
  const http = pool?.http;
  const tcp = pool?.tcp;
  c.circuit_breakers = circuitBreakers(pool, retryBudget);
  const connectTimeout = tcp?.connectTimeout ?? CONNECT_TIMEOUT;
  c.connect_timeout = connectTimeout === CONNECT_TIMEOUT ? DEFAULT_CONNECT_TIMEOUT : protoDuration(connectTimeout);

  if (tcp?.tcpKeepalive) {
    const k = tcp.tcpKeepalive;
    const keepalive: NonNullable<NonNullable<Cluster["upstream_connection_options"]>["tcp_keepalive"]> = {};
    if (k.probes && k.probes > 0) keepalive.keepalive_probes = { value: k.probes };
    if (k.time) keepalive.keepalive_time = { value: seconds(k.time) };
    if (k.interval) keepalive.keepalive_interval = { value: seconds(k.interval) };
    // An empty tcp_keepalive still sets SO_KEEPALIVE with the OS defaults.
    c.upstream_connection_options = { tcp_keepalive: keepalive };
  }

  if (http?.useClientProtocol) setUseDownstreamProtocol(d);

  const idle = http?.idleTimeout ?? tcp?.idleTimeout;
  if (idle) commonHttpOptions(d).idle_timeout = protoDuration(idle);
  if (http?.maxRequestsPerConnection && http.maxRequestsPerConnection > 0) {
    commonHttpOptions(d).max_requests_per_connection = { value: http.maxRequestsPerConnection };
  }
  if (tcp?.maxConnectionDuration)
    commonHttpOptions(d).max_connection_duration = protoDuration(tcp.maxConnectionDuration);
  const h2 = http2Options(d);
  if (h2 && http?.maxConcurrentStreams && http.maxConcurrentStreams > 0) {
    h2.max_concurrent_streams = { value: http.maxConcurrentStreams };
  }
  if (h2 && http?.http2KeepAlive) {
    const ka: NonNullable<typeof h2.connection_keepalive> = {};
    if (http.http2KeepAlive.interval) ka.interval = protoDuration(http.http2KeepAlive.interval);
    if (http.http2KeepAlive.timeout) ka.timeout = protoDuration(http.http2KeepAlive.timeout);
    h2.connection_keepalive = ka;
  }
}

/** Proxyless gRPC: the concurrent-request limit only (gRFC A32). */
export function applyProxylessConnectionPool(c: Cluster, pool: ConnectionPoolSettings | undefined): void {
  const max = pool?.http?.http2MaxRequests;
  if (max && max > 0) c.circuit_breakers = { thresholds: [{ max_requests: { value: max } }] };
}
