// The single authentication/authorisation step every xDS RPC passes through
// before its first response. The stream engine (stream.ts) calls it for every
// RPC kind (SotW or Delta, aggregated or per-type), so none can skip it.
import type * as grpc from "@grpc/grpc-js";
import type { ProxyNode } from "./proxy.js";

export interface AuthRequest {
  /** Full gRPC method path, e.g. /envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources. */
  method: string;
  /** The type URL the RPC serves: a fixed one for per-type services, undefined for ADS. */
  typeUrl?: string;
  node: ProxyNode;
  metadata: grpc.Metadata;
  peer: string;
}

export type AuthResult =
  | { ok: true; identity: { kind: "anonymous" } | { kind: "workload"; namespace: string; serviceAccount: string } }
  | { ok: false; code: grpc.status; message: string };

export type Authenticator = (req: AuthRequest) => Promise<AuthResult>;

/** Development mode: every caller is accepted as anonymous. Secrets are never served to anonymous callers. */
export const acceptAll: Authenticator = async () => ({ ok: true, identity: { kind: "anonymous" } });
