// `trellis serve`: the control plane. Wires sources → model → translate → xds
// and the admin server; owns process signals and graceful shutdown.
import { readFileSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import client from "prom-client";
import YAML from "yaml";
import { buildAdminServer } from "../admin/server.js";
import type { SourceObject } from "../config/index.js";
import { DEFAULT_MESH_CONFIG, type MeshConfig, parseMeshConfig } from "../config/mesh-config.js";
import { type Diagnostic, formatDiagnostic } from "../model/diagnostic.js";
import type { SourcedObject } from "../model/snapshot.js";
import { buildSnapshot, type ChangeSet, isEmptyChange, type MeshSnapshot } from "../model/snapshot.js";
import { type FileLoadResult, FileSource, mergeWithLastGood } from "../sources/file/index.js";
import { KubeHttp, type KubeLoadResult, KubeSource, loadKubeConfig, StatusWriter } from "../sources/kube/index.js";
import { LeaderElector } from "../sources/kube/leader.js";
import { acceptAll } from "../xds/auth.js";
import { Debouncer } from "../xds/debounce.js";
import { XdsMetrics } from "../xds/metrics.js";
import { XdsServer } from "../xds/server.js";
import { createLogger } from "./logger.js";
import { SecretViews } from "./secret-views.js";
import { ViewCache } from "./views.js";
import { startXdsSecurity, type XdsSecurity } from "./xds-security.js";

export interface ServeOptions {
  /** Directory of mesh YAML (file source); ignored with `kube`. */
  config: string;
  /** Watch the Kubernetes API instead of a directory. */
  kube?: boolean;
  /** Kubeconfig file; else $KUBECONFIG, ~/.kube/config or the in-cluster service account. */
  kubeconfig?: string;
  /** Control-plane namespace (the leader Lease lives here). */
  namespace?: string;
  /** This replica's identity for leader election (the pod name). */
  podName?: string;
  /** Elect a leader to write CR status (default true with `kube`). */
  leaderElect?: boolean;
  /** Leader election timings (tests shorten them). */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** Optional MeshConfig YAML file; Istio-style defaults otherwise. */
  meshConfig?: string;
  /**
   * Plaintext xDS (development only, never serves secrets): served with the
   * file source, and with `kube` only when `devPlaintextXds` is set.
   */
  xdsAddress: string;
  /** With `kube`: also serve plaintext xDS on `xdsAddress` (development; secrets are never served there). */
  devPlaintextXds?: boolean;
  /** xDS over TLS, proxies authenticated by their service-account token (with `kube`). Default 127.0.0.1:15012. */
  xdsTlsAddress?: string;
  /** More DNS names or IPs for the xDS certificate, besides trellis.<namespace>.svc[.<clusterDomain>]. */
  xdsExtraSans?: string[];
  /** Audience of the proxies' projected tokens (default "trellis"). */
  xdsTokenAudience?: string;
  /** Streams end after this long (jittered) or when the proxy's token expires, whichever is first. Default 30 min. */
  xdsMaxStreamAgeMs?: number;
  /** Lifetime of workload certificates (default 24 h); renewed at about half of it. */
  workloadCertTtlMs?: number;
  adminAddress: string;
  debounceQuietMs: number;
  debounceMaxMs: number;
  /** Proxies that may have responses in flight at once (xds/push-slots.ts). Default 64. */
  pushConcurrency?: number;
  logLevel?: string;
}

export interface RunningServer {
  /** The plaintext xDS port; 0 when plaintext xDS is not served (`kube` without `devPlaintextXds`). */
  xdsPort: number;
  /** The xDS-over-TLS port, when served (`kube`). */
  xdsTlsPort?: number;
  adminPort: number;
  stop(): Promise<void>;
}

function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(":");
  if (i < 0) throw new Error(`address "${address}" must be host:port`);
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(address.slice(i + 1)) };
}

function summarise(c: ChangeSet): Record<string, unknown> {
  // Counts, not names: a kube source can change thousands of objects at once.
  return { added: c.added.length, updated: c.updated.length, removed: c.removed.length, kinds: [...c.kinds] };
}

/** MeshConfig from a YAML file (`--mesh-config`), or Istio-style defaults; throws with the file name on errors. */
export function loadMeshConfig(file: string | undefined): MeshConfig {
  if (!file) return DEFAULT_MESH_CONFIG;
  let doc: unknown;
  try {
    doc = YAML.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`--mesh-config ${file}: ${(err as Error).message}`);
  }
  const parsed = parseMeshConfig(doc);
  if (!parsed.ok) {
    throw new Error(`--mesh-config ${file}: ${parsed.errors.map((e) => `${e.field}: ${e.message}`).join("; ")}`);
  }
  return parsed.value;
}

