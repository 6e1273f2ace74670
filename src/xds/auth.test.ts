// The server's side of authenticated xDS: every RPC kind is refused without
// any response when the authenticator says no; secrets only ever go to an
// authenticated workload over TLS; streams end at the credential's expiry or
// their maximum age; the TLS certificate can be replaced while serving.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import pino from "pino";
import client from "prom-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  bearer,
  type ConnectOptions,
  DeltaClient,
  decodeAny,
  node,
  rawClient,
  SotwClient,
} from "../../test/support/ads-client.js";
import { cluster, makeView } from "../../test/support/views.js";
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET } from "../envoy/type-urls.js";
import { POD_NAME_EXTRA, POD_UID_EXTRA, TokenReviewAuthenticator } from "../security/authn/token-review.js";
import { type Authenticator, acceptAll, type CallerIdentity, workloadAuthenticator } from "./auth.js";
import { XdsMetrics } from "./metrics.js";
import { encodeResource } from "./resource.js";
import { XdsServer, type XdsServerOptions } from "./server.js";
import type { ProxyView } from "./stream.js";
import { RotatingServerCredentials } from "./tls.js";

const STREAMING: [string, string, "sotw" | "delta", string | undefined][] = [
  ["envoy.service.discovery.v3.AggregatedDiscoveryService", "StreamAggregatedResources", "sotw", undefined],
  ["envoy.service.discovery.v3.AggregatedDiscoveryService", "DeltaAggregatedResources", "delta", undefined],
  ["envoy.service.listener.v3.ListenerDiscoveryService", "StreamListeners", "sotw", LISTENER],
  ["envoy.service.listener.v3.ListenerDiscoveryService", "DeltaListeners", "delta", LISTENER],
  ["envoy.service.route.v3.RouteDiscoveryService", "StreamRoutes", "sotw", ROUTE],
  ["envoy.service.route.v3.RouteDiscoveryService", "DeltaRoutes", "delta", ROUTE],
  ["envoy.service.cluster.v3.ClusterDiscoveryService", "StreamClusters", "sotw", CLUSTER],
  ["envoy.service.cluster.v3.ClusterDiscoveryService", "DeltaClusters", "delta", CLUSTER],
  ["envoy.service.endpoint.v3.EndpointDiscoveryService", "StreamEndpoints", "sotw", ENDPOINT],
  ["envoy.service.endpoint.v3.EndpointDiscoveryService", "DeltaEndpoints", "delta", ENDPOINT],
  ["envoy.service.secret.v3.SecretDiscoveryService", "StreamSecrets", "sotw", SECRET],
  ["envoy.service.secret.v3.SecretDiscoveryService", "DeltaSecrets", "delta", SECRET],
];
const FETCH: [string, string, string][] = [
  ["envoy.service.listener.v3.ListenerDiscoveryService", "FetchListeners", LISTENER],
  ["envoy.service.route.v3.RouteDiscoveryService", "FetchRoutes", ROUTE],
  ["envoy.service.cluster.v3.ClusterDiscoveryService", "FetchClusters", CLUSTER],
  ["envoy.service.endpoint.v3.EndpointDiscoveryService", "FetchEndpoints", ENDPOINT],
  ["envoy.service.secret.v3.SecretDiscoveryService", "FetchSecrets", SECRET],
];

const secretOf = (name: string) => {
  const enc = encodeResource(SECRET, name, { name, validation_context: { trusted_ca: { inline_string: "PEM" } } });
  if (!enc.ok) throw new Error(enc.error);
  return enc.value;
};

/** A view with a cluster and, for workloads, a secret named after the identity. */
function viewFor(identity: CallerIdentity): ProxyView {
  const base = makeView({ clusters: [cluster("c")] }) as Map<string, Map<string, ReturnType<typeof secretOf>>>;
  const name = identity.kind === "workload" ? `${identity.namespace}/${identity.serviceAccount}` : "anonymous";
  base.set(SECRET, new Map([[name, secretOf(name)]]));
  return base;
}

