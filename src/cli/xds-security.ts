// Wires security/ to the xDS server for `trellis serve --kube`: the CA (from
// its Kubernetes Secret), the TLS certificate of the xDS port (15012), proxy
// authentication with TokenReview, per-identity SDS certificates, and the trust
// bundle published into every namespace by the leader.
import { isIP } from "node:net";
import type { Logger } from "pino";
import { xdsAuthFiles } from "../envoy/bootstrap.js";
import { controlPlaneDnsNames, ServingCertificate } from "../security/authn/serving-cert.js";
import { kubeTokenReviewer, TokenReviewAuthenticator } from "../security/authn/token-review.js";
import {
  createCertificateAuthority,
  loadOrCreateCaSecret,
  MIN_TTL_MS,
  readCaSecret,
  renewAt,
  storedSigning,
} from "../security/ca/index.js";
import { RootCertPublisher } from "../security/sds/root-cert-publisher.js";
import { type WorkloadKey, WorkloadSecrets } from "../security/sds/workload-secrets.js";
import type { KubeHttp } from "../sources/kube/http.js";
import { Informer } from "../sources/kube/informer.js";
import { type Authenticator, type CallerIdentity, workloadAuthenticator } from "../xds/auth.js";
import type { ConnectHook } from "../xds/server.js";
import { RotatingServerCredentials } from "../xds/tls.js";
import type { WorkloadSecretSource } from "./secret-views.js";

export interface XdsSecurityOptions {
  http: KubeHttp;
  /** Control-plane namespace: the CA Secret lives here; the certificate names `<service>.<namespace>.svc`. */
  namespace: string;
  trustDomain: string;
  clusterDomain: string;
  /** The control plane's Service (default "trellis"). */
  service?: string;
  /** More names (DNS or IP) the xDS certificate must carry. */
  extraSans?: string[];
  /** Audience of the proxies' tokens (default "trellis"). */
  tokenAudience?: string;
  /** Workload certificate lifetime (default: the CA's, 24 h). */
  workloadCertTtlMs?: number;
  /** Whether this replica writes shared state (the root ConfigMaps). */
  isLeader: () => boolean;
  /**
   * How often the CA Secret is re-read to follow root rotation (default 5 s). A poll (one GET of
   * one named Secret) rather than a watch: the RBAC grants only `get` on the two CA Secrets, and a
   * phase change is rare and may take seconds to reach every replica.
   */
  caPollMs?: number;
  /** Certificates of `key` changed (undefined: the trust bundle, for everyone): push those streams. */
  onSecretsChanged: (key: WorkloadKey | undefined) => void;
  logger: Logger;
}

export interface XdsSecurity {
  credentials: RotatingServerCredentials;
  authenticate: Authenticator;
  onConnect: ConnectHook;
  secrets: WorkloadSecretSource;
  /** Call when this replica starts leading: it then (re)publishes the root everywhere. */
  leadershipChanged(): void;
  info(): Record<string, unknown>;
  stop(): Promise<void>;
}

