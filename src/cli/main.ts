#!/usr/bin/env node
// trellis: the control plane (`serve`) and the user CLI.
import { Command, InvalidArgumentError } from "commander";
import { analyzeCommand } from "./analyze.js";
import { bootstrapCommand } from "./bootstrap.js";
import { caCommand } from "./ca.js";
import { injectCommand } from "./inject.js";
import { serve } from "./serve.js";

function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a non-negative integer, got "${value}"`);
  return n;
}

/** A duration: `10s`, `30m`, `24h`, `500ms`, or a number of milliseconds. */
function duration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  const n = Number(m?.[1]);
  if (!m || !Number.isFinite(n) || n <= 0) {
    throw new InvalidArgumentError(`expected a duration such as 10s, 30m or 24h, got "${value}"`);
  }
  return Math.round(n * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[(m[2] ?? "ms") as "ms" | "s" | "m" | "h"]);
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

const program = new Command();
program
  .name("trellis")
  .description("Service-mesh control plane: Istio's mesh APIs as xDS for Envoy and proxyless gRPC");

program
  .command("serve")
  .description("run the control plane")
  .option("--config <dir>", "directory of mesh YAML files (file source, hot-reloaded)", "examples/mesh")
  .option("--kube", "watch the Kubernetes API (Services, EndpointSlices, Pods, mesh CRDs) instead of --config")
  .option("--kubeconfig <file>", "kubeconfig for --kube (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
  .option(
    "--namespace <ns>",
    "control-plane namespace, where the leader Lease lives (default: $POD_NAMESPACE or trellis-system)",
  )
  .option("--pod-name <name>", "this replica's identity for leader election (default: $POD_NAME or the host name)")
  .option("--no-leader-elect", "with --kube: write CR status from this replica without electing a leader")
  .option("--lease-duration <ms>", "leader Lease duration: a crashed leader is replaced after this long", int, 15_000)
  .option("--renew-deadline <ms>", "a leader that cannot renew its Lease for this long stops leading", int, 10_000)
  .option("--retry-period <ms>", "how often replicas try to acquire or renew the Lease", int, 2_000)
  .option("--mesh-config <file>", "MeshConfig YAML (trustDomain, rootNamespace, outboundTrafficPolicy, …)")
  .option(
    "--xds-address <host:port>",
    "plaintext xDS listen address: development only, never serves secrets; served with the file source, and with --kube only together with --dev-plaintext-xds",
    "127.0.0.1:15010",
  )
  .option("--dev-plaintext-xds", "with --kube: also serve plaintext xDS on --xds-address (development only)")
  .option(
    "--xds-tls-address <host:port>",
    "with --kube: xDS over TLS, proxies authenticated with their service-account token (TokenReview)",
    "127.0.0.1:15012",
  )
  .option(
    "--xds-extra-san <name>",
    "another DNS name or IP for the xDS certificate (besides trellis.<namespace>.svc[.<clusterDomain>]); repeatable",
    collect,
  )
  .option("--xds-token-audience <aud>", "audience the proxies' projected service-account tokens must be for", "trellis")
  .option(
    "--xds-max-stream-age <duration>",
    "end xDS streams after this long (jittered), or earlier when the proxy's token expires, so proxies re-authenticate",
    duration,
    30 * 60_000,
  )
  .option(
    "--workload-cert-ttl <duration>",
    "lifetime of workload certificates served over SDS (renewed at about half of it)",
    duration,
    24 * 3_600_000,
  )
  .option("--admin-address <host:port>", "admin HTTP listen address (health, metrics, debug)", "127.0.0.1:15014")
  .option("--debounce-quiet <ms>", "push after changes have been quiet this long", int, 100)
  .option("--debounce-max <ms>", "push at the latest this long after the first change", int, 1000)
  .option(
    "--push-concurrency <n>",
    "how many proxies may have configuration in flight at once (bounds memory when many connect together)",
    int,
    64,
  )
  .option("--log-level <level>", "trace, debug, info, warn, error", "info")
  .action(async (o) => {
    const running = await serve({
      config: o.config,
      kube: o.kube === true,
      kubeconfig: o.kubeconfig,
      namespace: o.namespace ?? process.env.POD_NAMESPACE,
      podName: o.podName ?? process.env.POD_NAME,
      leaderElect: o.leaderElect,
      leaseDurationMs: o.leaseDuration,
      renewDeadlineMs: o.renewDeadline,
      retryPeriodMs: o.retryPeriod,
      meshConfig: o.meshConfig,
      xdsAddress: o.xdsAddress,
      devPlaintextXds: o.devPlaintextXds === true,
      xdsTlsAddress: o.xdsTlsAddress,
      xdsExtraSans: o.xdsExtraSan ?? [],
      xdsTokenAudience: o.xdsTokenAudience,
      xdsMaxStreamAgeMs: o.xdsMaxStreamAge,
      workloadCertTtlMs: o.workloadCertTtl,
      adminAddress: o.adminAddress,
      debounceQuietMs: o.debounceQuiet,
      debounceMaxMs: o.debounceMax,
      pushConcurrency: o.pushConcurrency,
      logLevel: o.logLevel,
    });
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      process.once(sig, () => {
        running.stop().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      });
    }
  });

bootstrapCommand(program);
injectCommand(program);
analyzeCommand(program);
caCommand(program);

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`trellis: ${err.message}\n`);
  process.exit(1);
});
