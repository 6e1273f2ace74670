// trellis-injector, wired: the serving certificate (generated from the shared
// CA, or user-provided files), the caBundle reconciler, the Namespace cache,
// the HTTPS admission server and the plain-HTTP metrics server; readiness and
// graceful shutdown. The only place in webhook/injector/ that starts things.
import type { Server as HttpsServer } from "node:https";
import { networkInterfaces } from "node:os";
import Fastify, { type FastifyInstance } from "fastify";
import pino from "pino";
import { loadMeshConfig } from "../../src/cli/serve.js";
import { parseMeshConfig } from "../../src/config/mesh-config.js";
import { KubeHttp, loadKubeConfig } from "../../src/sources/kube/index.js";
import type { DecidePod } from "./admission.js";
import { CaBundleReconciler } from "./ca-bundle.js";
import { KubeCaSecretStore } from "./ca-secret.js";
import { classifySans } from "./certs.js";
import { FileCertificates } from "./file-cert.js";
import { GeneratedCertificates } from "./generated-cert.js";
import { injectionConfig, webhookDecider } from "./injection.js";
import { InjectorMetrics } from "./metrics.js";
import { NamespaceCache } from "./namespaces.js";
import { buildInjectorServer, setServingCertificate, type TlsPair } from "./server.js";

export interface InjectorOptions {
  /** HTTPS port of /inject, /healthz, /readyz (0: any free port). */
  port: number;
  /** Listen address; default every address ("::" when the host has IPv6, else 0.0.0.0). */
  bindAddress?: string;
  /** host:port of /metrics (plain HTTP); ":15014" listens on every address. */
  metricsAddress: string;
  /** Control-plane namespace: the CA Secret lives here, and it is never injected. */
  namespace: string;
  webhookConfigName: string;
  serviceName: string;
  /** Extra SANs for the generated serving certificate (DNS names or IPs). */
  extraSans: string[];
  tlsCertFile?: string;
  tlsKeyFile?: string;
  certLifetimeMs: number;
  caLifetimeMs: number;
  /** How often the CA Secret and the caBundle are re-checked without a change event. */
  checkIntervalMs: number;
  meshConfig?: string;
  kubeconfig?: string;
  xdsAddress?: string;
  initImage?: string;
  /** After SIGTERM, keep answering this long (readyz already failing) while the Service stops routing here. */
  shutdownDelayMs: number;
  logLevel?: string;
  bodyLimitBytes?: number;
  /** Replaces the injection (tests). */
  decide?: DecidePod;
}

export interface RunningInjector {
  port: number;
  metricsPort: number;
  /** The serving certificate in use (PEM). */
  servingCertificate(): string;
  /** The CA certificates the API server is asked to trust (generated mode only). */
  caBundle(): readonly string[] | undefined;
  stop(): Promise<void>;
}

export type InjectorLogger = pino.Logger;

export function createInjectorLogger(level = process.env.TRELLIS_LOG_LEVEL ?? "info"): InjectorLogger {
  return pino({ level, base: { component: "trellis-injector" }, timestamp: pino.stdTimeFunctions.isoTime });
}

function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(":");
  if (i < 0) throw new Error(`address "${address}" must be host:port (or :port)`);
  const port = Number(address.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`address "${address}": bad port`);
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ""), port };
}

function anyAddress(): string {
  const v6 = Object.values(networkInterfaces()).some((list) => list?.some((a) => a.family === "IPv6"));
  return v6 ? "::" : "0.0.0.0";
}

