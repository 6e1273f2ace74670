// Per-identity SDS secrets on top of shared views, with certificates from the
// real CA (security/ca) and resources decoded with Envoy's protos.
import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cluster, makeView } from "../../test/support/views.js";
import { messageType } from "../envoy/protos.js";
import { ROOT_CA_SECRET, WORKLOAD_CERT_SECRET } from "../envoy/secrets.js";
import { CLUSTER, SECRET } from "../envoy/type-urls.js";
import { createCertificateAuthority, renewAt } from "../security/ca/index.js";
import { type WorkloadKey, WorkloadSecrets } from "../security/sds/workload-secrets.js";
import * as translated from "../translate/security/tls-context.js";
import type { WorkloadIdentity } from "../xds/auth.js";
import { SecretViews } from "./secret-views.js";

const workload = (namespace: string, serviceAccount: string, podName = `${serviceAccount}-1`): WorkloadIdentity => ({
  kind: "workload",
  namespace,
  serviceAccount,
  podName,
});

function decodeSecret(bytes: Uint8Array) {
  const type = messageType("envoy.extensions.transport_sockets.tls.v3.Secret");
  // biome-ignore lint/suspicious/noExplicitAny: decoded Envoy message
  return type.toObject(type.decode(bytes), { defaults: false }) as any;
}

describe("SecretViews", () => {
  let ca: Awaited<ReturnType<typeof createCertificateAuthority>>;
  let secrets: WorkloadSecrets;
  const changed: (WorkloadKey | undefined)[] = [];
  beforeAll(async () => {
    ca = await createCertificateAuthority({ signing: { kind: "generated" }, workers: 0 });
    secrets = new WorkloadSecrets({
      ca,
      trustDomain: "cluster.local",
      renewAt: (c) => renewAt(c),
      onChange: (k) => changed.push(k),
    });
  });
  afterAll(async () => {
    secrets.close();
    await ca.close();
  });

  it("uses the SDS names the translated TLS contexts refer to", () => {
    expect(WORKLOAD_CERT_SECRET).toBe(translated.WORKLOAD_CERT_SECRET);
    expect(ROOT_CA_SECRET).toBe(translated.ROOT_CA_SECRET);
  });

  it("adds exactly `default` (the identity's certificate) and `ROOTCA` to a workload's view, and nothing for anonymous callers", async () => {
    const views = new SecretViews(secrets);
    const base = makeView({ clusters: [cluster("c")] });
    expect(views.decorate(base, { kind: "anonymous" })).toBe(base);
    await secrets.acquire({ namespace: "shop", serviceAccount: "cart" });
    const view = views.decorate(base, workload("shop", "cart"));
    // The shared per-type maps are reused, not copied.
    expect(view.get(CLUSTER)).toBe(base.get(CLUSTER));
    const sds = view.get(SECRET);
    expect([...(sds?.keys() ?? [])].sort()).toEqual(["ROOTCA", "default"]);
    const cert = decodeSecret(sds?.get("default")?.bytes as Uint8Array);
    const leaf = new X509Certificate(cert.tls_certificate.certificate_chain.inline_string);
    expect(leaf.subjectAltName).toBe("URI:spiffe://cluster.local/ns/shop/sa/cart");
    expect(cert.tls_certificate.private_key.inline_string).toContain("PRIVATE KEY");
    const root = decodeSecret(sds?.get("ROOTCA")?.bytes as Uint8Array);
    expect(root.validation_context.trusted_ca.inline_string).toBe(ca.trustBundlePem());
    expect(leaf.verify(new X509Certificate(ca.trustBundlePem()).publicKey)).toBe(true);
  });

  it("keeps handing out the same view object until the certificate changes, per identity", async () => {
    const views = new SecretViews(secrets);
    const base = makeView({ clusters: [cluster("c")] });
    await secrets.acquire({ namespace: "shop", serviceAccount: "payments" });
    const a1 = views.decorate(base, workload("shop", "cart"));
    const a2 = views.decorate(base, workload("shop", "cart", "cart-2"));
    const p = views.decorate(base, workload("shop", "payments"));
    expect(a2).toBe(a1);
    expect(p).not.toBe(a1);
    expect(p.get(SECRET)?.get("default")?.version).not.toBe(a1.get(SECRET)?.get("default")?.version);
    // Both share one ROOTCA resource (encoded once).
    expect(p.get(SECRET)?.get("ROOTCA")).toBe(a1.get(SECRET)?.get("ROOTCA"));
  });

  it("gives an identity without a certificate yet only the ROOTCA, never someone else's", () => {
    const views = new SecretViews(secrets);
    const view = views.decorate(makeView({}), workload("bank", "teller"));
    expect([...(view.get(SECRET)?.keys() ?? [])]).toEqual(["ROOTCA"]);
  });
});