let dir: string;
let pki: { cert: string; key: string; cert2: string; key2: string };
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "trellis-xds-tls-"));
  const issue = (n: string) => {
    execFileSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-subj",
      `/CN=trellis-${n}`,
      "-addext",
      "subjectAltName=DNS:trellis.test.svc",
      "-days",
      "1",
      "-keyout",
      join(dir, `${n}.key`),
      "-out",
      join(dir, `${n}.crt`),
    ]);
    return { cert: readFileSync(join(dir, `${n}.crt`), "utf8"), key: readFileSync(join(dir, `${n}.key`), "utf8") };
  };
  const a = issue("a");
  const b = issue("b");
  pki = { cert: a.cert, key: a.key, cert2: b.cert, key2: b.key };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const servers: XdsServer[] = [];
const clients: { close(): void }[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.shutdown(500);
});

function server(opts: Partial<XdsServerOptions> = {}): XdsServer {
  const s = new XdsServer({
    authenticate: acceptAll,
    generate: (_node, identity) => viewFor(identity),
    metrics: new XdsMetrics(new client.Registry()),
    logger: pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" }),
    ...opts,
  });
  servers.push(s);
  return s;
}

function tlsConn(rootPem = pki.cert + pki.cert2): ConnectOptions {
  return {
    credentials: grpc.credentials.createSsl(Buffer.from(rootPem)),
    channelOptions: {
      "grpc.ssl_target_name_override": "trellis.test.svc",
      "grpc.default_authority": "trellis.test.svc",
    },
  };
}

function stream(address: string, rpc: (typeof STREAMING)[number], md?: grpc.Metadata, conn?: ConnectOptions) {
  const [service, method, kind] = rpc;
  const c =
    kind === "sotw"
      ? new SotwClient(address, service, method, md, conn)
      : new DeltaClient(address, service, method, md, conn);
  clients.push(c);
  return c;
}

function first(rpc: (typeof STREAMING)[number], id: string, md: Record<string, unknown> = {}) {
  const [service, , , typeUrl] = rpc;
  return {
    node: node(id, { metadata: { fields: toStruct(md) } }),
    type_url: service.includes("Aggregated") ? SECRET : typeUrl,
    resource_names: ["shop/cart", "anonymous"],
    resource_names_subscribe: ["shop/cart", "anonymous"],
  };
}

function toStruct(md: Record<string, unknown>) {
  return Object.fromEntries(Object.entries(md).map(([k, v]) => [k, { stringValue: String(v) }]));
}

function fetch(
  address: string,
  service: string,
  method: string,
  md: grpc.Metadata,
  conn?: ConnectOptions,
  names = ["shop/cart"],
) {
  return new Promise<{ err: grpc.ServiceError | null; res: { resources?: unknown[] } | undefined }>((resolve) => {
    const c = rawClient(address, service, conn);
    c[method](
      { node: node("fetcher", { metadata: { fields: toStruct({ NAMESPACE: "shop" }) } }), resource_names: names },
      md,
      (err: grpc.ServiceError | null, res: { resources?: unknown[] }) => {
        c.close();
        resolve({ err, res });
      },
    );
  });
}

/** A TokenReview authenticator whose review knows one token: `good`, for pod shop/cart-1 (SA cart). */
function tokenAuthenticator(): { authenticate: Authenticator; reviews: () => number } {
  const authn = new TokenReviewAuthenticator({
    review: async (token) =>
      token === GOOD
        ? {
            authenticated: true,
            audiences: ["trellis"],
            user: {
              username: "system:serviceaccount:shop:cart",
              extra: { [POD_NAME_EXTRA]: ["cart-1"], [POD_UID_EXTRA]: ["u1"] },
            },
          }
        : { authenticated: false, error: "invalid bearer token" },
  });
  return { authenticate: workloadAuthenticator(authn), reviews: () => authn.stats().reviews };
}
const jwt = (n: string) =>
  `${Buffer.from('{"alg":"RS256"}').toString("base64url")}.${Buffer.from(JSON.stringify({ n, exp: Date.now() / 1000 + 3600 })).toString("base64url")}.sig`;
const GOOD = jwt("good");
const BAD = jwt("bad");

