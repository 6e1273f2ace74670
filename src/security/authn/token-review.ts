// Proxy authentication with Kubernetes service-account tokens (no agent in the
// pod: Envoy sends its projected token itself, see docs/security.md).
//
// The rules, each a requirement (research/security.md §2):
// - The caller's identity comes from the API server's TokenReview answer and
//   nothing else: never from the node's metadata, never from an unverified
//   read of the token. The review must say authenticated, must return our
//   audience, must name a service account (system:serviceaccount:<ns>:<sa>),
//   and the token must be bound to a pod (user.extra pod-name and pod-uid: a
//   projected token, which the API server also checks still names a live pod).
// - What the proxy claims (metadata NAMESPACE, SERVICE_ACCOUNT, NAME, and the
//   pod and namespace of an Istio-style node id) must agree with that identity,
//   else the stream is refused: a proxy cannot ask for another workload's view.
// - Fail closed: a TokenReview that errors or cannot be made is UNAVAILABLE,
//   never a pass. Concurrent reviews are bounded, and beyond a queue the caller
//   is told to retry (UNAVAILABLE) instead of the API server being flooded.
// - Answers are cached by the token's SHA-256 (the token itself is never kept
//   as a key or logged) until the token expires, at most `cacheTtlMs`. Refusals
//   are cached briefly so a flood of one bad token costs one review.
//
// Must not import xds/ (xds imports security), cli/, translate/.
import { createHash } from "node:crypto";
import { looksLikeJwt, unverifiedExpiry } from "./jwt.js";

/** What the caller proved: everything here comes from the TokenReview answer. */
export interface WorkloadCaller {
  namespace: string;
  serviceAccount: string;
  podName: string;
  podUid: string;
  /** When the token stops being valid (its `exp`), if it says; streams are closed then. */
  expiresAt?: Date;
}

/** What the proxy announced about itself in its xDS node. Only compared, never trusted. */
export interface ProxyClaims {
  nodeId: string;
  metadata: Record<string, unknown>;
}

export type AuthnFailureCode = "UNAUTHENTICATED" | "PERMISSION_DENIED" | "UNAVAILABLE";

export type ProxyAuthnResult =
  | { ok: true; caller: WorkloadCaller }
  | {
      ok: false;
      code: AuthnFailureCode;
      /** Safe to send to the caller: says what is wrong, never anything of the token. */
      message: string;
      /** For the control plane's own log only (e.g. the API server's error). */
      detail?: string;
    };

/** authentication.k8s.io/v1 TokenReviewStatus, as far as it matters here. */
export interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  audiences?: string[];
  error?: string;
}

/** Sends one TokenReview; rejects when the API server could not answer (that fails closed). */
export type TokenReviewer = (token: string, audiences: readonly string[]) => Promise<TokenReviewStatus>;

/** The part of sources/kube's KubeHttp a reviewer needs (structural, so security/ need not import sources/). */
export interface KubeRequester {
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

/** TokenReview through the API server (`create tokenreviews` in manifests/base/rbac.yaml). */
export function kubeTokenReviewer(http: KubeRequester): TokenReviewer {
  return async (token, audiences) => {
    const res = await http.request<{ status?: TokenReviewStatus; message?: string }>(
      "POST",
      "/apis/authentication.k8s.io/v1/tokenreviews",
      { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, audiences: [...audiences] } },
    );
    if (res.status !== 200 && res.status !== 201) {
      const message = typeof res.body === "object" && res.body?.message ? res.body.message : "";
      throw new Error(`TokenReview: HTTP ${res.status} ${message}`.trim());
    }
    return res.body?.status ?? {};
  };
}