export async function startXdsSecurity(opts: XdsSecurityOptions): Promise<XdsSecurity> {
  const log = opts.logger;
  const stored = await loadOrCreateCaSecret(opts.http, opts.namespace);
  log.info({ secret: `${opts.namespace}/${stored.secretName}`, action: stored.action }, "CA loaded");
  const ca = await createCertificateAuthority({
    signing: storedSigning(stored),
    rotation: stored.rotation,
  });

  // Root rotation: `trellis ca rotate-root` writes the phase to the Secret; every replica (leader
  // or not) follows it with adopt(), which re-pushes ROOTCA (onTrustBundleChange) and re-issues
  // certificates (onSignerChange) as needed. Only Trellis's own Secret carries a phase.
  let caVersion = stored.resourceVersion;
  let caPolling = false;
  const pollCa = async () => {
    if (caPolling) return;
    caPolling = true;
    try {
      const found = await readCaSecret(opts.http, opts.namespace, stored.secretName, { managed: true });
      if (!found) {
        log.warn({ secret: `${opts.namespace}/${stored.secretName}` }, "CA Secret is gone; keeping the CA in memory");
        return;
      }
      if (found.resourceVersion === caVersion) return;
      const before = ca.state();
      ca.adopt({
        current: {
          certPem: found.certPem,
          keyPem: found.keyPem,
          ...(found.chainPem ? { chainPem: found.chainPem } : {}),
          ...(found.rootPem ? { rootPem: found.rootPem } : {}),
        },
        rotation: found.rotation,
      });
      caVersion = found.resourceVersion;
      log.info(
        { secret: `${opts.namespace}/${stored.secretName}`, from: before, state: ca.state() },
        "CA Secret changed; adopted its root rotation phase",
      );
    } catch (err) {
      log.error({ err }, "reading the CA Secret (root rotation) failed; retrying");
    } finally {
      caPolling = false;
    }
  };
  const caTimer = stored.managed ? setInterval(() => void pollCa(), opts.caPollMs ?? 5_000) : undefined;
  caTimer?.unref?.();

  const extra = opts.extraSans ?? [];
  const serving = new ServingCertificate({
    ca,
    dnsNames: controlPlaneDnsNames(
      opts.service ?? "trellis",
      opts.namespace,
      opts.clusterDomain,
      extra.filter((s) => isIP(s) === 0),
    ),
    ipAddresses: extra.filter((s) => isIP(s) !== 0),
    renewAt: (c) => renewAt(c),
    onRenewed: (c) => {
      credentials.update(c);
      log.info({ serial: c.serialNumber, notAfter: c.notAfter }, "xDS serving certificate renewed");
    },
    onError: (err, attempt) => log.error({ err, attempt }, "renewing the xDS serving certificate failed; retrying"),
  });
  const first = await serving.start();
  const credentials = new RotatingServerCredentials(first);

  const workloadTtl = opts.workloadCertTtlMs;
  if (workloadTtl !== undefined && workloadTtl < MIN_TTL_MS)
    throw new Error(`workload certificate TTL below ${MIN_TTL_MS} ms`);
  const secrets = new WorkloadSecrets({
    ca,
    trustDomain: opts.trustDomain,
    ...(workloadTtl !== undefined ? { ttlMs: workloadTtl } : {}),
    renewAt: (c) => renewAt(c),
    onChange: (key) => {
      if (key) log.info({ identity: `${key.namespace}/${key.serviceAccount}` }, "workload certificate renewed");
      else log.info("trust bundle changed");
      opts.onSecretsChanged(key);
      if (!key) publisher.schedule();
    },
    onError: (err, key, attempt) =>
      log.error(
        { err, identity: `${key.namespace}/${key.serviceAccount}`, attempt },
        "issuing a workload certificate failed; retrying",
      ),
  });

  const authn = new TokenReviewAuthenticator({
    review: kubeTokenReviewer(opts.http),
    audience: opts.tokenAudience ?? "trellis",
  });
  const authenticate = workloadAuthenticator(authn, (req, detail) =>
    log.warn({ proxy: req.node.id, peer: req.peer, reason: detail }, "TokenReview refused a proxy's token"),
  );

  const namespaces = new Informer<{ metadata?: { name?: string }; status?: { phase?: string } }>({
    path: "/api/v1/namespaces",
    http: opts.http,
    onChange: () => publisher.schedule(),
    onError: (err, attempt) => log.warn({ err, attempt }, "watching namespaces (root certificate publication) failed"),
  });
  const publisher = new RootCertPublisher({
    http: opts.http,
    data: () => xdsAuthFiles(secrets.trustBundlePem()),
    namespaces: () =>
      namespaces
        .objects()
        .filter((n) => n.metadata?.name)
        .map((n) => ({ name: n.metadata?.name as string, phase: n.status?.phase })),
    isLeader: opts.isLeader,
    onWrite: (ns, result, err) =>
      result === "failed"
        ? log.warn({ err, namespace: ns }, "publishing the root certificate failed; retrying")
        : log.info({ namespace: ns, result }, "root certificate published"),
  });
  namespaces.start();
  publisher.start();

  const onConnect: ConnectHook = async (identity: CallerIdentity) => {
    if (identity.kind !== "workload") return undefined;
    return secrets.acquire(identity);
  };

  return {
    credentials,
    authenticate,
    onConnect,
    secrets,
    leadershipChanged: () => publisher.resync(),
    info: () => ({
      servingCertificate: serving.current
        ? { serial: serving.current.serialNumber, notAfter: serving.current.notAfter }
        : undefined,
      tokenReview: authn.stats(),
      workloadIdentities: secrets.identities().length,
      rootRotation: ca.state(),
    }),
    stop: async () => {
      clearInterval(caTimer);
      serving.stop();
      secrets.close();
      await publisher.stop();
      await namespaces.stop();
      await ca.close();
    },
  };
}