export async function serve(opts: ServeOptions): Promise<RunningServer> {
  const log = createLogger(opts.logLevel);
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const configErrors = new client.Gauge({
    name: "trellis_config_errors",
    help: "Configuration problems currently reported, by severity (invalid documents are not served; the last good version is kept)",
    labelNames: ["severity"],
    registers: [registry],
  });
  const configLoads = new client.Counter({
    name: "trellis_config_loads_total",
    help: "Configuration loads from the file source, by result",
    labelNames: ["result"],
    registers: [registry],
  });
  const statusWrites = new client.Counter({
    name: "trellis_status_writes_total",
    help: "Status updates written to mesh custom resources (leader only), by result",
    labelNames: ["result"],
    registers: [registry],
  });
  const mesh = loadMeshConfig(opts.meshConfig);
  // With --kube: the CA, TokenReview and SDS certificates (xds-security.ts). Set once the API is reachable.
  let security: XdsSecurity | undefined;
  const secretViews = new SecretViews({
    current: (key) => security?.secrets.current(key),
    trustBundlePem: () => security?.secrets.trustBundlePem() ?? "",
  });
  const views = new ViewCache(mesh, secretViews);
  const xds = new XdsServer({
    // The plaintext (development) listener's; the TLS listener authenticates with TokenReview.
    authenticate: acceptAll,
    generate: views.generate,
    onConnect: async (identity, node) => security?.onConnect(identity, node),
    metrics: new XdsMetrics(registry),
    logger: log,
    controlPlaneId: `trellis@${hostname()}`,
    maxStreamAgeMs: opts.xdsMaxStreamAgeMs,
    pushConcurrency: opts.pushConcurrency,
  });
  const debouncer = new Debouncer(opts.debounceQuietMs, opts.debounceMaxMs, (firstChangeAt) => {
    if (pendingSnapshot) {
      views.setSnapshot(pendingSnapshot);
      pendingSnapshot = undefined;
      reportDiagnostics();
    }
    xds.pushAll(firstChangeAt);
  });

  let merged: FileLoadResult | undefined;
  let sourceDiagnostics: readonly Diagnostic[] = [];
  let snapshot: MeshSnapshot | undefined;
  let pendingSnapshot: MeshSnapshot | undefined;
  let loadedAt: string | undefined;
  let reported = new Set<string>();
  let statusWriter: StatusWriter | undefined;

  const diagnostics = (): Diagnostic[] => [...sourceDiagnostics, ...views.diagnostics()];
  const reportDiagnostics = () => {
    const all = diagnostics();
    const next = new Set<string>();
    const counts: Record<string, number> = { error: 0, warning: 0, info: 0 };
    for (const d of all) {
      const line = formatDiagnostic(d);
      next.add(line);
      counts[d.severity] = (counts[d.severity] ?? 0) + 1;
      if (!reported.has(line)) {
        const fields = { code: d.code, object: d.object, field: d.field };
        if (d.severity === "error") log.error(fields, line);
        else if (d.severity === "warning") log.warn(fields, line);
        else log.info(fields, line);
      }
    }
    reported = next;
    for (const [severity, n] of Object.entries(counts)) configErrors.set({ severity }, n);
    statusWriter?.schedule();
  };

  const apply = (
    objects: readonly SourcedObject<SourceObject>[],
    newDiagnostics: readonly Diagnostic[],
    initial: boolean,
  ) => {
    const hasErrors = newDiagnostics.some((d) => d.severity === "error");
    configLoads.inc({ result: hasErrors ? "invalid" : "ok" });
    sourceDiagnostics = newDiagnostics;
    const built = buildSnapshot(snapshot, objects, newDiagnostics);
    if (!initial && isEmptyChange(built.changes)) {
      reportDiagnostics();
      return;
    }
    snapshot = built.snapshot;
    loadedAt = new Date().toISOString();
    log.info(
      {
        version: snapshot.version,
        objects: snapshot.objects.length,
        changes: summarise(built.changes),
      },
      initial ? "configuration loaded" : "configuration changed",
    );
    if (initial) {
      views.setSnapshot(snapshot);
      reportDiagnostics();
    } else {
      pendingSnapshot = snapshot;
      debouncer.trigger();
    }
  };

  let stopSource: () => Promise<void>;
  let sourceInfo: () => Record<string, unknown>;
  let elector: LeaderElector | undefined;
  if (opts.kube) {
    const kubeConfig = loadKubeConfig(opts.kubeconfig);
    const http = new KubeHttp(kubeConfig);
    const applyKube = (r: KubeLoadResult, initial: boolean) => apply(r.objects, r.diagnostics, initial);
    const source = new KubeSource({ http, logger: log, onUpdate: (r) => applyKube(r, false) });
    const namespace = opts.namespace ?? "trellis-system";
    const identity = opts.podName ?? hostname();
    if (opts.leaderElect ?? true) {
      elector = new LeaderElector({
        kubeConfig,
        namespace,
        name: "trellis-leader",
        identity,
        leaseDurationMs: opts.leaseDurationMs,
        renewDeadlineMs: opts.renewDeadlineMs,
        retryPeriodMs: opts.retryPeriodMs,
        logger: log,
        onStartedLeading: () => {
          log.info({ identity }, "became leader: writing CR status");
          statusWriter?.schedule();
          security?.leadershipChanged();
        },
        onStoppedLeading: () => log.info({ identity }, "no longer leader: not writing CR status"),
      });
    }
    const leading = elector ? () => elector?.isLeader() === true : () => true;
    statusWriter = new StatusWriter({
      http,
      resources: () => source.meshResources(),
      diagnostics,
      isLeader: leading,
      logger: log,
      onWrite: (_info, ok) => statusWrites.inc({ result: ok ? "ok" : "failed" }),
    });
    log.info({ server: http.server }, "watching the Kubernetes API");
    security = await startXdsSecurity({
      http,
      namespace,
      trustDomain: mesh.trustDomain,
      clusterDomain: mesh.clusterDomain,
      extraSans: opts.xdsExtraSans,
      tokenAudience: opts.xdsTokenAudience,
      workloadCertTtlMs: opts.workloadCertTtlMs,
      isLeader: leading,
      // A renewed certificate goes to the streams of its identity only; a new bundle to every workload.
      onSecretsChanged: (key) =>
        xds.pushWhere(
          (id) =>
            id.kind === "workload" &&
            (key === undefined || (id.namespace === key.namespace && id.serviceAccount === key.serviceAccount)),
        ),
      logger: log,
    });
    applyKube(await source.start(), true);
    elector?.start();
    stopSource = async () => {
      await statusWriter?.stop();
      await elector?.stop({ release: true });
      await source.stop();
    };
    sourceInfo = () => ({
      source: `kubernetes ${http.server}`,
      leader: elector ? { identity, leading: elector.isLeader(), current: elector.leader() } : undefined,
      informers: source.informerStates(),
    });
  } else {
    const configDir = resolve(opts.config);
    if (!statSync(configDir, { throwIfNoEntry: false })?.isDirectory()) {
      throw new Error(`--config ${opts.config}: no such directory (expected a directory of mesh YAML files)`);
    }
    const applyFiles = (result: FileLoadResult, initial: boolean) => {
      merged = mergeWithLastGood(merged, result);
      apply(merged.objects, merged.diagnostics, initial);
    };
    const source = new FileSource(configDir, {
      onUpdate: (r) => applyFiles(r, false),
      onError: (err) =>
        log.error(
          { err, config: configDir },
          "watching the configuration directory failed; serving the last loaded configuration",
        ),
    });
    applyFiles(await source.start(), true);
    stopSource = () => source.stop();
    sourceInfo = () => ({ source: configDir });
  }

  // Plaintext xDS is for development: the file source (no cluster to authenticate proxies
  // against), or --kube with an explicit --dev-plaintext-xds. It never serves secrets.
  const plaintext = !opts.kube || opts.devPlaintextXds === true;
  const xdsPort = plaintext ? await xds.listen(opts.xdsAddress) : 0;
  const tlsAddress = opts.xdsTlsAddress ?? "127.0.0.1:15012";
  const xdsTlsPort = security
    ? await xds.listen(tlsAddress, { credentials: security.credentials, authenticate: security.authenticate })
    : undefined;
  const admin = buildAdminServer({
    xds,
    registry,
    state: {
      ready: () => snapshot !== undefined,
      diagnostics,
      configInfo: () => ({ ...sourceInfo(), snapshotVersion: snapshot?.version, loadedAt, security: security?.info() }),
    },
  });
  const adminAddr = splitHostPort(opts.adminAddress);
  await admin.listen({ host: adminAddr.host, port: adminAddr.port });
  const adminPort = (admin.server.address() as { port: number }).port;
  log.info(
    {
      xds: plaintext ? `${splitHostPort(opts.xdsAddress).host}:${xdsPort}` : undefined,
      xdsTls: xdsTlsPort !== undefined ? `${splitHostPort(tlsAddress).host}:${xdsTlsPort}` : undefined,
      admin: `${adminAddr.host}:${adminPort}`,
      ...sourceInfo(),
      informers: undefined,
    },
    plaintext && xdsTlsPort === undefined
      ? "trellis serving (plaintext xDS: development mode)"
      : plaintext
        ? "trellis serving (xDS over TLS; plaintext xDS too: development mode)"
        : "trellis serving (xDS over TLS)",
  );

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      log.info("shutting down");
      debouncer.stop();
      await stopSource();
      await xds.shutdown(5_000);
      await security?.stop();
      await admin.close();
      log.info("stopped");
    })();
    return stopping;
  };
  return { xdsPort, ...(xdsTlsPort !== undefined ? { xdsTlsPort } : {}), adminPort, stop };
}