describe("authenticated xDS: refusals", () => {
  it("answers a refused caller on every streaming RPC with an error status and no response at all", async () => {
    const s = server(tokenAuthenticator());
    const port = await s.listen(
      "127.0.0.1:0",
      new RotatingServerCredentials({ certificateChainPem: pki.cert, privateKeyPem: pki.key }),
    );
    for (const rpc of STREAMING) {
      for (const [md, code] of [
        [new grpc.Metadata(), grpc.status.UNAUTHENTICATED],
        [bearer(BAD), grpc.status.UNAUTHENTICATED],
        [bearer(GOOD), grpc.status.PERMISSION_DENIED], // the node claims namespace bank
      ] as const) {
        const c = stream(`127.0.0.1:${port}`, rpc, md, tlsConn());
        c.send(first(rpc, `${rpc[1]}-client`, { NAMESPACE: "bank" }));
        await expect(c.next(5_000)).rejects.toThrow();
        expect(c.received, rpc[1]).toEqual([]);
        expect(c.status?.code, rpc[1]).toBe(code);
        if (code === grpc.status.PERMISSION_DENIED) expect(c.status?.details).toMatch(/NAMESPACE differs/);
      }
    }
    expect(s.connectionCount).toBe(0);
  });

  it("answers a refused caller on every unary Fetch RPC with an error and no resources", async () => {
    const s = server(tokenAuthenticator());
    const port = await s.listen(
      "127.0.0.1:0",
      new RotatingServerCredentials({ certificateChainPem: pki.cert, privateKeyPem: pki.key }),
    );
    for (const [service, method] of FETCH) {
      for (const md of [new grpc.Metadata(), bearer(BAD)]) {
        const r = await fetch(`127.0.0.1:${port}`, service, method, md, tlsConn());
        expect(r.err?.code, method).toBe(grpc.status.UNAUTHENTICATED);
        expect(r.res, method).toBeUndefined();
      }
      const ok = await fetch(`127.0.0.1:${port}`, service, method, bearer(GOOD), tlsConn());
      expect(ok.err, method).toBe(null);
    }
  });
});

