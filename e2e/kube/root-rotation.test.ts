// Three-phase root rotation against a real kube-apiserver, with a live stream:
// `trellis serve --kube` serves SDS over TLS to a proxy authenticated with a
// real projected token, and the operator runs `trellis ca rotate-root --phase
// publish|switch|retire` (a separate process, writing the CA Secret). The
// server follows the Secret and, on the SAME ADS stream that stays open
// throughout, pushes the two-root bundle, then a leaf of the new root, then the
// bundle without the old root. At every step the leaf the proxy holds verifies
// against the bundle it holds (node:crypto and openssl), which is what keeps
// live connections working.
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SECRET } from "../../src/envoy/type-urls.js";
import { splitPemCertificates } from "../../src/security/ca/index.js";
import { bearer, type ConnectOptions, SotwClient, type SotwResponse } from "../../test/support/ads-client.js";
import { runTrellis, startTrellis, type TrellisProcess } from "../../test/support/trellis-process.js";
import { applyCrds, Objects, until } from "./cluster.js";
import { type KubeconfigCreds, type KubeHarness, kubeRequest, loadKubeconfig, startKube } from "./harness.js";

const TRUST_DOMAIN = "cluster.local";

describe("root rotation on a live stream against a real API server", () => {
  const id = Date.now().toString(36);
  const cpNs = `trellis-rot-${id}`;
  const ns = `rot-a-${id}`;
  const serverName = `trellis.${cpNs}.svc`;
  const proxyId = `sidecar~10.0.0.9~w-1.${ns}~${ns}.svc.cluster.local`;
  let kube: KubeHarness;
  let creds: KubeconfigCreds;
  let api: Objects;
  let trellis: TrellisProcess;
  let dir: string;
  let oldRootPem: string;
  let tls: ConnectOptions;
  let stream: SotwClient;
  /** What the proxy holds now: the latest `default` leaf and `ROOTCA` bundle pushed on the stream. */
  const held: { leafPem?: string; bundlePem?: string; responses: number } = { responses: 0 };

  const rootsOf = (bundlePem: string) => splitPemCertificates(bundlePem).map((p) => new X509Certificate(p));
  const leaf = () => new X509Certificate(held.leafPem as string);

  /** The leaf verifies (signature and issuer) against one of the bundle's roots, per node:crypto and openssl. */
  const chainsTo = (leafPem: string, bundlePem: string): X509Certificate | undefined => {
    const l = new X509Certificate(leafPem);
    const issuer = rootsOf(bundlePem).find((r) => l.checkIssued(r) && l.verify(r.publicKey));
    if (!issuer) return undefined;
    writeFileSync(join(dir, "bundle.pem"), bundlePem);
    writeFileSync(join(dir, "leaf.pem"), leafPem);
    const out = execFileSync("openssl", ["verify", "-CAfile", join(dir, "bundle.pem"), join(dir, "leaf.pem")], {
      encoding: "utf8",
    });
    return /: OK/.test(out) ? issuer : undefined;
  };

  /** Reads (and ACKs) responses on the one stream until `done` holds for what the proxy holds. */
  const pump = async (what: string, done: () => boolean, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what} on the live stream`);
      let r: SotwResponse;
      try {
        r = await stream.next(Math.min(left, 5_000));
      } catch (err) {
        if (stream.status) throw new Error(`the stream ended: ${stream.status.code} ${stream.status.details}`);
        if (Date.now() < deadline) continue;
        throw err;
      }
      held.responses++;
      for (const res of r.resources) {
        if (res.name === "default") held.leafPem = res.value.tls_certificate.certificate_chain.inline_string;
        if (res.name === "ROOTCA") held.bundlePem = res.value.validation_context.trusted_ca.inline_string;
      }
      stream.send({
        type_url: SECRET,
        resource_names: ["default", "ROOTCA"],
        version_info: r.version_info,
        response_nonce: r.nonce,
      });
    }
  };

  const rotate = async (phase: string) => {
    const r = await runTrellis([
      "ca",
      "rotate-root",
      "--phase",
      phase,
      "--kubeconfig",
      kube.kubeconfigPath,
      "--namespace",
      cpNs,
    ]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };

  /** `root-cert.pem` of the root ConfigMap in the workload's namespace; undefined until it exists. */
  const configMapRoots = async (): Promise<string | undefined> => {
    const cm = await api.get(`/api/v1/namespaces/${ns}/configmaps/trellis-ca-root-cert`);
    return (cm?.data as Record<string, string> | undefined)?.["root-cert.pem"] || undefined;
  };

  /** The stream is the one opened at the start: no status, one connect and no close logged for this proxy. */
  const sameStream = () => {
    expect(stream.status).toBeUndefined();
    const mine = trellis.logs.filter((l) => l.proxy === proxyId);
    expect(mine.filter((l) => l.msg === "xds stream connected")).toHaveLength(1);
    expect(mine.filter((l) => l.msg === "xds stream closed")).toHaveLength(0);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "trellis-root-rotation-"));
    kube = await startKube();
    creds = loadKubeconfig(kube.kubeconfigPath);
    api = new Objects(creds);
    await applyCrds(creds);
    for (const n of [cpNs, ns]) {
      await api.create("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: n } });
    }
    await api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "w" },
    });
    const pod = await api.create(`/api/v1/namespaces/${ns}/pods`, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "w-1", namespace: ns, labels: { app: "w" } },
      spec: {
        serviceAccountName: "w",
        automountServiceAccountToken: false,
        containers: [{ name: "app", image: "example.invalid/app:1" }],
      },
    });
    const tr = await kubeRequest(creds, "POST", `/api/v1/namespaces/${ns}/serviceaccounts/w/token`, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: {
        audiences: ["trellis"],
        expirationSeconds: 3600,
        boundObjectRef: { kind: "Pod", apiVersion: "v1", name: "w-1", uid: (pod.metadata as { uid: string }).uid },
      },
    });
    if (tr.status !== 201) throw new Error(`TokenRequest: ${tr.status} ${JSON.stringify(tr.body)}`);
    const token = (tr.body as { status: { token: string } }).status.token;

    trellis = await startTrellis("examples/mesh", [
      "--kube",
      "--kubeconfig",
      kube.kubeconfigPath,
      "--namespace",
      cpNs,
      "--pod-name",
      "trellis-rot",
      "--dev-plaintext-xds",
      "--workload-cert-ttl",
      "20s",
    ]);
    oldRootPem = await until(`ConfigMap trellis-ca-root-cert in ${ns}`, configMapRoots, 30_000, 200);
    tls = {
      credentials: grpc.credentials.createSsl(Buffer.from(oldRootPem)),
      channelOptions: { "grpc.ssl_target_name_override": serverName, "grpc.default_authority": serverName },
    };
    const struct = (md: Record<string, string>) =>
      Object.fromEntries(Object.entries(md).map(([k, v]) => [k, { stringValue: v }]));
    stream = new SotwClient(trellis.xdsTlsAddress as string, undefined, undefined, bearer(token), tls);
    stream.send({
      node: {
        id: proxyId,
        cluster: `w.${ns}`,
        locality: {},
        metadata: { fields: struct({ NAMESPACE: ns, SERVICE_ACCOUNT: "w", NAME: "w-1" }) },
      },
      type_url: SECRET,
      resource_names: ["default", "ROOTCA"],
    });
  });

  afterAll(async () => {
    stream?.close();
    await trellis?.stop();
    if (kube?.external && creds) {
      for (const n of [cpNs, ns]) await kubeRequest(creds, "DELETE", `/api/v1/namespaces/${n}`).catch(() => {});
    }
    await kube?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("publishes, switches and retires the root on one live ADS stream, the held leaf always verifying against the held bundle", async () => {
    // STABLE: the one root, and a leaf of it.
    await pump("the first certificate and bundle", () => Boolean(held.leafPem && held.bundlePem));
    expect(held.bundlePem).toBe(oldRootPem);
    expect(leaf().subjectAltName).toBe(`URI:spiffe://${TRUST_DOMAIN}/ns/${ns}/sa/w`);
    const oldRoot = new X509Certificate(oldRootPem);
    expect(chainsTo(held.leafPem as string, held.bundlePem as string)?.fingerprint256).toBe(oldRoot.fingerprint256);

    // publish: the bundle gains the new root (old first); signing stays with the old root.
    expect(await rotate("publish")).toMatch(/published a new root/);
    await pump("the two-root bundle", () => rootsOf(held.bundlePem as string).length === 2, 30_000);
    const roots = rootsOf(held.bundlePem as string);
    expect(roots[0]?.fingerprint256).toBe(oldRoot.fingerprint256);
    const newRoot = roots[1] as X509Certificate;
    expect(newRoot.fingerprint256).not.toBe(oldRoot.fingerprint256);
    expect(chainsTo(held.leafPem as string, held.bundlePem as string)?.fingerprint256).toBe(oldRoot.fingerprint256);
    await until(
      "the root ConfigMap holds both roots",
      async () => rootsOf((await configMapRoots()) ?? "").length === 2,
      30_000,
      200,
    );
    sameStream();

    // switch: a new leaf, chaining to the new root, pushed on the same stream; the bundle keeps both.
    const beforeSwitch = leaf();
    expect(await rotate("switch")).toMatch(/Wait at least one workload certificate TTL/);
    await pump(
      "a leaf signed by the new root",
      () => leaf().checkIssued(newRoot) && leaf().verify(newRoot.publicKey),
      30_000,
    );
    expect(leaf().serialNumber).not.toBe(beforeSwitch.serialNumber);
    expect(leaf().verify(oldRoot.publicKey)).toBe(false);
    expect(leaf().subjectAltName).toBe(`URI:spiffe://${TRUST_DOMAIN}/ns/${ns}/sa/w`);
    expect(rootsOf(held.bundlePem as string).map((r) => r.fingerprint256)).toEqual([
      oldRoot.fingerprint256,
      newRoot.fingerprint256,
    ]);
    expect(chainsTo(held.leafPem as string, held.bundlePem as string)?.fingerprint256).toBe(newRoot.fingerprint256);
    sameStream();

    // The operator waits one workload TTL: every old-root leaf has expired (20 s here). Keep ACKing meanwhile.
    const lastOldLeafExpiry = Date.parse(beforeSwitch.validTo);
    await pump("the last old-root leaf to expire", () => Date.now() > lastOldLeafExpiry + 1_000, 30_000);
    expect(chainsTo(held.leafPem as string, held.bundlePem as string)?.fingerprint256).toBe(newRoot.fingerprint256);

    // retire: the bundle holds only the new root; the held leaf verifies against it.
    expect(await rotate("retire")).toMatch(/retired the old root/);
    await pump("the bundle without the old root", () => rootsOf(held.bundlePem as string).length === 1, 30_000);
    expect(rootsOf(held.bundlePem as string)[0]?.fingerprint256).toBe(newRoot.fingerprint256);
    expect(chainsTo(held.leafPem as string, held.bundlePem as string)?.fingerprint256).toBe(newRoot.fingerprint256);
    await until(
      "the root ConfigMap holds only the new root",
      async () => {
        const r = rootsOf((await configMapRoots()) ?? "");
        return r.length === 1 && r[0]?.fingerprint256 === newRoot.fingerprint256;
      },
      30_000,
      200,
    );
    sameStream();

    // A fourth phase out of order is refused, and the Secret says STABLE again.
    const again = await runTrellis([
      "ca",
      "rotate-root",
      "--phase",
      "switch",
      "--kubeconfig",
      kube.kubeconfigPath,
      "--namespace",
      cpNs,
    ]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/STABLE; `switch` needs PUBLISHED/);
    expect(trellis.logs.some((l) => l.msg === "CA Secret changed; adopted its root rotation phase")).toBe(true);
  });
});
