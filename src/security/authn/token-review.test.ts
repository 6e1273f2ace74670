// The TokenReview authenticator's rules, with a scripted TokenReview (the same
// rules against the real kube-apiserver: e2e/kube/xds-auth.test.ts).
import { createServer, type IncomingMessage, type Server } from "node:http";
import { KubeConfig } from "@kubernetes/client-node";
import { afterEach, describe, expect, it } from "vitest";
import { KubeHttp } from "../../sources/kube/http.js";
import {
  claimsMismatch,
  istioNodeIdPod,
  kubeTokenReviewer,
  POD_NAME_EXTRA,
  POD_UID_EXTRA,
  type ProxyClaims,
  TokenReviewAuthenticator,
  type TokenReviewStatus,
} from "./token-review.js";

const T0 = Date.parse("2026-01-01T00:00:00Z");

/** An unsigned JWT with the given claims: only the TokenReview decides whether it is valid. */
function jwt(claims: Record<string, unknown>, sig = "c2ln"): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "RS256", kid: "k" })}.${b64(claims)}.${sig}`;
}

function reviewOf(ns: string, sa: string, pod: string, extra: Partial<TokenReviewStatus> = {}): TokenReviewStatus {
  return {
    authenticated: true,
    audiences: ["trellis"],
    user: {
      username: `system:serviceaccount:${ns}:${sa}`,
      uid: "u-1",
      groups: ["system:serviceaccounts", `system:serviceaccounts:${ns}`],
      extra: { [POD_NAME_EXTRA]: [pod], [POD_UID_EXTRA]: [`uid-${pod}`] },
    },
    ...extra,
  };
}

const claims = (md: Record<string, unknown>, nodeId = "n1"): ProxyClaims => ({ nodeId, metadata: md });
const podClaims = claims({ NAMESPACE: "shop", SERVICE_ACCOUNT: "cart", NAME: "cart-1" });

interface Harness {
  authn: TokenReviewAuthenticator;
  calls: { token: string; audiences: readonly string[] }[];
  clock: { now: number };
}

function harness(
  answer: (token: string) => TokenReviewStatus | Promise<TokenReviewStatus>,
  opts: Partial<ConstructorParameters<typeof TokenReviewAuthenticator>[0]> = {},
): Harness {
  const calls: Harness["calls"] = [];
  const clock = { now: T0 };
  const authn = new TokenReviewAuthenticator({
    review: async (token, audiences) => {
      calls.push({ token, audiences });
      return answer(token);
    },
    now: () => clock.now,
    ...opts,
  });
  return { authn, calls, clock };
}

describe("TokenReviewAuthenticator", () => {
  const token = jwt({ exp: (T0 + 3600_000) / 1000, iss: "forged", sub: "system:serviceaccount:kube-system:admin" });

  it("takes the identity from the TokenReview answer only, never from the token's own claims", async () => {
    const h = harness(() => reviewOf("shop", "cart", "cart-1"));
    const res = await h.authn.authenticate([`Bearer ${token}`], podClaims);
    expect(res).toEqual({
      ok: true,
      caller: {
        namespace: "shop",
        serviceAccount: "cart",
        podName: "cart-1",
        podUid: "uid-cart-1",
        expiresAt: new Date(T0 + 3600_000),
      },
    });
    expect(h.calls).toEqual([{ token, audiences: ["trellis"] }]);
  });

  it("accepts the bare token too (Envoy's generic credential injector sends the file as it is)", async () => {
    const h = harness(() => reviewOf("shop", "cart", "cart-1"));
    expect((await h.authn.authenticate([token], podClaims)).ok).toBe(true);
    expect((await h.authn.authenticate([`bearer   ${token}`], podClaims)).ok).toBe(true);
  });

  it("refuses without asking the API server when there is no token, several, or something that is not a JWT", async () => {
    const h = harness(() => reviewOf("shop", "cart", "cart-1"));
    for (const values of [
      [],
      [token, token],
      ["Bearer"],
      ["Basic dXNlcjpwYXNz"],
      [`Bearer ${"a".repeat(20_000)}.b.c`],
    ]) {
      const res = await h.authn.authenticate(values, podClaims);
      expect(res.ok, JSON.stringify(values).slice(0, 80)).toBe(false);
      expect(res.ok ? "" : res.code).toBe("UNAUTHENTICATED");
    }
    expect(h.calls).toEqual([]);
  });

  it("refuses a token the API server does not authenticate, with a message that says nothing of the token", async () => {
    const h = harness(() => ({ authenticated: false, error: "[invalid bearer token, token has been invalidated]" }));
    const res = await h.authn.authenticate([token], podClaims);
    expect(res).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
    if (res.ok) return;
    expect(res.message).not.toContain(token.slice(0, 20));
    expect(res.message).toMatch(/not accepted by the Kubernetes API server/);
    // The API server's reason is for the control plane's log.
    expect(res.detail).toContain("invalidated");
  });

  it("refuses an answer without our audience, a user that is not a service account, and a token not bound to a pod", async () => {
    const cases: [TokenReviewStatus, RegExp][] = [
      [reviewOf("shop", "cart", "cart-1", { audiences: ["https://kubernetes.default.svc"] }), /audience "trellis"/],
      [reviewOf("shop", "cart", "cart-1", { audiences: undefined }), /audience/],
      [{ ...reviewOf("shop", "cart", "cart-1"), user: { username: "alice", extra: {} } }, /service-account token/],
      [
        { ...reviewOf("shop", "cart", "cart-1"), user: { username: "system:serviceaccount:shop:cart" } },
        /not bound to a pod/,
      ],
      [
        {
          ...reviewOf("shop", "cart", "cart-1"),
          user: {
            username: "system:serviceaccount:shop:cart",
            extra: { [POD_NAME_EXTRA]: ["a", "b"], [POD_UID_EXTRA]: ["u"] },
          },
        },
        /not bound to a pod/,
      ],
    ];
    for (const [answer, message] of cases) {
      const h = harness(() => answer);
      const res = await h.authn.authenticate([token], podClaims);
      expect(res).toMatchObject({ ok: false, code: "UNAUTHENTICATED" });
      expect(res.ok ? "" : res.message).toMatch(message);
    }
  });

  it("refuses (PERMISSION_DENIED) a node that claims another namespace, service account or pod than its token", async () => {
    const h = harness(() => reviewOf("shop", "cart", "cart-1"));
    const cases: [ProxyClaims, RegExp][] = [
      [claims({ NAMESPACE: "bank" }), /NAMESPACE/],
      [claims({ NAMESPACE: "shop", SERVICE_ACCOUNT: "payments" }), /SERVICE_ACCOUNT/],
      [claims({ NAMESPACE: "shop", NAME: "cart-2" }), /NAME/],
      [claims({}, "sidecar~10.0.0.1~cart-1.bank~bank.svc.cluster.local"), /namespace/],
      [claims({ NAMESPACE: "shop" }, "sidecar~10.0.0.1~cart-2.shop~shop.svc.cluster.local"), /pod/],
      [claims({}, "a-plain-node-id"), /claims no namespace/],
    ];
    for (const [c, message] of cases) {
      const res = await h.authn.authenticate([token], c);
      expect(res, JSON.stringify(c)).toMatchObject({ ok: false, code: "PERMISSION_DENIED" });
      expect(res.ok ? "" : res.message).toMatch(message);
    }
    // Claims that agree, however they are made.
    for (const c of [
      podClaims,
      claims({}, "sidecar~10.0.0.1~cart-1.shop~shop.svc.cluster.local"),
      claims({ NAMESPACE: "shop" }, "proxyless-client"),
    ]) {
      expect((await h.authn.authenticate([token], c)).ok, JSON.stringify(c)).toBe(true);
    }
    // One review for all of it: the verdict is cached, the claims are compared every time.
    expect(h.calls).toHaveLength(1);
  });

  it("caches a review until the token expires, at most 5 minutes, keyed by the token's hash", async () => {
    const shortLived = jwt({ exp: (T0 + 120_000) / 1000 });
    const h = harness(() => reviewOf("shop", "cart", "cart-1"));
    await h.authn.authenticate([token], podClaims);
    h.clock.now = T0 + 4 * 60_000;
    await h.authn.authenticate([token], podClaims);
    expect(h.calls).toHaveLength(1);
    h.clock.now = T0 + 5 * 60_000 + 1;
    await h.authn.authenticate([token], podClaims);
    expect(h.calls).toHaveLength(2);

    h.clock.now = T0;
    expect((await h.authn.authenticate([shortLived], podClaims)).ok).toBe(true);
    h.clock.now = T0 + 120_000;
    // Expired now: refused, and without a review.
    const res = await h.authn.authenticate([shortLived], podClaims);
    expect(res).toMatchObject({ ok: false, code: "UNAUTHENTICATED", message: expect.stringMatching(/expired/) });
    expect(h.calls.filter((c) => c.token === shortLived)).toHaveLength(1);
    expect(h.authn.stats().cacheHits).toBeGreaterThan(0);
  });

  it("remembers a refusal for 10 seconds, so a flood of one bad token costs one review", async () => {
    const h = harness(() => ({ authenticated: false }));
    for (let i = 0; i < 20; i++) await h.authn.authenticate([token], podClaims);
    expect(h.calls).toHaveLength(1);
    h.clock.now = T0 + 10_001;
    await h.authn.authenticate([token], podClaims);
    expect(h.calls).toHaveLength(2);
  });

  it("fails closed (UNAVAILABLE) when the TokenReview cannot be made, and asks again next time", async () => {
    let down = true;
    const h = harness(() => {
      if (down) throw new Error("connect ECONNREFUSED 10.0.0.1:443");
      return reviewOf("shop", "cart", "cart-1");
    });
    const res = await h.authn.authenticate([token], podClaims);
    expect(res).toMatchObject({ ok: false, code: "UNAVAILABLE", detail: expect.stringMatching(/ECONNREFUSED/) });
    down = false;
    expect((await h.authn.authenticate([token], podClaims)).ok).toBe(true);
    expect(h.calls).toHaveLength(2);
  });

  it("reviews one token once however many streams present it at the same time", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const h = harness(async () => {
      await gate;
      return reviewOf("shop", "cart", "cart-1");
    });
    const all = Array.from({ length: 50 }, () => h.authn.authenticate([token], podClaims));
    release();
    expect((await Promise.all(all)).every((r) => r.ok)).toBe(true);
    expect(h.calls).toHaveLength(1);
  });

  it("bounds reviews in flight, queues a few more, and refuses beyond the queue (UNAVAILABLE)", async () => {
    let inFlight = 0;
    let most = 0;
    const gates: (() => void)[] = [];
    const h = harness(
      async () => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise<void>((r) => gates.push(r));
        inFlight--;
        return reviewOf("shop", "cart", "cart-1");
      },
      { maxConcurrentReviews: 2, maxQueuedReviews: 3 },
    );
    const tokens = Array.from({ length: 6 }, (_, i) => jwt({ exp: (T0 + 3600_000) / 1000, n: i }));
    const results = tokens.map((t) => h.authn.authenticate([t], podClaims));
    // 2 in flight, 3 queued, the sixth refused at once.
    await expect(results[5]).resolves.toMatchObject({ ok: false, code: "UNAVAILABLE" });
    expect(h.authn.stats()).toMatchObject({ inFlight: 2, queued: 3 });
    while (h.calls.length < 5 || gates.length > 0) {
      gates.shift()?.();
      await new Promise((r) => setTimeout(r, 1));
    }
    const done = await Promise.all(results.slice(0, 5));
    expect(done.every((r) => r.ok)).toBe(true);
    expect(most).toBe(2);
    expect(h.authn.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });
});

describe("claims", () => {
  it("reads pod and namespace from Istio-style node ids (pod names may contain dots, namespaces cannot)", () => {
    expect(istioNodeIdPod("sidecar~10.1.2.3~web.v2-abc.prod~prod.svc.cluster.local")).toEqual({
      pod: "web.v2-abc",
      namespace: "prod",
    });
    expect(istioNodeIdPod("sidecar~10.1.2.3~nodot~x")).toBeUndefined();
    expect(istioNodeIdPod("plain")).toBeUndefined();
    const caller = { namespace: "prod", serviceAccount: "web", podName: "web.v2-abc", podUid: "u" };
    expect(claimsMismatch(caller, claims({}, "sidecar~10.1.2.3~web.v2-abc.prod~prod.svc.cluster.local"))).toBe(
      undefined,
    );
  });
});

describe("kubeTokenReviewer", () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  async function apiServer(handler: (req: IncomingMessage, body: string) => [number, unknown]): Promise<KubeHttp> {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        const [status, out] = handler(req, body);
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(out));
      });
    });
    await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: "c", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: "u", token: "control-plane-token" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    return new KubeHttp(kc, 5_000);
  }

  it("POSTs a TokenReview with the audience and returns its status", async () => {
    let seen: { path?: string; auth?: string; body?: unknown } = {};
    const http = await apiServer((req, body) => {
      seen = { path: req.url, auth: req.headers.authorization, body: JSON.parse(body) };
      return [201, { kind: "TokenReview", status: reviewOf("shop", "cart", "cart-1") }];
    });
    const status = await kubeTokenReviewer(http)("the-token", ["trellis"]);
    expect(status.user?.username).toBe("system:serviceaccount:shop:cart");
    expect(seen).toEqual({
      path: "/apis/authentication.k8s.io/v1/tokenreviews",
      auth: "Bearer control-plane-token",
      body: {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenReview",
        spec: { token: "the-token", audiences: ["trellis"] },
      },
    });
  });

  it("rejects on an API error (forbidden, unavailable), so the authenticator fails closed", async () => {
    const http = await apiServer(() => [403, { kind: "Status", message: "tokenreviews is forbidden" }]);
    await expect(kubeTokenReviewer(http)("t", ["trellis"])).rejects.toThrow(/403 tokenreviews is forbidden/);
    const authn = new TokenReviewAuthenticator({ review: kubeTokenReviewer(http) });
    const res = await authn.authenticate([jwt({ exp: Date.now() / 1000 + 600 })], podClaims);
    expect(res).toMatchObject({ ok: false, code: "UNAVAILABLE" });
  });
});