describe("authenticated xDS: secrets", () => {
  it("serves an authenticated workload its secrets over TLS, on ADS and on SDS, SotW, Delta and Fetch", async () => {
    const s = server(tokenAuthenticator());
    const port = await s.listen(
      "127.0.0.1:0",
      new RotatingServerCredentials({ certificateChainPem: pki.cert, privateKeyPem: pki.key }),
    );
    for (const rpc of STREAMING.filter(([svc]) => svc.includes("Aggregated") || svc.includes("Secret"))) {
      const c = stream(`127.0.0.1:${port}`, rpc, bearer(GOOD), tlsConn());
      c.send(first(rpc, `${rpc[1]}-ok`, { NAMESPACE: "shop", SERVICE_ACCOUNT: "cart", NAME: "cart-1" }));
      const r = await c.next(5_000);
      expect(
        r.resources.map((x) => x.name),
        rpc[1],
      ).toEqual(["shop/cart"]);
    }
    const f = await fetch(
      `127.0.0.1:${port}`,
      "envoy.service.secret.v3.SecretDiscoveryService",
      "FetchSecrets",
      bearer(GOOD),
      tlsConn(),
    );
    expect((f.res?.resources ?? []).map((a) => decodeAny(a).value.name)).toEqual(["shop/cart"]);
  });

  it("never serves a secret on a plaintext listener, even to a caller its authenticator accepts as a workload", async () => {
    const s = server(tokenAuthenticator());
    const port = await s.listen("127.0.0.1:0");
    for (const rpc of STREAMING.filter(([svc]) => svc.includes("Aggregated") || svc.includes("Secret"))) {
      const c = stream(`127.0.0.1:${port}`, rpc, bearer(GOOD));
      c.send(first(rpc, `${rpc[1]}-plain`, { NAMESPACE: "shop" }));
      await c.quiet(400);
      // SotW says nothing; Delta says the names do not exist (removed_resources). Never a secret.
      expect(
        c.received.flatMap((r) => r.resources),
        rpc[1],
      ).toEqual([]);
    }
    const f = await fetch(
      `127.0.0.1:${port}`,
      "envoy.service.secret.v3.SecretDiscoveryService",
      "FetchSecrets",
      bearer(GOOD),
    );
    expect(f.err?.code).toBe(grpc.status.PERMISSION_DENIED);
    // The rest of the configuration is served there as before.
    const c = new SotwClient(`127.0.0.1:${port}`, undefined, undefined, bearer(GOOD));
    clients.push(c);
    c.send({ node: node("plain", { metadata: { fields: toStruct({ NAMESPACE: "shop" }) } }), type_url: CLUSTER });
    expect((await c.next()).resources.map((r) => r.name)).toEqual(["c"]);
  });

  it("never serves a secret to an anonymous caller, on any listener", async () => {
    const s = server();
    const tls = await s.listen(
      "127.0.0.1:0",
      new RotatingServerCredentials({ certificateChainPem: pki.cert, privateKeyPem: pki.key }),
    );
    const c = stream(`127.0.0.1:${tls}`, STREAMING[10] as (typeof STREAMING)[number], undefined, tlsConn());
    c.send(first(STREAMING[10] as (typeof STREAMING)[number], "anon"));
    expect(await c.quiet(400)).toBe(true);
    const d = stream(`127.0.0.1:${tls}`, STREAMING[1] as (typeof STREAMING)[number], undefined, tlsConn());
    d.send(first(STREAMING[1] as (typeof STREAMING)[number], "anon-delta"));
    await d.quiet(400);
    expect(d.received.flatMap((r) => r.resources)).toEqual([]);
  });

  it("hands the generator the authenticated identity and prepares it before the first response", async () => {
    const events: string[] = [];
    const s = server({
      ...tokenAuthenticator(),
      onConnect: async (identity) => {
        events.push(`connect ${identity.kind === "workload" ? identity.podName : "-"}`);
        await new Promise((r) => setTimeout(r, 50));
        return () => events.push("release");
      },
      generate: (n, identity) => {
        events.push(
          `generate ${n.id} ${identity.kind === "workload" ? `${identity.namespace}/${identity.serviceAccount}` : "-"}`,
        );
        return viewFor(identity);
      },
    });
    const port = await s.listen(
      "127.0.0.1:0",
      new RotatingServerCredentials({ certificateChainPem: pki.cert, privateKeyPem: pki.key }),
    );
    const rpc = STREAMING[0] as (typeof STREAMING)[number];
    const c = stream(`127.0.0.1:${port}`, rpc, bearer(GOOD), tlsConn());
    c.send(first(rpc, "p1", { NAMESPACE: "shop" }));
    await c.next(5_000);
    expect(events.slice(0, 2)).toEqual(["connect cart-1", "generate p1 shop/cart"]);
    c.close();
    await expect.poll(() => events.includes("release")).toBe(true);
  });

  it("pushes only to the streams of the identity whose secrets changed", async () => {
    let generation = 0;
    const s = server({
      authenticate: async (req) => ({
        ok: true,
        identity: {
          kind: "workload",
          namespace: "shop",
          serviceAccount: String(req.node.metadata.SA),
          podName: req.node.id,
        },
      }),
      generate: (_n, identity) => {
        const v = viewFor(identity) as Map<string, Map<string, ReturnType<typeof secretOf>>>;
        if (identity.kind === "workload" && identity.serviceAccount === "cart") {
          const name = "shop/cart";
          v.set(SECRET, new Map([[name, secretOf(`${name}`)]]));
          const enc = encodeResource(SECRET, name, {
            name,
            validation_context: { trusted_ca: { inline_string: `PEM-${generation}` } },
          });
          if (enc.ok) v.set(SECRET, new Map([[name, enc.value]]));
        }
        return v;
      },
    });
    const port = await s.listen(
      "127.0.0.1:0",
      new RotatingServerCredentials({ certificateChainPem: pki.cert, privateKeyPem: pki.key }),
    );
    const open = (sa: string) => {
      const c = new SotwClient(`127.0.0.1:${port}`, undefined, undefined, undefined, tlsConn());
      clients.push(c);
      c.send({
        node: node(`${sa}-pod`, { metadata: { fields: toStruct({ SA: sa }) } }),
        type_url: SECRET,
        resource_names: [`shop/${sa}`],
      });
      return c;
    };
    const cart = open("cart");
    const pay = open("payments");
    const a = await cart.next(5_000);
    const b = await pay.next(5_000);
    cart.send({
      type_url: SECRET,
      resource_names: ["shop/cart"],
      version_info: a.version_info,
      response_nonce: a.nonce,
    });
    pay.send({
      type_url: SECRET,
      resource_names: ["shop/payments"],
      version_info: b.version_info,
      response_nonce: b.nonce,
    });
    generation++;
    let refreshed = 0;
    s.pushWhere((id) => {
      const match = id.kind === "workload" && id.serviceAccount === "cart";
      if (match) refreshed++;
      return match;
    });
    const again = await cart.next(5_000);
    expect(again.version_info).not.toBe(a.version_info);
    expect(again.resources[0]?.value.validation_context.trusted_ca.inline_string).toBe("PEM-1");
    expect(await pay.quiet(300)).toBe(true);
    expect(refreshed).toBe(1);
  });
});