export const POD_NAME_EXTRA = "authentication.kubernetes.io/pod-name";
export const POD_UID_EXTRA = "authentication.kubernetes.io/pod-uid";
const SERVICE_ACCOUNT_USER = /^system:serviceaccount:([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/;
/** Tokens are a few hundred bytes to a few KB; anything larger is not one. */
const MAX_TOKEN_BYTES = 16 * 1024;

export interface TokenReviewAuthenticatorOptions {
  review: TokenReviewer;
  /** The audience proxies' tokens are minted for (the injector's projected token). Default "trellis". */
  audience?: string;
  /** Longest a successful review is reused (and never beyond the token's exp). Default 5 min. */
  cacheTtlMs?: number;
  /** How long a refused token is remembered, so a flood of it costs one review. Default 10 s. */
  negativeCacheTtlMs?: number;
  /** Bound on cached answers (oldest dropped first). Default 50,000. */
  maxCacheEntries?: number;
  /** Reviews in flight at once. Default 16. */
  maxConcurrentReviews?: number;
  /** Reviews waiting for a slot; beyond it callers get UNAVAILABLE (retry). Default 2,000. */
  maxQueuedReviews?: number;
  now?: () => number;
}

type Verdict = ProxyAuthnResult;

interface CacheEntry {
  verdict: Verdict;
  until: number;
}

export interface TokenReviewStats {
  reviews: number;
  cacheHits: number;
  cached: number;
  inFlight: number;
  queued: number;
}

export class TokenReviewAuthenticator {
  readonly audience: string;
  private readonly cache = new Map<string, CacheEntry>();
  private readonly pending = new Map<string, Promise<Verdict>>();
  private readonly waiting: (() => void)[] = [];
  private active = 0;
  private reviews = 0;
  private cacheHits = 0;
  private readonly now: () => number;

  constructor(private readonly opts: TokenReviewAuthenticatorOptions) {
    this.audience = opts.audience ?? "trellis";
    this.now = opts.now ?? Date.now;
  }

  /**
   * `authorization`: every value of the `authorization` metadata key. Accepted:
   * `Bearer <jwt>`, or the bare JWT — Envoy's generic credential injector puts
   * the token file's content into the header as it is.
   */
  async authenticate(authorization: readonly string[], claims: ProxyClaims): Promise<ProxyAuthnResult> {
    const token = bearerToken(authorization);
    if (!token.ok) return token;
    const verdict = await this.verdictFor(token.value);
    if (!verdict.ok) return verdict;
    const mismatch = claimsMismatch(verdict.caller, claims);
    if (mismatch) {
      return {
        ok: false,
        code: "PERMISSION_DENIED",
        message: `the node's claimed identity does not match its service-account token: ${mismatch}`,
      };
    }
    return verdict;
  }

  stats(): TokenReviewStats {
    return {
      reviews: this.reviews,
      cacheHits: this.cacheHits,
      cached: this.cache.size,
      inFlight: this.active,
      queued: this.waiting.length,
    };
  }

  private async verdictFor(token: string): Promise<Verdict> {
    const now = this.now();
    const exp = unverifiedExpiry(token);
    // Not a shortcut around the review: an expired token can only be refused.
    if (exp !== undefined && exp <= now) return rejected("the service-account token has expired");
    const key = createHash("sha256").update(token).digest("base64url");
    const hit = this.cache.get(key);
    if (hit && hit.until > now) {
      this.cacheHits++;
      return hit.verdict;
    }
    if (hit) this.cache.delete(key);
    // One review per token at a time, however many streams present it at once (a reconnect storm).
    let p = this.pending.get(key);
    if (!p) {
      p = this.review(token, key, exp).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  private async review(token: string, key: string, exp: number | undefined): Promise<Verdict> {
    if (this.active < (this.opts.maxConcurrentReviews ?? 16)) this.active++;
    else if (this.waiting.length >= (this.opts.maxQueuedReviews ?? 2_000)) {
      return { ok: false, code: "UNAVAILABLE", message: "too many authentications in progress; retry later" };
    } else {
      // The finishing review hands its slot over (`active` stays as it is), so the bound holds.
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    let status: TokenReviewStatus;
    try {
      this.reviews++;
      status = await this.opts.review(token, [this.audience]);
    } catch (err) {
      // Fail closed, and do not cache: the next attempt asks again.
      return {
        ok: false,
        code: "UNAVAILABLE",
        message: "the token could not be checked with the Kubernetes API server; retry later",
        detail: (err as Error).message,
      };
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
    const verdict = judge(status, this.audience, exp);
    const now = this.now();
    const ttl = verdict.ok ? (this.opts.cacheTtlMs ?? 5 * 60_000) : (this.opts.negativeCacheTtlMs ?? 10_000);
    const until = Math.min(now + ttl, exp ?? Number.POSITIVE_INFINITY);
    if (until > now) this.remember(key, { verdict, until });
    return verdict;
  }

  private remember(key: string, entry: CacheEntry): void {
    const max = this.opts.maxCacheEntries ?? 50_000;
    if (this.cache.size >= max) {
      const now = this.now();
      for (const [k, e] of this.cache) if (e.until <= now) this.cache.delete(k);
      // Still full: drop the oldest insertions (Map iterates in insertion order).
      for (const k of this.cache.keys()) {
        if (this.cache.size < max) break;
        this.cache.delete(k);
      }
    }
    this.cache.set(key, entry);
  }
}

type Refusal = Extract<ProxyAuthnResult, { ok: false }>;

function rejected(message: string, detail?: string): Refusal {
  return { ok: false, code: "UNAUTHENTICATED", message, ...(detail ? { detail } : {}) };
}

function bearerToken(values: readonly string[]): { ok: true; value: string } | Refusal {
  if (values.length === 0) {
    return rejected(
      "no service-account token: send the pod's projected token (audience of the control plane) in the authorization metadata",
    );
  }
  if (values.length > 1) return rejected("more than one authorization value");
  const raw = (values[0] ?? "").trim();
  const token = /^bearer\s+/i.test(raw) ? raw.replace(/^bearer\s+/i, "").trim() : raw;
  if (token.length === 0 || token.length > MAX_TOKEN_BYTES || !looksLikeJwt(token)) {
    return rejected("the authorization metadata does not hold a service-account token (a JWT)");
  }
  return { ok: true, value: token };
}

/** Turns a TokenReview answer into an identity, or a refusal. */
function judge(status: TokenReviewStatus, audience: string, exp: number | undefined): Verdict {
  if (status.authenticated !== true) {
    return rejected(
      "the token was not accepted by the Kubernetes API server (expired, revoked, its pod deleted, or not for this audience)",
      status.error,
    );
  }
  // With spec.audiences the API server authenticates only tokens for one of them and returns
  // the ones that matched; an answer without ours is not an answer about our audience.
  if (!status.audiences?.includes(audience)) {
    return rejected(`the token is not for the audience "${audience}"`);
  }
  const m = SERVICE_ACCOUNT_USER.exec(status.user?.username ?? "");
  const namespace = m?.[1];
  const serviceAccount = m?.[3];
  if (!namespace || !serviceAccount) return rejected("the token is not a Kubernetes service-account token");
  const podName = single(status.user?.extra?.[POD_NAME_EXTRA]);
  const podUid = single(status.user?.extra?.[POD_UID_EXTRA]);
  if (!podName || !podUid) {
    return rejected(
      "the token is not bound to a pod: use a projected service-account token (serviceAccountToken volume)",
    );
  }
  return {
    ok: true,
    caller: { namespace, serviceAccount, podName, podUid, ...(exp !== undefined ? { expiresAt: new Date(exp) } : {}) },
  };
}

function single(values: string[] | undefined): string | undefined {
  return values?.length === 1 && values[0] ? values[0] : undefined;
}

/**
 * What in the node's claims disagrees with the proven identity, or undefined.
 * The namespace must be claimed (it selects the configuration the proxy gets);
 * the rest is compared when present.
 */
export function claimsMismatch(caller: WorkloadCaller, claims: ProxyClaims): string | undefined {
  const md = claims.metadata;
  const idPod = istioNodeIdPod(claims.nodeId);
  const claimedNs = typeof md.NAMESPACE === "string" && md.NAMESPACE !== "" ? md.NAMESPACE : idPod?.namespace;
  if (claimedNs === undefined) {
    return "it claims no namespace (node metadata NAMESPACE or a node id sidecar~<ip>~<pod>.<namespace>~…)";
  }
  if (typeof md.NAMESPACE === "string" && md.NAMESPACE !== "" && md.NAMESPACE !== caller.namespace) {
    return "metadata NAMESPACE differs from the token's namespace";
  }
  if (md.SERVICE_ACCOUNT !== undefined && md.SERVICE_ACCOUNT !== caller.serviceAccount) {
    return "metadata SERVICE_ACCOUNT differs from the token's service account";
  }
  if (md.NAME !== undefined && md.NAME !== caller.podName) return "metadata NAME differs from the token's pod";
  if (idPod) {
    if (idPod.namespace !== caller.namespace) return "the node id's namespace differs from the token's namespace";
    if (idPod.pod !== caller.podName) return "the node id's pod differs from the token's pod";
  }
  return undefined;
}

/**
 * Pod and namespace of an Istio-style node id, `<type>~<ip>~<pod>.<namespace>~<domain>`.
 * Namespaces cannot contain dots, pod names can: the namespace follows the last dot.
 */
export function istioNodeIdPod(nodeId: string): { pod: string; namespace: string } | undefined {
  const parts = nodeId.split("~");
  if (parts.length !== 4) return undefined;
  const podDotNs = parts[2] ?? "";
  const dot = podDotNs.lastIndexOf(".");
  if (dot <= 0 || dot === podDotNs.length - 1) return undefined;
  return { pod: podDotNs.slice(0, dot), namespace: podDotNs.slice(dot + 1) };
}
