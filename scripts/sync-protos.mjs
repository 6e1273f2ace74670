#!/usr/bin/env node
// Populates envoy-api-protos/ from pinned npm packages (see envoy-api-protos/README.md).
// Files are copied byte for byte, never edited. The tree digest is checked against
// envoy-api-protos/PINNED so a different upstream version fails loudly instead of
// silently changing the API Trellis compiles against.
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "envoy-api-protos");
const xdsDeps = join(root, "node_modules/@grpc/grpc-js-xds/deps");
const wkt = join(root, "node_modules/google-proto-files/google/protobuf");

const sources = [
  [join(xdsDeps, "envoy-api/envoy"), "envoy"],
  [join(xdsDeps, "xds/xds"), "xds"],
  [join(xdsDeps, "xds/udpa"), "udpa"],
  [join(xdsDeps, "protoc-gen-validate/validate"), "validate"],
  [join(xdsDeps, "googleapis/google/api"), "google/api"],
  [join(xdsDeps, "googleapis/google/rpc"), "google/rpc"],
];
const wktFiles = ["any", "duration", "empty", "struct", "timestamp", "wrappers", "descriptor", "field_mask"];

for (const [src] of sources) {
  if (!existsSync(src)) {
    console.error(`sync-protos: ${src} is missing; is @grpc/grpc-js-xds installed at the pinned version?`);
    process.exit(1);
  }
}
for (const dir of ["envoy", "xds", "udpa", "validate", "google"])
  rmSync(join(out, dir), { recursive: true, force: true });
const onlyProtos = (p) => statSync(p).isDirectory() || p.endsWith(".proto");
for (const [src, dest] of sources) cpSync(src, join(out, dest), { recursive: true, filter: onlyProtos });
mkdirSync(join(out, "google/protobuf"), { recursive: true });
for (const f of wktFiles) cpSync(join(wkt, `${f}.proto`), join(out, "google/protobuf", `${f}.proto`));

function* walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.name.endsWith(".proto")) yield p;
  }
}
const h = createHash("sha256");
let n = 0;
for (const dir of ["envoy", "google", "udpa", "validate", "xds"]) {
  for (const f of walk(join(out, dir))) {
    h.update(relative(out, f)).update("\0").update(readFileSync(f)).update("\0");
    n++;
  }
}
const digest = h.digest("hex");
if (process.env.UPDATE_PROTOS_PIN === "1") {
  writeFileSync(join(out, "PINNED"), `sha256 ${digest}\nfiles ${n}\n`);
}
const pinned = readFileSync(join(out, "PINNED"), "utf8").match(/^sha256 ([0-9a-f]{64})$/m)?.[1];
if (pinned !== digest) {
  console.error(`sync-protos: tree digest ${digest} (${n} files) differs from envoy-api-protos/PINNED (${pinned}).`);
  console.error(
    "If you upgraded the source packages on purpose, re-run with UPDATE_PROTOS_PIN=1 and update README.md.",
  );
  process.exit(1);
}
// index.json: the v3 Envoy protos whose imports are all present (a few tracing and
// metrics extensions import OpenCensus/OpenTelemetry/Prometheus protos that the
// source package does not ship; those files are listed as unavailable).
const all = new Map();
for (const dir of ["envoy", "google", "udpa", "validate", "xds"]) {
  for (const f of walk(join(out, dir))) {
    const text = readFileSync(f, "utf8");
    all.set(
      relative(out, f),
      [...text.matchAll(/^import\s+(?:public\s+)?"([^"]+)";/gm)].map((m) => m[1]),
    );
  }
}
const loadable = new Map();
const isLoadable = (f, seen = new Set()) => {
  if (loadable.has(f)) return loadable.get(f);
  if (!all.has(f)) return false;
  if (seen.has(f)) return true;
  seen.add(f);
  const ok = all.get(f).every((i) => isLoadable(i, seen));
  loadable.set(f, ok);
  return ok;
};
const v3 = [...all.keys()].filter((f) => f.startsWith("envoy/") && /\/v3(alpha)?\//.test(f)).sort();
const index = { load: v3.filter((f) => isLoadable(f)), unavailable: v3.filter((f) => !isLoadable(f)) };
writeFileSync(join(out, "index.json"), `${JSON.stringify(index, null, 1)}\n`);
console.log(`sync-protos: ${n} proto files in envoy-api-protos/ (sha256 ${digest.slice(0, 12)})`);
