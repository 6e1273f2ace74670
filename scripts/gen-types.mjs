#!/usr/bin/env node
// Generates TypeScript types for the Envoy API messages Trellis builds, into
// src/envoy/generated/ (not committed; regenerated on every npm install).
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "src/envoy/generated");
const roots = [
  "envoy/service/discovery/v3/ads.proto",
  "envoy/service/listener/v3/lds.proto",
  "envoy/service/route/v3/rds.proto",
  "envoy/service/cluster/v3/cds.proto",
  "envoy/service/endpoint/v3/eds.proto",
  "envoy/service/secret/v3/sds.proto",
  "envoy/config/bootstrap/v3/bootstrap.proto",
  "envoy/config/listener/v3/listener.proto",
  "envoy/config/route/v3/route.proto",
  "envoy/config/cluster/v3/cluster.proto",
  "envoy/config/endpoint/v3/endpoint.proto",
  "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
  "envoy/extensions/filters/http/router/v3/router.proto",
  "envoy/extensions/filters/http/fault/v3/fault.proto",
  "envoy/extensions/filters/http/cors/v3/cors.proto",
  "envoy/extensions/filters/http/rbac/v3/rbac.proto",
  "envoy/extensions/filters/network/rbac/v3/rbac.proto",
  "envoy/extensions/filters/http/jwt_authn/v3/config.proto",
  "envoy/extensions/path/match/uri_template/v3/uri_template_match.proto",
  "envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto",
  "envoy/extensions/retry/priority/previous_priorities/v3/previous_priorities_config.proto",
  "envoy/extensions/transport_sockets/tls/v3/tls.proto",
  "envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto",
  "envoy/extensions/filters/listener/original_dst/v3/original_dst.proto",
  "envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto",
  "envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto",
  "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
  "envoy/extensions/transport_sockets/proxy_protocol/v3/upstream_proxy_protocol.proto",
  "envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto",
];
rmSync(out, { recursive: true, force: true });
const bin = join(root, "node_modules/.bin/proto-loader-gen-types");
execFileSync(
  bin,
  [
    "--keepCase",
    "--longs=String",
    "--enums=String",
    "--oneofs",
    "--grpcLib=@grpc/grpc-js",
    "--includeDirs=envoy-api-protos",
    "-O",
    out,
    ...roots,
  ],
  { cwd: root, stdio: ["ignore", "ignore", "inherit"] },
);
// proto-loader-gen-types writes extensionless relative imports: mark the folder
// CommonJS so TypeScript's nodenext resolution accepts them (they are type-only).
writeFileSync(join(out, "package.json"), '{ "type": "commonjs" }\n');
console.log(`gen-types: TypeScript types for ${roots.length} root protos in src/envoy/generated/`);
