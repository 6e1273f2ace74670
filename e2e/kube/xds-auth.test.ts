// Authenticated xDS against a real kube-apiserver: `trellis serve --kube`
// serves xDS over TLS with a certificate from its CA, publishes the root into
// every namespace, and authenticates every RPC with the proxy's projected
// service-account token through the API server's TokenReview.
//
// Tokens are real: minted with the TokenRequest API, bound to real Pod objects,
// for audience "trellis". The expired and short-lived tokens are signed with a
// key this suite adds to kube-apiserver's verification keys
// (--service-account-key-file may be given several times; TokenRequest cannot
// mint one that lives under 10 minutes). They carry the same claims the API
// server itself writes (issuer, audience, bound pod and service account with
// their UIDs), and the API server's own TokenReview is asked to confirm it
// refuses the expired one.
import { execFileSync } from "node:child_process";
import { createPrivateKey, sign, X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { XDS_TOKEN_PATH, XDS_TOKEN_SDS_FILE, XDS_TRUST_SDS_FILE } from "../../src/envoy/bootstrap.js";
import { checkProtoJson } from "../../src/envoy/proto-json.js";
import { CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET } from "../../src/envoy/type-urls.js";
import {
  bearer,
  type ConnectOptions,
  type DecodedResource,
  DeltaClient,
  type DeltaResponse,
  decodeAny,
  rawClient,
  SotwClient,
  type SotwResponse,
} from "../../test/support/ads-client.js";
import { startTrellis, type TrellisProcess } from "../../test/support/trellis-process.js";
import { applyCrds, Objects, until } from "./cluster.js";
import { type KubeconfigCreds, type KubeHarness, kubeRequest, loadKubeconfig, startKube } from "./harness.js";

type Rpc = { service: string; method: string; kind: "sotw" | "delta" | "fetch"; typeUrl?: string };
const RPCS: Rpc[] = [
  {
    service: "envoy.service.discovery.v3.AggregatedDiscoveryService",
    method: "StreamAggregatedResources",
    kind: "sotw",
  },
  {
    service: "envoy.service.discovery.v3.AggregatedDiscoveryService",
    method: "DeltaAggregatedResources",
    kind: "delta",
  },
];
for (const [svc, noun, typeUrl] of [
  ["envoy.service.listener.v3.ListenerDiscoveryService", "Listeners", LISTENER],
  ["envoy.service.route.v3.RouteDiscoveryService", "Routes", ROUTE],
  ["envoy.service.cluster.v3.ClusterDiscoveryService", "Clusters", CLUSTER],
  ["envoy.service.endpoint.v3.EndpointDiscoveryService", "Endpoints", ENDPOINT],
  ["envoy.service.secret.v3.SecretDiscoveryService", "Secrets", SECRET],
] as const) {
  RPCS.push({ service: svc, method: `Stream${noun}`, kind: "sotw", typeUrl });
  RPCS.push({ service: svc, method: `Delta${noun}`, kind: "delta", typeUrl });
  RPCS.push({ service: svc, method: `Fetch${noun}`, kind: "fetch", typeUrl });
}

const ISSUER = "https://kubernetes.default.svc.cluster.local";
const TRUST_DOMAIN = "cluster.local";

describe("authenticated xDS against a real API server", () => {
  const id = Date.now().toString(36);
  const cpNs = `trellis-cp-${id}`;
  const nsA = `xauth-a-${id}`;
  const nsB = `xauth-b-${id}`;
  const serverName = `trellis.${cpNs}.svc`;
  let kube: KubeHarness;
  let creds: KubeconfigCreds;
  let api: Objects;
  let trellis: TrellisProcess;
  let dir: string;
  let forgeKey: ReturnType<typeof createPrivateKey> | undefined;
  let rootPem: string;
  let tls: ConnectOptions;
  const uids: Record<string, string> = {};
  const tokens: Record<string, string> = {};
  const clients: { close(): void }[] = [];

  const pod = (ns: string, name: string, sa: string) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns, labels: { app: sa } },
    spec: {
      serviceAccountName: sa,
      automountServiceAccountToken: false,
      containers: [{ name: "app", image: "example.invalid/app:1" }],
    },
  });

  /** A projected token as the kubelet gets it: TokenRequest bound to the pod. */
  const tokenRequest = async (ns: string, sa: string, podName: string, audiences = ["trellis"]) => {
    const r = await kubeRequest(creds, "POST", `/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: {
        audiences,
        expirationSeconds: 3600,
        boundObjectRef: { kind: "Pod", apiVersion: "v1", name: podName, uid: uids[`${ns}/${podName}`] },
      },
    });
    if (r.status !== 201) throw new Error(`TokenRequest: ${r.status} ${JSON.stringify(r.body)}`);
    return (r.body as { status: { token: string } }).status.token;
  };

  /** A bound token with the API server's own claims, signed by this suite's key (trusted by the API server). */
  const forgedToken = (ns: string, sa: string, podName: string, notBefore: number, expires: number) => {
    if (!forgeKey) throw new Error("no signing key (external cluster)");
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const payload = {
      aud: ["trellis"],
      exp: Math.floor(expires / 1000),
      iat: Math.floor(notBefore / 1000),
      nbf: Math.floor(notBefore / 1000),
      iss: ISSUER,
      jti: `e2e-${Math.random().toString(36).slice(2)}`,
      sub: `system:serviceaccount:${ns}:${sa}`,
      "kubernetes.io": {
        namespace: ns,
        pod: { name: podName, uid: uids[`${ns}/${podName}`] },
        serviceaccount: { name: sa, uid: uids[`${ns}/sa/${sa}`] },
      },
    };
    const signingInput = `${b64({ alg: "RS256", typ: "JWT" })}.${b64(payload)}`;
    return `${signingInput}.${sign("RSA-SHA256", Buffer.from(signingInput), forgeKey).toString("base64url")}`;
  };

  /** The API server's own verdict on a token (what Trellis asks, with the same audience). */
  const tokenReview = async (token: string) => {
    const r = await kubeRequest(creds, "POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenReview",
      spec: { token, audiences: ["trellis"] },
    });
    return (r.body as { status: { authenticated?: boolean; error?: string } }).status;
  };

  const struct = (md: Record<string, string>) =>
    Object.fromEntries(Object.entries(md).map(([k, v]) => [k, { stringValue: v }]));

  /** The node a sidecar of `podName` announces (Istio-style id and metadata, as the injected bootstrap). */
  const sidecarNode = (ns: string, podName: string, sa: string, overrides: Record<string, string> = {}) => ({
    id: `sidecar~10.0.0.9~${overrides.idPod ?? podName}.${overrides.idNs ?? ns}~${ns}.svc.cluster.local`,
    cluster: `${sa}.${ns}`,
    locality: {},
    metadata: {
      fields: struct({
        NAMESPACE: overrides.NAMESPACE ?? ns,
        SERVICE_ACCOUNT: overrides.SERVICE_ACCOUNT ?? sa,
        NAME: overrides.NAME ?? podName,
      }),
    },
  });

  const firstRequest = (rpc: Rpc, node: unknown) => ({
    node,
    type_url: rpc.typeUrl ?? SECRET,
    resource_names: ["default", "ROOTCA"],
    resource_names_subscribe: ["default", "ROOTCA"],
  });

  type Outcome = {
    code: number;
    details: string;
    resources: DecodedResource[];
    version?: string;
  };

  /** One RPC of any kind: the first request (or the fetch), then whatever comes back within `waitMs`. */
  const call = async (
    address: string,
    rpc: Rpc,
    token: string | undefined,
    node: unknown,
    conn: ConnectOptions | undefined,
    waitMs = 3_000,
  ): Promise<Outcome> => {
    const md = bearer(token);
    if (rpc.kind === "fetch") {
      return new Promise((resolve) => {
        const c = rawClient(address, rpc.service, conn);
        c[rpc.method](
          { node, resource_names: ["default", "ROOTCA"] },
          md,
          { deadline: Date.now() + 10_000 },
          (err: grpc.ServiceError | null, res: { version_info?: string; resources?: unknown[] } | undefined) => {
            c.close();
            resolve({
              code: err?.code ?? grpc.status.OK,
              details: err?.details ?? "",
              resources: (res?.resources ?? []).map((a) => {
                const d = decodeAny(a);
                return { name: d.value.name ?? d.value.cluster_name, typeUrl: d.typeUrl, value: d.value };
              }),
              version: res?.version_info,
            });
          },
        );
      });
    }
    const c =
      rpc.kind === "sotw"
        ? new SotwClient(address, rpc.service, rpc.method, md, conn)
        : new DeltaClient(address, rpc.service, rpc.method, md, conn);
    clients.push(c);
    c.send(firstRequest(rpc, node));
    const resources: Outcome["resources"] = [];
    let version: string | undefined;
    try {
      const r = await c.next(waitMs);
      resources.push(...r.resources);
      version = "version_info" in r ? r.version_info : r.system_version_info;
    } catch {
      // Refused (the status says why), or nothing to say within waitMs.
    }
    // Still open (no status): the server accepted the stream.
    const status = c.status;
    c.close();
    return { code: status?.code ?? grpc.status.OK, details: status?.details ?? "", resources, version };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "trellis-xds-auth-"));
    const extraApiServerArgs: string[] = [];
    if (!process.env.KUBECONFIG) {
      const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
      openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", join(dir, "forge.key"));
      openssl("pkey", "-in", join(dir, "forge.key"), "-pubout", "-out", join(dir, "forge.pub"));
      forgeKey = createPrivateKey(readFileSync(join(dir, "forge.key")));
      extraApiServerArgs.push(`--service-account-key-file=${join(dir, "forge.pub")}`);
    }
    kube = await startKube({ extraApiServerArgs });
    creds = loadKubeconfig(kube.kubeconfigPath);
    api = new Objects(creds);
    await applyCrds(creds);
    for (const ns of [cpNs, nsA, nsB]) {
      await api.create("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    }
    for (const [ns, sa] of [
      [nsA, "x"],
      [nsA, "y"],
      [nsB, "z"],
    ] as const) {
      const o = await api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name: sa },
      });
      uids[`${ns}/sa/${sa}`] = (o.metadata as { uid: string }).uid;
    }
    for (const [ns, name, sa] of [
      [nsA, "x-1", "x"],
      [nsA, "x-2", "x"],
      [nsA, "x-gone", "x"],
      [nsA, "y-1", "y"],
      [nsB, "z-1", "z"],
    ] as const) {
      const o = await api.create(`/api/v1/namespaces/${ns}/pods`, pod(ns, name, sa));
      uids[`${ns}/${name}`] = (o.metadata as { uid: string }).uid;
    }
    tokens.x1 = await tokenRequest(nsA, "x", "x-1");
    tokens.x2 = await tokenRequest(nsA, "x", "x-2");
    tokens.z1 = await tokenRequest(nsB, "z", "z-1");
    tokens.gone = await tokenRequest(nsA, "x", "x-gone");
    tokens.otherAudience = await tokenRequest(nsA, "x", "x-1", ["not-trellis"]);
    if (forgeKey) tokens.expired = forgedToken(nsA, "x", "x-1", Date.now() - 2 * 3600_000, Date.now() - 3600_000);

    trellis = await startTrellis("examples/mesh", [
      "--kube",
      "--kubeconfig",
      kube.kubeconfigPath,
      "--namespace",
      cpNs,
      "--pod-name",
      "trellis-xauth",
      "--dev-plaintext-xds",
      "--workload-cert-ttl",
      "10s",
      "--xds-extra-san",
      "trellis.example.test",
    ]);
    // The leader publishes the root into every namespace: the client trusts what it finds there.
    const cm = await until(
      `ConfigMap trellis-ca-root-cert in ${nsA}`,
      async () => api.get(`/api/v1/namespaces/${nsA}/configmaps/trellis-ca-root-cert`),
      30_000,
      200,
    );
    rootPem = (cm.data as Record<string, string>)["root-cert.pem"] ?? "";
    tls = {
      credentials: grpc.credentials.createSsl(Buffer.from(rootPem)),
      channelOptions: { "grpc.ssl_target_name_override": serverName, "grpc.default_authority": serverName },
    };
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await trellis?.stop();
    if (kube?.external && creds) {
      for (const ns of [cpNs, nsA, nsB]) await kubeRequest(creds, "DELETE", `/api/v1/namespaces/${ns}`).catch(() => {});
    }
    await kube?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const tlsAddress = () => trellis.xdsTlsAddress as string;

  it("serves xDS over TLS with a certificate for its service names, chaining to the root published in every namespace", async () => {
    const presented = await new Promise<X509Certificate>((resolve, reject) => {
      const [host, port] = [
        tlsAddress().slice(0, tlsAddress().lastIndexOf(":")),
        Number(tlsAddress().split(":").pop()),
      ];
      const sock = tlsConnect({ host, port, servername: serverName, ALPNProtocols: ["h2"], ca: rootPem }, () => {
        const der = sock.getPeerCertificate(true).raw;
        expect(sock.authorized).toBe(true);
        sock.destroy();
        resolve(new X509Certificate(der));
      });
      sock.on("error", reject);
    });
    expect(presented.subjectAltName?.split(", ").sort()).toEqual(
      [`DNS:${serverName}`, `DNS:${serverName}.cluster.local`, "DNS:trellis.example.test"].sort(),
    );
    expect(presented.checkHost(serverName)).toBe(serverName);
    // Every namespace gets the same root, and the two SDS files the injected Envoy reads.
    for (const ns of [nsA, nsB, "default", cpNs]) {
      const cm = await until(`root ConfigMap in ${ns}`, async () =>
        api.get(`/api/v1/namespaces/${ns}/configmaps/trellis-ca-root-cert`),
      );
      const data = cm.data as Record<string, string>;
      expect(data["root-cert.pem"]).toBe(rootPem);
      for (const file of [XDS_TRUST_SDS_FILE, XDS_TOKEN_SDS_FILE]) {
        const check = checkProtoJson("envoy.service.discovery.v3.DiscoveryResponse", JSON.parse(data[file] ?? "{}"));
        expect(check.ok ? [] : check.errors, file).toEqual([]);
      }
      expect(data[XDS_TOKEN_SDS_FILE]).toContain(XDS_TOKEN_PATH);
    }
  });

  it("serves a valid token for namespace A / service account X exactly X's certificate and the ROOTCA, on every RPC that carries secrets", async () => {
    const serials = new Set<string>();
    for (const rpc of RPCS.filter((r) => r.typeUrl === undefined || r.typeUrl === SECRET)) {
      const out = await call(tlsAddress(), rpc, tokens.x1, sidecarNode(nsA, "x-1", "x"), tls);
      expect(out.code, `${rpc.method}: ${out.details}`).toBe(grpc.status.OK);
      expect(out.resources.map((r) => r.name).sort(), rpc.method).toEqual(["ROOTCA", "default"]);
      const cert = out.resources.find((r) => r.name === "default")?.value;
      const root = out.resources.find((r) => r.name === "ROOTCA")?.value;
      const chain = cert.tls_certificate.certificate_chain.inline_string as string;
      const leaf = new X509Certificate(chain);
      expect(leaf.subjectAltName).toBe(`URI:spiffe://${TRUST_DOMAIN}/ns/${nsA}/sa/x`);
      expect(root.validation_context.trusted_ca.inline_string).toBe(rootPem);
      expect(leaf.verify(new X509Certificate(rootPem).publicKey)).toBe(true);
      expect(leaf.checkPrivateKey(createPrivateKey(cert.tls_certificate.private_key.inline_string))).toBe(true);
      serials.add(leaf.serialNumber);
    }
    // openssl agrees: the chain verifies against the root, and the SAN is the one SPIFFE ID.
    const leafPem = (
      await call(tlsAddress(), RPCS[0] as Rpc, tokens.x1, sidecarNode(nsA, "x-1", "x"), tls)
    ).resources.find((r) => r.name === "default")?.value.tls_certificate.certificate_chain.inline_string as string;
    writeFileSync(join(dir, "root.pem"), rootPem);
    writeFileSync(join(dir, "leaf.pem"), leafPem);
    expect(
      execFileSync("openssl", ["verify", "-CAfile", join(dir, "root.pem"), join(dir, "leaf.pem")], {
        encoding: "utf8",
      }),
    ).toMatch(/: OK/);
    const text = execFileSync("openssl", ["x509", "-in", join(dir, "leaf.pem"), "-noout", "-ext", "subjectAltName"], {
      encoding: "utf8",
    });
    expect(text).toContain(`URI:spiffe://${TRUST_DOMAIN}/ns/${nsA}/sa/x`);

    // Another pod of the same service account shares the identity (and, within its lifetime, the certificate);
    // a workload of another namespace gets its own, never X's.
    const other = await call(tlsAddress(), RPCS[0] as Rpc, tokens.x2, sidecarNode(nsA, "x-2", "x"), tls);
    expect(
      new X509Certificate(
        other.resources.find((r) => r.name === "default")?.value.tls_certificate.certificate_chain.inline_string,
      ).subjectAltName,
    ).toBe(`URI:spiffe://${TRUST_DOMAIN}/ns/${nsA}/sa/x`);
    const z = await call(tlsAddress(), RPCS[1] as Rpc, tokens.z1, sidecarNode(nsB, "z-1", "z"), tls);
    const zLeaf = new X509Certificate(
      z.resources.find((r) => r.name === "default")?.value.tls_certificate.certificate_chain.inline_string,
    );
    expect(zLeaf.subjectAltName).toBe(`URI:spiffe://${TRUST_DOMAIN}/ns/${nsB}/sa/z`);
    expect(serials.has(zLeaf.serialNumber)).toBe(false);
  });

  it("refuses, on every xDS RPC, a token for another pod, an expired token, a deleted pod's token, a wrong audience, no token, and claims that differ from the token", async () => {
    // The pod is gone: the API server no longer accepts its bound token.
    await api.delete(`/api/v1/namespaces/${nsA}/pods/x-gone`);
    await until("the deleted pod's token is refused by the API server", async () => {
      const r = await tokenReview(tokens.gone as string);
      return r.authenticated !== true;
    });
    if (tokens.expired) {
      const verdict = await tokenReview(tokens.expired);
      expect(verdict.authenticated ?? false).toBe(false);
      expect(verdict.error).toMatch(/expired/);
    }
    const cases: [string, string | undefined, unknown, number][] = [
      ["a token for another pod", tokens.x2, sidecarNode(nsA, "x-1", "x"), grpc.status.PERMISSION_DENIED],
      ["a deleted pod's token", tokens.gone, sidecarNode(nsA, "x-gone", "x"), grpc.status.UNAUTHENTICATED],
      ["a token for another audience", tokens.otherAudience, sidecarNode(nsA, "x-1", "x"), grpc.status.UNAUTHENTICATED],
      ["no token", undefined, sidecarNode(nsA, "x-1", "x"), grpc.status.UNAUTHENTICATED],
      [
        "a claimed namespace other than the token's",
        tokens.x1,
        sidecarNode(nsA, "x-1", "x", { NAMESPACE: nsB, idNs: nsB }),
        grpc.status.PERMISSION_DENIED,
      ],
      [
        "a claimed service account other than the token's",
        tokens.x1,
        sidecarNode(nsA, "x-1", "x", { SERVICE_ACCOUNT: "y" }),
        grpc.status.PERMISSION_DENIED,
      ],
    ];
    if (tokens.expired) {
      cases.push(["an expired token", tokens.expired, sidecarNode(nsA, "x-1", "x"), grpc.status.UNAUTHENTICATED]);
    }
    const refused: string[] = [];
    for (const [what, token, node, code] of cases) {
      for (const rpc of RPCS) {
        const out = await call(tlsAddress(), rpc, token, node, tls);
        expect(out.resources, `${what} on ${rpc.method}`).toEqual([]);
        expect(out.code, `${what} on ${rpc.method}: ${out.details}`).toBe(code);
        refused.push(`${what}: ${rpc.method}`);
      }
    }
    expect(refused).toHaveLength(cases.length * 17);
    // And the token itself is fine: the same RPCs with the right claims succeed.
    const ok = await call(tlsAddress(), RPCS[2] as Rpc, tokens.x1, sidecarNode(nsA, "x-1", "x"), tls);
    expect(ok.code).toBe(grpc.status.OK);
  });

  it("never serves secrets on the plaintext development port, even with a valid token", async () => {
    for (const rpc of RPCS.filter((r) => r.typeUrl === undefined || r.typeUrl === SECRET)) {
      const out = await call(trellis.xdsAddress, rpc, tokens.x1, sidecarNode(nsA, "x-1", "x"), undefined, 1_000);
      expect(out.resources, rpc.method).toEqual([]);
      if (rpc.kind === "fetch") expect(out.code).toBe(grpc.status.PERMISSION_DENIED);
    }
    // It does serve the rest of the configuration (anonymously).
    const cds = await call(
      trellis.xdsAddress,
      {
        service: "envoy.service.cluster.v3.ClusterDiscoveryService",
        method: "FetchClusters",
        kind: "fetch",
        typeUrl: CLUSTER,
      },
      undefined,
      sidecarNode(nsA, "x-1", "x"),
      undefined,
    );
    expect(cds.code).toBe(grpc.status.OK);
  });

  it("pushes a renewed certificate (new serial, new version) on a live stream before the current one expires (10 s TTL)", async () => {
    for (const kind of ["sotw", "delta"] as const) {
      const rpc = RPCS.find((r) => r.typeUrl === SECRET && r.kind === kind) as Rpc;
      const md = bearer(tokens.z1);
      const c =
        kind === "sotw"
          ? new SotwClient(tlsAddress(), rpc.service, rpc.method, md, tls)
          : new DeltaClient(tlsAddress(), rpc.service, rpc.method, md, tls);
      clients.push(c);
      c.send(firstRequest(rpc, sidecarNode(nsB, "z-1", "z")));
      const leafOf = (r: { resources: DecodedResource[] }) => {
        const pem = r.resources.find((x) => x.name === "default")?.value.tls_certificate.certificate_chain
          .inline_string;
        return pem ? new X509Certificate(pem) : undefined;
      };
      const versionOf = (r: SotwResponse | DeltaResponse) =>
        "version_info" in r ? r.version_info : r.resources.find((x) => x.name === "default")?.version;
      let r = await c.next(10_000);
      const first = leafOf(r) as X509Certificate;
      const firstVersion = versionOf(r);
      const notAfter = Date.parse(first.validTo);
      expect(notAfter - Date.now()).toBeLessThanOrEqual(10_000);
      for (;;) {
        // ACK, then wait for the renewal.
        if (kind === "sotw") {
          c.send({
            type_url: SECRET,
            resource_names: ["default", "ROOTCA"],
            version_info: (r as { version_info: string }).version_info,
            response_nonce: r.nonce,
          });
        } else {
          c.send({ type_url: SECRET, response_nonce: r.nonce });
        }
        r = await c.next(12_000);
        const leaf = leafOf(r);
        if (leaf && leaf.serialNumber !== first.serialNumber) {
          expect(Date.now()).toBeLessThan(notAfter);
          expect(versionOf(r)).not.toBe(firstVersion);
          expect(leaf.subjectAltName).toBe(`URI:spiffe://${TRUST_DOMAIN}/ns/${nsB}/sa/z`);
          expect(leaf.verify(new X509Certificate(rootPem).publicKey)).toBe(true);
          break;
        }
      }
      c.close();
    }
  });

  it.skipIf(Boolean(process.env.KUBECONFIG))(
    "ends a stream when the token it authenticated with expires, and refuses that token afterwards",
    async () => {
      const token = forgedToken(nsA, "y", "y-1", Date.now() - 10_000, Date.now() + 6_000);
      expect((await tokenReview(token)).authenticated).toBe(true);
      const c = new SotwClient(tlsAddress(), undefined, undefined, bearer(token), tls);
      clients.push(c);
      c.send(firstRequest(RPCS[0] as Rpc, sidecarNode(nsA, "y-1", "y")));
      const r = await c.next(5_000);
      expect(r.resources.map((x) => x.name).sort()).toEqual(["ROOTCA", "default"]);
      c.send({
        type_url: SECRET,
        resource_names: ["default", "ROOTCA"],
        version_info: r.version_info,
        response_nonce: r.nonce,
      });
      // The certificate renews every few seconds here; the stream must end by the token's expiry.
      const ended = await until("the stream ends", async () => c.status, 15_000, 100);
      expect(ended.code).toBe(grpc.status.OK);
      const again = await call(tlsAddress(), RPCS[0] as Rpc, token, sidecarNode(nsA, "y-1", "y"), tls);
      expect(again.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(again.details).toMatch(/expired/);
    },
  );
});
