// The single authentication/authorisation step every xDS RPC passes through
// before its first response. The stream engine (stream.ts) calls it for every
// RPC kind (SotW or Delta, aggregated or per-type), so none can skip it.
import * as grpc from "@grpc/grpc-js";
import type { ProxyAuthnResult, ProxyClaims } from "../security/authn/token-review.js";
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

/** An authenticated workload: everything here was proven (a TokenReview), nothing is what the proxy claimed. */
export interface WorkloadIdentity {
  kind: "workload";
  namespace: string;
  serviceAccount: string;
  podName: string;
  /** When the credential stops being valid: the stream is closed then, so the proxy re-authenticates. */
  expiresAt?: Date;
}

export type CallerIdentity = { kind: "anonymous" } | WorkloadIdentity;

export type AuthResult = { ok: true; identity: CallerIdentity } | { ok: false; code: grpc.status; message: string };

export type Authenticator = (req: AuthRequest) => Promise<AuthResult>;

/** Development mode: every caller is accepted as anonymous. Secrets are never served to anonymous callers. */
export const acceptAll: Authenticator = async () => ({ ok: true, identity: { kind: "anonymous" } });

/** The proxy-authentication step of security/ (e.g. a TokenReviewAuthenticator), as an xDS Authenticator. */
export interface ProxyAuthenticator {
  authenticate(authorization: readonly string[], claims: ProxyClaims): Promise<ProxyAuthnResult>;
}

/**
 * Authenticates with the `authorization` metadata of the RPC and the node's
 * claims. Refusals carry the authenticator's message; its `detail` (e.g. the
 * API server's error) goes to `onRefused` for the control plane's log only.
 */
export function workloadAuthenticator(
  authn: ProxyAuthenticator,
  onRefused?: (req: AuthRequest, detail: string) => void,
): Authenticator {
  return async (req) => {
    const values = req.metadata.get("authorization").map((v) => (typeof v === "string" ? v : v.toString("utf8")));
    const res = await authn.authenticate(values, { nodeId: req.node.id, metadata: req.node.metadata });
    if (!res.ok) {
      if (res.detail) onRefused?.(req, res.detail);
      return { ok: false, code: grpc.status[res.code], message: res.message };
    }
    const c = res.caller;
    return {
      ok: true,
      identity: {
        kind: "workload",
        namespace: c.namespace,
        serviceAccount: c.serviceAccount,
        podName: c.podName,
        ...(c.expiresAt ? { expiresAt: c.expiresAt } : {}),
      },
    };
  };
}
