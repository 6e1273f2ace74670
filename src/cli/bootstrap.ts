// `trellis bootstrap`: prints an Envoy bootstrap (ADS to the control plane) or,
// with --grpc, a gRPC xDS bootstrap for proxyless clients. Same generator as
// the injector uses.

import { join, resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import {
  type AdsApiType,
  envoyBootstrap,
  GRPC_CERT_DIR_FILES,
  grpcBootstrap,
  parseHostPort,
  XDS_CA_DIR,
  XDS_TOKEN_PATH,
  type XdsTokenMechanism,
} from "../envoy/bootstrap.js";

function keyValue(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const i = value.indexOf("=");
  if (i <= 0) throw new InvalidArgumentError(`expected key=value, got "${value}"`);
  return { ...previous, [value.slice(0, i)]: value.slice(i + 1) };
}

function address(value: string): string {
  const parsed = parseHostPort(value);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.errors.join("; "));
  return value;
}

function apiType(value: string): AdsApiType {
  const v = value.toUpperCase();
  if (v === "SOTW" || v === "GRPC") return "GRPC";
  if (v === "DELTA" || v === "DELTA_GRPC") return "DELTA_GRPC";
  throw new InvalidArgumentError(`expected sotw or delta, got "${value}"`);
}

function tokenMechanism(value: string): XdsTokenMechanism {
  if (value === "credential-injector" || value === "google-grpc") return value;
  throw new InvalidArgumentError(`expected credential-injector or google-grpc, got "${value}"`);
}

export function bootstrapCommand(program: Command): void {
  program
    .command("bootstrap")
    .description("print an Envoy bootstrap (or, with --grpc, a gRPC xDS bootstrap) pointing at the control plane")
    .option("--grpc", "gRPC xDS bootstrap for proxyless clients (GRPC_XDS_BOOTSTRAP format)")
    .option("--xds-address <host:port>", "control-plane xDS address", address, "127.0.0.1:15010")
    .option(
      "--node-id <id>",
      "node id the proxy announces",
      "sidecar~127.0.0.1~trellis-example.default~default.svc.cluster.local",
    )
    .option("--cluster <name>", "node cluster (service cluster)")
    .option("--namespace <ns>", "workload namespace (node metadata NAMESPACE)")
    .option("--meta <key=value>", "extra node metadata, repeatable", keyValue)
    .option(
      "--label <key=value>",
      "workload label (node metadata LABELS; selects the services it serves and its policies), repeatable",
      keyValue,
    )
    .option(
      "--cert-dir <dir>",
      `with --grpc: mTLS certificates for proxyless gRPC, read from ${GRPC_CERT_DIR_FILES.certificateFile}, ${GRPC_CERT_DIR_FILES.privateKeyFile} and ${GRPC_CERT_DIR_FILES.caCertificateFile} in <dir>`,
    )
    .option("--api <sotw|delta>", "ADS variant for Envoy", apiType, "DELTA_GRPC")
    .option(
      "--tls",
      "Envoy: xDS over TLS (port 15012), verifying the control plane against the mesh root and sending the pod's service-account token (what injected sidecars use)",
    )
    .option(
      "--xds-server-name <name>",
      "with --tls: the name the control plane's certificate must carry (default: the host of --xds-address)",
    )
    .option(
      "--ca-dir <dir>",
      "with --tls: where ConfigMap trellis-ca-root-cert is mounted (root-cert.pem and the SDS files Envoy reads)",
      XDS_CA_DIR,
    )
    .option(
      "--token-mechanism <name>",
      "with --tls: how Envoy sends the token, credential-injector (Envoy >= 1.34) or google-grpc",
      tokenMechanism,
      "credential-injector",
    )
    .option("--token-path <file>", "with --tls --token-mechanism google-grpc: the projected token", XDS_TOKEN_PATH)
    .action((o) => {
      const metadata: Record<string, unknown> = { ...(o.meta ?? {}) };
      if (o.namespace) metadata.NAMESPACE = o.namespace;
      if (o.label) metadata.LABELS = o.label;
      if (o.certDir && !o.grpc) {
        process.stderr.write("--cert-dir applies to --grpc bootstraps (sidecars get their certificates over SDS)\n");
        process.exitCode = 2;
        return;
      }
      const certDir = o.certDir ? resolve(o.certDir) : undefined;
      const out = o.grpc
        ? // GENERATOR=grpc tells Trellis to serve API listeners (as Istio's gRPC bootstrap does).
          grpcBootstrap({
            nodeId: o.nodeId,
            cluster: o.cluster,
            xdsAddress: o.xdsAddress,
            metadata: { GENERATOR: "grpc", ...metadata },
            certificateProviders: certDir
              ? {
                  certificateFile: join(certDir, GRPC_CERT_DIR_FILES.certificateFile),
                  privateKeyFile: join(certDir, GRPC_CERT_DIR_FILES.privateKeyFile),
                  caCertificateFile: join(certDir, GRPC_CERT_DIR_FILES.caCertificateFile),
                }
              : undefined,
          })
        : envoyBootstrap({
            nodeId: o.nodeId,
            cluster: o.cluster,
            xdsAddress: o.xdsAddress,
            metadata,
            apiType: o.api,
            ...(o.tls
              ? {
                  tls: {
                    caDir: o.caDir,
                    tokenMechanism: o.tokenMechanism,
                    tokenPath: o.tokenPath,
                    ...(o.xdsServerName ? { serverName: o.xdsServerName } : {}),
                  },
                }
              : {}),
          });
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    });
}
