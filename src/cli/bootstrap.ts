// `trellis bootstrap`: prints an Envoy bootstrap (ADS to the control plane) or,
// with --grpc, a gRPC xDS bootstrap for proxyless clients. Same generator as
// the injector uses.
import { type Command, InvalidArgumentError } from "commander";
import { type AdsApiType, envoyBootstrap, grpcBootstrap, parseHostPort } from "../envoy/bootstrap.js";

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
    .option("--api <sotw|delta>", "ADS variant for Envoy", apiType, "DELTA_GRPC")
    .action((o) => {
      const metadata: Record<string, unknown> = { ...(o.meta ?? {}) };
      if (o.namespace) metadata.NAMESPACE = o.namespace;
      const out = o.grpc
        ? // GENERATOR=grpc tells Trellis to serve API listeners (as Istio's gRPC bootstrap does).
          grpcBootstrap({
            nodeId: o.nodeId,
            cluster: o.cluster,
            xdsAddress: o.xdsAddress,
            metadata: { GENERATOR: "grpc", ...metadata },
          })
        : envoyBootstrap({ nodeId: o.nodeId, cluster: o.cluster, xdsAddress: o.xdsAddress, metadata, apiType: o.api });
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    });
}
