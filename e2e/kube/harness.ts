// Real kube-apiserver harness: etcd + kube-apiserver on loopback, built from their
// Go modules by e2e/kube/build.sh (cached under ${TRELLIS_E2E_CACHE:-~/.cache/trellis-e2e}/bin,
// together with a kubectl of the same version), with generated
// certificates, a service-account signing key and an admin kubeconfig.
//
// If KUBECONFIG is set, nothing is started: the harness hands back that cluster.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";

export interface KubeHarness {
  /** Path of an admin kubeconfig (or $KUBECONFIG when external). */
  kubeconfigPath: string;
  /** API server URL, e.g. https://127.0.0.1:40123 */
  server: string;
  /** True when the cluster came from $KUBECONFIG and was not started here. */
  external: boolean;
  /** Stop kube-apiserver, then etcd, and remove the temp dir. No-op when external. Idempotent. */
  stop(): Promise<void>;
  /**
   * Kill and restart kube-apiserver only (same port, certs and etcd data), and wait for /readyz.
   * For "API-server restart loses nothing" tests. Throws when external.
   */
  restartApiServer(opts?: { downtimeMs?: number }): Promise<void>;
}

export interface StartKubeOptions {
  /** Extra kube-apiserver flags, appended last (so they win). */
  extraApiServerArgs?: string[];
  /** How long to wait for etcd and kube-apiserver to become ready (default 90 s). */
  readyTimeoutMs?: number;
  /** Log lines from the harness itself (default: stderr). */
  log?: (msg: string) => void;
}

const here = dirname(fileURLToPath(import.meta.url));
const buildScript = join(here, "build.sh");

export interface KubeBinaries {
  etcd: string;
  kubeApiServer: string;
  /** kubectl of the same Kubernetes version (for `kubectl apply -k`, `--dry-run=server`, …). */
  kubectl: string;
}

/**
 * Paths of the cached binaries; builds them first if missing (cold build takes minutes).
 * ETCD_BIN / KUBE_APISERVER_BIN / KUBECTL_BIN override single binaries (all three set: build.sh is not run).
 */
