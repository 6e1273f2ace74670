// envoy/ owns the Envoy API: loading the pinned protos (envoy-api-protos/), type
// URLs, Any packing, and encoding resources. It must not import xds/, translate/
// or config/.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";

const here = dirname(fileURLToPath(import.meta.url));
/** Directory holding the pinned Envoy API protos (populated by `npm install`). */
export const PROTO_DIR = findProtoDir(here);

function findProtoDir(start: string): string {
  // Works from src/envoy (tests) and dist/src/envoy (compiled).
  let dir = start;
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, "envoy-api-protos");
    try {
      readFileSync(join(candidate, "index.json"));
      return candidate;
    } catch {
      dir = dirname(dir);
    }
  }
  throw new Error("envoy-api-protos/index.json not found: run `npm install` to populate the Envoy API protos");
}

/** Options shared by every decoder, so requests and test clients see the same shapes. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

let rootCache: protobuf.Root | undefined;

/**
 * The protobufjs root holding every loadable v3 Envoy message, so any extension
 * config packed into an Any can be encoded and decoded. Loaded once (~0.5 s).
 */
export function envoyRoot(): protobuf.Root {
  if (rootCache) return rootCache;
  const index = JSON.parse(readFileSync(join(PROTO_DIR, "index.json"), "utf8")) as { load: string[] };
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(PROTO_DIR, target);
  root.loadSync(index.load, { keepCase: true });
  root.resolveAll();
  // protobufjs resolves an Any's "@type" with a namespace walk on every
  // fromObject (thousands per push); the root never changes once loaded, so
  // remember each answer.
  const any = root.lookupType("google.protobuf.Any");
  const lookup = any.lookup.bind(any);
  const found = new Map<string, ReturnType<typeof lookup>>();
  any.lookup = ((path: string | string[], ...rest: unknown[]) => {
    if (typeof path !== "string" || rest.length > 0) return (lookup as (...a: unknown[]) => unknown)(path, ...rest);
    let hit = found.get(path);
    if (hit === undefined) {
      hit = lookup(path);
      found.set(path, hit);
    }
    return hit;
  }) as typeof any.lookup;
  rootCache = root;
  return root;
}

const typeCache = new Map<string, protobuf.Type>();

/** Looks up a message type by full name (`envoy.config.cluster.v3.Cluster`). */
export function messageType(fullName: string): protobuf.Type {
  let t = typeCache.get(fullName);
  if (!t) {
    t = envoyRoot().lookupType(fullName);
    typeCache.set(fullName, t);
  }
  return t;
}

/** The xDS discovery services, loaded with @grpc/proto-loader. */
export function discoveryPackage(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(
    [
      "envoy/service/discovery/v3/ads.proto",
      "envoy/service/listener/v3/lds.proto",
      "envoy/service/route/v3/rds.proto",
      "envoy/service/cluster/v3/cds.proto",
      "envoy/service/endpoint/v3/eds.proto",
      "envoy/service/secret/v3/sds.proto",
    ],
    LOADER_OPTIONS,
  );
}