/** The names the API server may use to reach the webhook Service, most specific first. */
export function serviceDnsNames(service: string, namespace: string, clusterDomain: string): string[] {
  return [
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.${clusterDomain}`,
    `${service}.${namespace}`,
    service,
  ];
}

export async function startInjector(
  opts: InjectorOptions,
  log = createInjectorLogger(opts.logLevel),
): Promise<RunningInjector> {
  if (Boolean(opts.tlsCertFile) !== Boolean(opts.tlsKeyFile)) {
    throw new Error("--tls-cert-file and --tls-key-file go together");
  }
  const mesh = loadMeshConfig(opts.meshConfig);
  if (opts.xdsAddress) {
    const checked = parseMeshConfig({ defaultConfig: { discoveryAddress: opts.xdsAddress } });
    if (!checked.ok) throw new Error(`--xds-address: ${checked.errors.map((e) => e.message).join("; ")}`);
  }
  const decide =
    opts.decide ??
    webhookDecider(
      injectionConfig({
        mesh,
        controlPlaneNamespace: opts.namespace,
        xdsAddress: opts.xdsAddress,
        initImage: opts.initImage,
      }),
    );
  const kubeConfig = loadKubeConfig(opts.kubeconfig);
  const http = new KubeHttp(kubeConfig, 10_000);
  const metrics = new InjectorMetrics();

  const namespaces = new NamespaceCache({
    http,
    onError: (err, attempt) => {
      if (attempt >= 2)
        log.warn(
          { err: err.message },
          "watching Namespaces failed; retrying (admission reads them with GET meanwhile)",
        );
    },
  });
  namespaces.start();
  void namespaces.whenSynced.then(() => log.info("namespace cache synced"));

  let app: FastifyInstance<HttpsServer> | undefined;
  let tls: TlsPair & { notAfter: Date };
  let generated: GeneratedCertificates | undefined;
  let files: FileCertificates | undefined;
  let reconciler: CaBundleReconciler | undefined;
  let stopping = false;

  const swap = (pair: TlsPair & { notAfter: Date; serial: string }, reason: string) => {
    const first = app === undefined;
    if (app) {
      try {
        setServingCertificate(app, pair);
      } catch (err) {
        log.error({ err: (err as Error).message }, "cannot use the new serving certificate; keeping the old one");
        return;
      }
    }
    tls = pair;
    metrics.servingCert(pair.notAfter, !first);
    if (!first)
      log.info({ reason, serial: pair.serial, notAfter: pair.notAfter.toISOString() }, "serving certificate rotated");
  };

  try {
    if (opts.tlsCertFile && opts.tlsKeyFile) {
      files = new FileCertificates({
        certFile: opts.tlsCertFile,
        keyFile: opts.tlsKeyFile,
        logger: log,
        onCertificate: (pair) => swap(pair, "files changed"),
      });
      tls = files.start();
      metrics.servingCert(tls.notAfter, false);
      log.info(
        { certFile: opts.tlsCertFile, notAfter: tls.notAfter.toISOString() },
        "serving certificate loaded from files",
      );
    } else {
      const { dnsNames, ipAddresses } = classifySans(opts.extraSans);
      const certs: GeneratedCertificates = new GeneratedCertificates({
        store: new KubeCaSecretStore(http, opts.namespace),
        caLifetimeMs: opts.caLifetimeMs,
        certLifetimeMs: opts.certLifetimeMs,
        dnsNames: [...serviceDnsNames(opts.serviceName, opts.namespace, mesh.clusterDomain), ...dnsNames],
        ipAddresses,
        checkIntervalMs: opts.checkIntervalMs,
        logger: log,
        ensureTrusted: async () => {
          await reconciler?.reconcile();
          return true;
        },
        onCertificate: (cert, reason) => swap(cert, reason),
      });
      generated = certs;
      reconciler = new CaBundleReconciler({
        http,
        name: opts.webhookConfigName,
        bundle: () => certs.bundle(),
        resyncMs: opts.checkIntervalMs,
        logger: log,
        onResult: (result) => metrics.caBundleResult(result),
      });
      const first = await certs.start();
      tls = first;
      metrics.servingCert(first.notAfter, false);
      log.info(
        {
          dnsNames: first.dnsNames,
          ipAddresses: first.ipAddresses,
          notAfter: first.notAfter.toISOString(),
          renewAt: first.renewAt.toISOString(),
        },
        "serving certificate issued",
      );
    }

    const notReady = (): string | undefined => {
      if (stopping) return "shutting down";
      if (tls.notAfter.getTime() <= Date.now()) return "the serving certificate has expired";
      if (!namespaces.synced) return "the namespace cache has not synced yet";
      return undefined;
    };
    const server = buildInjectorServer({
      tls,
      namespaces,
      decide,
      notReady,
      metrics,
      logger: log,
      bodyLimitBytes: opts.bodyLimitBytes,
    });
    app = server;
    await server.listen({ port: opts.port, host: opts.bindAddress ?? anyAddress() });
    const port = (server.server.address() as { port: number }).port;

    const metricsApp = Fastify({ logger: false });
    metricsApp.get("/metrics", async (_req, reply) => {
      reply.header("content-type", metrics.registry.contentType);
      return metrics.registry.metrics();
    });
    const m = splitHostPort(opts.metricsAddress);
    await metricsApp.listen({ port: m.port, host: m.host || anyAddress() });
    const metricsPort = (metricsApp.server.address() as { port: number }).port;

    reconciler?.start();
    log.info(
      {
        port,
        metricsPort,
        namespace: opts.namespace,
        webhookConfiguration: opts.webhookConfigName,
        certificates: files ? "files" : "generated",
      },
      "trellis-injector serving",
    );

    let stopped: Promise<void> | undefined;
    const stop = () => {
      stopped ??= (async () => {
        stopping = true;
        log.info({ delayMs: opts.shutdownDelayMs }, "shutting down");
        if (opts.shutdownDelayMs > 0) await new Promise((r) => setTimeout(r, opts.shutdownDelayMs));
        await server.close();
        await metricsApp.close();
        await reconciler?.stop();
        await generated?.stop();
        files?.stop();
        await namespaces.stop();
        log.info("stopped");
      })();
      return stopped;
    };
    return {
      port,
      metricsPort,
      servingCertificate: () => tls.certPem,
      caBundle: () => generated?.bundle(),
      stop,
    };
  } catch (err) {
    await app?.close().catch(() => {});
    await reconciler?.stop().catch(() => {});
    await generated?.stop().catch(() => {});
    files?.stop();
    await namespaces.stop().catch(() => {});
    throw err;
  }
}