export function ensureBinaries(log: (msg: string) => void = defaultLog): KubeBinaries {
  const fromEnv = {
    etcd: process.env.ETCD_BIN,
    kubeApiServer: process.env.KUBE_APISERVER_BIN,
    kubectl: process.env.KUBECTL_BIN,
  };
  if (fromEnv.etcd && fromEnv.kubeApiServer && fromEnv.kubectl) {
    return { etcd: fromEnv.etcd, kubeApiServer: fromEnv.kubeApiServer, kubectl: fromEnv.kubectl };
  }
  let out: string;
  try {
    out = execFileSync(buildScript, ["--print"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    log(
      "etcd/kube-apiserver/kubectl not all cached yet: building them (e2e/kube/build.sh, minutes on 2 cores when cold)",
    );
    // Build progress goes to our stderr; only the final paths come back on stdout.
    out = execFileSync(buildScript, [], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  }
  const get = (k: string) => {
    const m = new RegExp(`^${k}=(.+)$`, "m").exec(out);
    if (!m?.[1]) throw new Error(`build.sh did not print ${k}`);
    return m[1].trim();
  };
  return {
    etcd: fromEnv.etcd ?? get("ETCD_BIN"),
    kubeApiServer: fromEnv.kubeApiServer ?? get("KUBE_APISERVER_BIN"),
    kubectl: fromEnv.kubectl ?? get("KUBECTL_BIN"),
  };
}

export async function startKube(opts: StartKubeOptions = {}): Promise<KubeHarness> {
  const log = opts.log ?? defaultLog;
  const external = process.env.KUBECONFIG;
  if (external) {
    const kubeconfigPath = resolve(external.split(":")[0] ?? external);
    const server = loadKubeconfig(kubeconfigPath).server;
    log(`KUBECONFIG set: using ${server} from ${kubeconfigPath}, starting nothing`);
    return {
      kubeconfigPath,
      server,
      external: true,
      stop: async () => {},
      restartApiServer: async () => {
        throw new Error("restartApiServer: not available against an external cluster (KUBECONFIG)");
      },
    };
  }

  const bins = ensureBinaries(log);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 90_000;
  const dir = mkdtempSync(join(tmpdir(), "trellis-kube-"));
  const procs: ChildProcess[] = [];
  let stopped = false;
  const onExit = () => {
    for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", onExit);

  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // apiserver first so it does not spam errors about a vanished etcd
    for (const p of [...procs].reverse()) await killAndWait(p);
    process.removeListener("exit", onExit);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    const pki = generatePki(dir);
    const [etcdClientPort, etcdPeerPort, apiPort] = await freePorts(3);
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;

    log(`starting etcd on ${etcdUrl} (data in ${dir}/etcd)`);
    const etcd = spawnLogged(
      bins.etcd,
      [
        "--name=trellis-e2e",
        `--data-dir=${join(dir, "etcd")}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=trellis-e2e=${peerUrl}`,
        "--initial-cluster-state=new",
        "--unsafe-no-fsync=true", // test data only: much faster on slow disks
        "--log-level=warn",
      ],
      join(dir, "etcd.log"),
    );
    procs.push(etcd);
    await waitFor(
      "etcd /health",
      () => plainGet(`${etcdUrl}/health`).then((b) => b.includes('"health":"true"')),
      readyTimeoutMs,
      etcd,
      join(dir, "etcd.log"),
    );

    const server = `https://127.0.0.1:${apiPort}`;
    const apiArgs = [
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      `--etcd-servers=${etcdUrl}`,
      `--cert-dir=${join(dir, "apiserver-certs")}`,
      `--tls-cert-file=${pki.serverCert}`,
      `--tls-private-key-file=${pki.serverKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-key-file=${pki.saKey}`,
      `--service-account-signing-key-file=${pki.saKey}`,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      "--api-audiences=https://kubernetes.default.svc.cluster.local",
      "--authorization-mode=RBAC",
      "--service-cluster-ip-range=10.0.0.0/24",
      "--allow-privileged=true",
      "--profiling=false",
      "--v=1",
      ...(opts.extraApiServerArgs ?? []),
    ];
    const apiLog = join(dir, "kube-apiserver.log");
    const startApi = async () => {
      log(`starting kube-apiserver on ${server}`);
      const api = spawnLogged(bins.kubeApiServer, apiArgs, apiLog);
      procs.push(api);
      await waitFor(
        "kube-apiserver /readyz",
        () => tlsGet(`${server}/readyz`, pki).then((r) => r.status === 200),
        readyTimeoutMs,
        api,
        apiLog,
      );
      return api;
    };
    let api = await startApi();

    const kubeconfigPath = join(dir, "kubeconfig");
    writeFileSync(kubeconfigPath, kubeconfigYaml(server, pki), { mode: 0o600 });
    log(`kube-apiserver ready at ${server}; kubeconfig ${kubeconfigPath}`);

    return {
      kubeconfigPath,
      server,
      external: false,
      stop,
      restartApiServer: async (opts?: { downtimeMs?: number }) => {
        if (stopped) throw new Error("harness stopped");
        await killAndWait(api);
        procs.splice(procs.indexOf(api), 1);
        // A guaranteed outage, for tests whose point is what happens while the server is away.
        if (opts?.downtimeMs) await new Promise((r) => setTimeout(r, opts.downtimeMs));
        api = await startApi();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---------------------------------------------------------------------------
// certificates (openssl CLI; node:crypto cannot issue X.509 certificates)

interface Pki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
}

function generatePki(dir: string): Pki {
  const p = (n: string) => join(dir, n);
  const ossl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  const ecKey = (out: string) =>
    ossl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", out);

  ecKey(p("ca.key"));
  ossl("req", "-x509", "-new", "-key", p("ca.key"), "-subj", "/CN=trellis-e2e-ca", "-days", "2", "-out", p("ca.crt"));

  const issue = (name: string, subj: string, ext: string) => {
    ecKey(p(`${name}.key`));
    ossl("req", "-new", "-key", p(`${name}.key`), "-subj", subj, "-out", p(`${name}.csr`));
    writeFileSync(p(`${name}.ext`), ext);
    ossl(
      "x509",
      "-req",
      "-in",
      p(`${name}.csr`),
      "-CA",
      p("ca.crt"),
      "-CAkey",
      p("ca.key"),
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      p(`${name}.ext`),
      "-out",
      p(`${name}.crt`),
    );
  };
  issue(
    "apiserver",
    "/CN=kube-apiserver",
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local",
      "",
    ].join("\n"),
  );
  // O=system:masters: bound to cluster-admin by the bootstrap RBAC policy.
  issue(
    "admin",
    "/O=system:masters/CN=trellis-e2e-admin",
    [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      "extendedKeyUsage=clientAuth",
      "",
    ].join("\n"),
  );
  // Service-account token signing key (RSA: what every client library expects for RS256).
  ossl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", p("sa.key"));

  return {
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    serverCert: p("apiserver.crt"),
    serverKey: p("apiserver.key"),
    adminCert: p("admin.crt"),
    adminKey: p("admin.key"),
    saKey: p("sa.key"),
  };
}

function kubeconfigYaml(server: string, pki: Pki): string {
  const b64 = (f: string) => readFileSync(f).toString("base64");
  return `apiVersion: v1
kind: Config
clusters:
- name: trellis-e2e
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(pki.caCert)}
users:
- name: trellis-e2e-admin
  user:
    client-certificate-data: ${b64(pki.adminCert)}
    client-key-data: ${b64(pki.adminKey)}
contexts:
- name: trellis-e2e
  context:
    cluster: trellis-e2e
    user: trellis-e2e-admin
current-context: trellis-e2e
`;
}

// ---------------------------------------------------------------------------
// kubeconfig reading (enough for the smoke test; @kubernetes/client-node replaces this)

export interface KubeconfigCreds {
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  insecureSkipTlsVerify?: boolean;
}

/** Current context's server and credentials. Supports *-data, file paths and tokens; not exec/auth-provider plugins. */
export function loadKubeconfig(path: string): KubeconfigCreds {
  // biome-ignore lint/suspicious/noExplicitAny: untyped YAML
  const cfg: any = parseYaml(readFileSync(path, "utf8"));
  const base = dirname(path);
  const ctxName = cfg["current-context"];
  // biome-ignore lint/suspicious/noExplicitAny: untyped YAML
  const ctx = (cfg.contexts ?? []).find((c: any) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`${path}: no current context`);
  // biome-ignore lint/suspicious/noExplicitAny: untyped YAML
  const cluster = (cfg.clusters ?? []).find((c: any) => c.name === ctx.cluster)?.cluster;
  // biome-ignore lint/suspicious/noExplicitAny: untyped YAML
  const user = (cfg.users ?? []).find((u: any) => u.name === ctx.user)?.user ?? {};
  if (!cluster?.server) throw new Error(`${path}: cluster ${ctx.cluster} has no server`);
  const read = (data?: string, file?: string) =>
    data ? Buffer.from(data, "base64") : file ? readFileSync(resolve(base, file)) : undefined;
  const tokenFile = user.tokenFile ?? user["token-file"];
  return {
    server: String(cluster.server).replace(/\/$/, ""),
    ca: read(cluster["certificate-authority-data"], cluster["certificate-authority"]),
    cert: read(user["client-certificate-data"], user["client-certificate"]),
    key: read(user["client-key-data"], user["client-key"]),
    token: user.token ?? (tokenFile ? readFileSync(resolve(base, tokenFile), "utf8").trim() : undefined),
    insecureSkipTlsVerify: cluster["insecure-skip-tls-verify"] === true,
  };
}

/**
 * One JSON request against the API server described by a kubeconfig. `contentType` is for
 * PATCH bodies (e.g. `application/merge-patch+json`); the default is `application/json`.
 */
export function kubeRequest(
  creds: KubeconfigCreds,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<{ status: number; body: unknown }> {
  const url = new URL(path, `${creds.server}/`);
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolvePromise, reject) => {
    const req = httpsRequest(
      url,
      {
        method,
        ca: creds.ca,
        cert: creds.cert,
        key: creds.key,
        rejectUnauthorized: !creds.insecureSkipTlsVerify,
        headers: {
          accept: "application/json",
          ...(payload ? { "content-type": contentType, "content-length": payload.length } : {}),
          ...(creds.token ? { authorization: `Bearer ${creds.token}` } : {}),
        },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {}
          resolvePromise({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}

// ---------------------------------------------------------------------------
// processes and polling

function defaultLog(msg: string) {
  process.stderr.write(`[kube-harness] ${msg}\n`);
}

function spawnLogged(bin: string, args: string[], logFile: string): ChildProcess {
  if (!existsSync(bin)) throw new Error(`${bin} missing: run e2e/kube/build.sh`);
  const out = createWriteStream(logFile, { flags: "a" });
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  return child;
}

async function killAndWait(p: ChildProcess, graceMs = 10_000): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise<void>((r) => p.once("exit", () => r()));
  p.kill("SIGTERM");
  const timer = setTimeout(() => p.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

async function waitFor(
  what: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  proc: ChildProcess,
  logFile: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`${what}: process exited (${proc.exitCode ?? proc.signalCode}) before ready\n${tail(logFile)}`);
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs} ms\n${tail(logFile)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

function plainGet(url: string): Promise<string> {
  return new Promise((res, rej) => {
    const req = httpRequest(url, { timeout: 2000 }, (r) => {
      let s = "";
      r.on("data", (c) => {
        s += c;
      });
      r.on("end", () => res(s));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", rej);
    req.end();
  });
}

function tlsGet(url: string, pki: Pki): Promise<{ status: number }> {
  return kubeRequest(
    {
      server: new URL(url).origin,
      ca: readFileSync(pki.caCert),
      cert: readFileSync(pki.adminCert),
      key: readFileSync(pki.adminKey),
    },
    "GET",
    new URL(url).pathname,
  ).then((r) => ({ status: r.status }));
}

async function freePorts(n: number): Promise<number[]> {
  // Hold all listeners open at once so the kernel hands out n distinct ports.
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import("node:net").Server>((res, rej) => {
          const s = createServer();
          s.once("error", rej);
          s.listen(0, "127.0.0.1", () => res(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    if (!a || typeof a === "string") throw new Error("no port");
    return a.port;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