describe("authenticated xDS: stream lifetime", () => {
  it("ends a stream cleanly when the caller's credential expires, so the proxy reconnects and re-authenticates", async () => {
    const s = server({
      authenticate: async () => ({
        ok: true,
        identity: {
          kind: "workload",
          namespace: "shop",
          serviceAccount: "cart",
          podName: "p",
          expiresAt: new Date(Date.now() + 400),
        },
      }),
    });
    const port = await s.listen("127.0.0.1:0");
    const c = new SotwClient(`127.0.0.1:${port}`);
    clients.push(c);
    const started = Date.now();
    c.send({ node: node("expiring"), type_url: CLUSTER });
    await c.next();
    await expect(c.next(5_000)).rejects.toThrow(/stream ended|Call cancelled|OK/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    await expect.poll(() => c.status?.code).toBe(grpc.status.OK);
    expect(s.connectionCount).toBe(0);
  });

  it("ends a stream after its maximum age (jittered down by at most 10 %)", async () => {
    const s = server({ maxStreamAgeMs: 600 });
    const port = await s.listen("127.0.0.1:0");
    const c = new SotwClient(`127.0.0.1:${port}`);
    clients.push(c);
    const started = Date.now();
    c.send({ node: node("old"), type_url: CLUSTER });
    await c.next();
    await expect(c.next(5_000)).rejects.toThrow();
    const age = Date.now() - started;
    expect(age).toBeGreaterThanOrEqual(530);
    expect(age).toBeLessThan(3_000);
    await expect.poll(() => c.status?.code).toBe(grpc.status.OK);
  });
});

describe("xDS over TLS", () => {
  it("serves a replaced certificate on new connections without restarting", async () => {
    const creds = new RotatingServerCredentials({ certificateChainPem: pki.cert, privateKeyPem: pki.key });
    const s = server();
    const port = await s.listen("127.0.0.1:0", creds);
    const presented = () =>
      new Promise<string>((resolve, reject) => {
        const sock = tlsConnect(
          { host: "127.0.0.1", port, servername: "trellis.test.svc", ALPNProtocols: ["h2"], rejectUnauthorized: false },
          () => {
            const cn = sock.getPeerCertificate().subject.CN;
            sock.destroy();
            resolve(String(cn));
          },
        );
        sock.on("error", reject);
      });
    expect(await presented()).toBe("trellis-a");
    creds.update({ certificateChainPem: pki.cert2, privateKeyPem: pki.key2 });
    expect(await presented()).toBe("trellis-b");
    // And gRPC clients that trust it still get their configuration.
    const c = new SotwClient(`127.0.0.1:${port}`, undefined, undefined, undefined, tlsConn(pki.cert2));
    clients.push(c);
    c.send({ node: node("tls"), type_url: CLUSTER });
    expect((await c.next()).resources.map((r) => r.name)).toEqual(["c"]);
  });

  it("refuses a plaintext client on the TLS port", async () => {
    const s = server();
    const port = await s.listen(
      "127.0.0.1:0",
      new RotatingServerCredentials({ certificateChainPem: pki.cert, privateKeyPem: pki.key }),
    );
    const c = new SotwClient(`127.0.0.1:${port}`);
    clients.push(c);
    c.send({ node: node("plain"), type_url: CLUSTER });
    await expect(c.next(5_000)).rejects.toThrow();
    expect(c.received).toEqual([]);
  });
});
