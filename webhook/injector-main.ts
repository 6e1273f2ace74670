#!/usr/bin/env node
// trellis-injector: the mutating admission webhook that adds the Envoy sidecar
// and trellis-init to pods. Flags: `trellis-injector --help` and
// docs/injection-webhook.md. Exits 1 when it cannot start (bad flags, no
// credentials, unusable certificate files); SIGTERM/SIGINT shut it down
// gracefully.
import { Command, InvalidArgumentError, Option } from "commander";
import { parseDuration } from "./injector/duration.js";
import { createInjectorLogger, startInjector } from "./injector/injector.js";

function duration(value: string): number {
  try {
    return parseDuration(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function durationOrZero(value: string): number {
  try {
    return parseDuration(value, { allowZero: true });
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function durationOption(flag: string, description: string, fallback: string, zero = false): Option {
  return new Option(`${flag} <duration>`, description)
    .argParser(zero ? durationOrZero : duration)
    .default(parseDuration(fallback), fallback);
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError(`expected a port number, got "${value}"`);
  return n;
}

function bytes(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1024)
    throw new InvalidArgumentError(`expected a byte count of at least 1024, got "${value}"`);
  return n;
}

/** Repeatable and comma-separated: `--extra-san a --extra-san b,c`. */
function collect(value: string, previous: string[]): string[] {
  return [
    ...previous,
    ...value
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
  ];
}

const program = new Command();
program
  .name("trellis-injector")
  .description("Mutating admission webhook: injects the Envoy sidecar (trellis-proxy) and trellis-init into pods")
  .option("--port <port>", "HTTPS port for /inject, /healthz and /readyz", port, 15017)
  .option("--bind-address <ip>", "address to listen on (default: every address)")
  .option("--metrics-address <host:port>", "plain-HTTP listen address of /metrics", ":15014")
  .option(
    "--namespace <ns>",
    "control-plane namespace: holds the CA Secret, is never injected (default: $POD_NAMESPACE or trellis-system)",
  )
  .option(
    "--webhook-config-name <name>",
    "MutatingWebhookConfiguration whose caBundle is kept up to date",
    "trellis-sidecar-injector",
  )
  .option(
    "--service-name <name>",
    "Service the API server calls: the serving certificate is for <name>.<namespace>.svc",
    "trellis-injector",
  )
  .option(
    "--extra-san <san>",
    "extra DNS name or IP in the generated serving certificate (repeatable, comma-separated)",
    collect,
    [],
  )
  .option("--tls-cert-file <file>", "serving certificate (PEM) instead of a generated one; reloaded when it changes")
  .option("--tls-key-file <file>", "key of --tls-cert-file (PEM)")
  .addOption(
    durationOption("--cert-lifetime", "lifetime of the generated serving certificate (renewed at 2/3 of it)", "90d"),
  )
  .addOption(
    durationOption(
      "--ca-lifetime",
      "lifetime of a CA created in the Secret trellis-injector-ca (rotated with 1/5 left)",
      "3650d",
    ),
  )
  .addOption(durationOption("--check-interval", "how often the CA Secret and the caBundle are re-checked", "60s"))
  .option(
    "--mesh-config <file>",
    "MeshConfig YAML (proxy image and resources, discoveryAddress, injection settings, clusterDomain)",
  )
  .option("--kubeconfig <file>", "kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
  .option(
    "--xds-address <host:port>",
    "control-plane xDS address written into injected proxies (default: MeshConfig defaultConfig.discoveryAddress)",
  )
  .option("--init-image <image>", "trellis-init image to inject (default: MeshConfig injection.initImage)")
  .addOption(
    durationOption("--shutdown-delay", "after SIGTERM, keep serving this long while endpoints are updated", "5s", true),
  )
  .option("--max-body-bytes <n>", "largest AdmissionReview accepted", bytes, 4 * 1024 * 1024)
  .option("--log-level <level>", "trace, debug, info, warn, error", "info")
  .action(async (o) => {
    const log = createInjectorLogger(o.logLevel);
    const running = await startInjector(
      {
        port: o.port,
        bindAddress: o.bindAddress,
        metricsAddress: o.metricsAddress,
        namespace: o.namespace ?? process.env.POD_NAMESPACE ?? "trellis-system",
        webhookConfigName: o.webhookConfigName,
        serviceName: o.serviceName,
        extraSans: o.extraSan,
        tlsCertFile: o.tlsCertFile,
        tlsKeyFile: o.tlsKeyFile,
        certLifetimeMs: o.certLifetime,
        caLifetimeMs: o.caLifetime,
        checkIntervalMs: o.checkInterval,
        meshConfig: o.meshConfig,
        kubeconfig: o.kubeconfig,
        xdsAddress: o.xdsAddress,
        initImage: o.initImage,
        shutdownDelayMs: o.shutdownDelay,
        bodyLimitBytes: o.maxBodyBytes,
        logLevel: o.logLevel,
      },
      log,
    );
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      process.once(sig, () => {
        running.stop().then(
          () => process.exit(0),
          (err: Error) => {
            log.error({ err: err.message }, "shutdown failed");
            process.exit(1);
          },
        );
      });
    }
  });

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`trellis-injector: ${err.message}\n`);
  process.exit(1);
});
