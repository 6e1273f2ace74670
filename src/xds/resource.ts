// Encoded xDS resources and the wire envelopes that carry them.
//
// A resource is serialised exactly once (`encodeResource`), when the translator
// hands it over; its version is a hash of those bytes, so two resources with the
// same content have the same version whoever built them, and a Delta client is
// never sent a resource it already has. Responses are assembled from the cached
// bytes by hand (DiscoveryResponse and DeltaDiscoveryResponse are a handful of
// fields), so sending the same resource to 1,000 proxies costs 1,000 memcpy's,
// not 1,000 encodes.
import { createHash } from "node:crypto";
import protobuf from "protobufjs";
import { messageType } from "../envoy/protos.js";
import { messageNameOf } from "../envoy/type-urls.js";

export interface EncodedResource {
  readonly typeUrl: string;
  readonly name: string;
  /** Content hash of `bytes`: stable across processes and proxies. */
  readonly version: string;
  /** The serialised resource message (the `value` of its Any). */
  readonly bytes: Uint8Array;
  /** The plain object it was encoded from, for /debug/config_dump. */
  readonly source: unknown;
}

interface WireCache {
  any?: Uint8Array;
  delta?: Uint8Array;
  /** The Any as DiscoveryResponse field 2 (tag and length included), ready to concatenate. */
  sotwField?: Uint8Array;
  /** The Resource as DeltaDiscoveryResponse field 2, ready to concatenate. */
  deltaField?: Uint8Array;
}
const wire = new WeakMap<EncodedResource, WireCache>();
const encoded = new WeakMap<object, EncodedResource>();

export type EncodeResult = { ok: true; value: EncodedResource } | { ok: false; error: string };

/**
 * Encodes a resource object (proto-loader input shape: snake_case fields, Any
 * as `{ "@type": ..., ...fields }`) of the given type. Cached by object
 * identity: translators that share objects between proxies share the bytes.
 */
export function encodeResource(typeUrl: string, name: string, resource: object): EncodeResult {
  const cached = encoded.get(resource);
  if (cached && cached.typeUrl === typeUrl && cached.name === name) return { ok: true, value: cached };
  const type = messageType(messageNameOf(typeUrl));
  // fromObject is lenient (unknown fields are dropped); translator output is held
  // to the schema strictly by the golden tests (envoy/proto-json.ts), not here on
  // the hot path.
  let bytes: Uint8Array;
  try {
    bytes = type.encode(type.fromObject(resource)).finish();
  } catch (err) {
    return { ok: false, error: `${messageNameOf(typeUrl)} ${name}: ${(err as Error).message}` };
  }
  const value: EncodedResource = { typeUrl, name, version: contentVersion(bytes), bytes, source: resource };
  encoded.set(resource, value);
  return { ok: true, value };
}

/** Wraps already-serialised bytes (e.g. from another encoder) as a resource. */
export function encodedFromBytes(typeUrl: string, name: string, bytes: Uint8Array, source: unknown): EncodedResource {
  return { typeUrl, name, version: contentVersion(bytes), bytes, source };
}

export function contentVersion(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("base64url").slice(0, 16);
}

/**
 * A version for a whole set of resources (SotW `version_info`): equal sets give
 * equal versions, in any order. It is computed for every response, so it is a
 * sum of per-resource 64-bit hashes (cached per resource), not a hash of a sorted
 * list: O(n) with no allocation per resource.
 */
export function setVersion(resources: Iterable<EncodedResource>): string {
  let hi = 0;
  let lo = 0;
  let n = 0;
  for (const r of resources) {
    const h = memberHash(r);
    hi = (hi + h[0]) >>> 0;
    lo = (lo + h[1]) >>> 0;
    n++;
  }
  return formatSetVersion(n, hi, lo);
}

/** setVersion from its parts (count and the two 32-bit sums), for sets that keep their sums as they change. */
export function formatSetVersion(n: number, hi: number, lo: number): string {
  return `${n.toString(36)}-${hi.toString(16).padStart(8, "0")}${lo.toString(16).padStart(8, "0")}`;
}

const memberHashes = new WeakMap<EncodedResource, readonly [number, number]>();

/** Two 32-bit FNV-1a hashes (different offsets) of `name NUL version`. */
export function memberHash(r: EncodedResource): readonly [number, number] {
  let h = memberHashes.get(r);
  if (!h) {
    let a = 0x811c9dc5;
    let b = 0x01000193 ^ 0x5bd1e995;
    const s = `${r.name}\u0000${r.version}`;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
    }
    h = [a >>> 0, b >>> 0];
    memberHashes.set(r, h);
  }
  return h;
}

/** google.protobuf.Any { type_url = 1; value = 2 } */
function anyBytes(r: EncodedResource): Uint8Array {
  let c = wire.get(r);
  if (!c) {
    c = {};
    wire.set(r, c);
  }
  if (!c.any) c.any = protobuf.Writer.create().uint32(0x0a).string(r.typeUrl).uint32(0x12).bytes(r.bytes).finish();
  return c.any;
}

/** envoy.service.discovery.v3.Resource { version = 1; resource = 2; name = 3 } */
function deltaResourceBytes(r: EncodedResource): Uint8Array {
  let c = wire.get(r);
  if (!c) {
    c = {};
    wire.set(r, c);
  }
  if (!c.delta) {
    c.delta = protobuf.Writer.create()
      .uint32(0x0a)
      .string(r.version)
      .uint32(0x12)
      .bytes(anyBytes(r))
      .uint32(0x1a)
      .string(r.name)
      .finish();
  }
  return c.delta;
}

/** `bytes` as a length-delimited field 2 (tag 0x12): a response's repeated resources entry. */
function field2(bytes: Uint8Array): Uint8Array {
  return protobuf.Writer.create().uint32(0x12).bytes(bytes).finish();
}

function sotwField(r: EncodedResource): Uint8Array {
  const c = wire.get(r) ?? {};
  if (!c.sotwField) {
    c.sotwField = field2(anyBytes(r));
    wire.set(r, c);
  }
  return c.sotwField;
}

function deltaField(r: EncodedResource): Uint8Array {
  const c = wire.get(r) ?? {};
  if (!c.deltaField) {
    c.deltaField = field2(deltaResourceBytes(r));
    wire.set(r, c);
  }
  return c.deltaField;
}

/**
 * A resource map made of disjoint parts, iterated part after part (views merge
 * a shared outbound map with a small per-workload inbound one). A response
 * sending all of it is built from each part's cached body, so nothing is cached
 * per combination.
 */
export interface ComposedResources {
  readonly parts: readonly ReadonlyMap<string, EncodedResource>[];
}

function partsOf(m: ReadonlyMap<string, EncodedResource>): readonly ReadonlyMap<string, EncodedResource>[] {
  const parts = (m as Partial<ComposedResources>).parts;
  return parts ?? [m];
}

/**
 * The resources part of a response sending every resource of `all`, in its
 * order: identical for every stream of a view, so built once per map.
 */
const bodies = new WeakMap<ReadonlyMap<string, EncodedResource>, Buffer>();
/** Same, for `names` (a shared subscription) looked up in a map, every one present. */
const namedBodies = new WeakMap<ReadonlyMap<string, EncodedResource>, WeakMap<ReadonlySet<string>, Buffer>>();

function bodyOf(resources: readonly EncodedResource[], field: (r: EncodedResource) => Uint8Array): Buffer {
  return Buffer.concat(resources.map(field));
}

export interface SotwResponse {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  resources: readonly EncodedResource[];
  controlPlane?: string;
  /** `resources` are exactly this map's values in its order: the encoded body is shared through it. */
  allOf?: ReadonlyMap<string, EncodedResource>;
  /** With `allOf`: `resources` are instead `allOf.get(n)` for every name of this set, in its order. */
  names?: ReadonlySet<string>;
}

/**
 * envoy.service.discovery.v3.DiscoveryResponse, assembled from cached resource
 * bytes: each resource is pre-framed as a field once, and the resources of a
 * full-state response are concatenated once per resource map, so a response to
 * one more proxy of a view is three memcpy's (fields may come in any order on
 * the wire, but these stay in field order).
 */
export function encodeSotwResponse(res: SotwResponse): Buffer {
  const map = res.allOf;
  let body: Buffer[];
  if (map && res.names) {
    let byNames = namedBodies.get(map);
    let b = byNames?.get(res.names);
    if (!b) {
      b = bodyOf(res.resources, sotwField);
      if (!byNames) {
        byNames = new WeakMap();
        namedBodies.set(map, byNames);
      }
      byNames.set(res.names, b);
    }
    body = [b];
  } else if (map) {
    body = partsOf(map).map((part) => {
      let b = bodies.get(part);
      if (!b) {
        b = bodyOf([...part.values()], sotwField);
        bodies.set(part, b);
      }
      return b;
    });
  } else body = [bodyOf(res.resources, sotwField)];
  const head = protobuf.Writer.create().uint32(0x0a).string(res.versionInfo).finish();
  const w = protobuf.Writer.create();
  w.uint32(0x22).string(res.typeUrl);
  w.uint32(0x2a).string(res.nonce);
  if (res.controlPlane) w.uint32(0x32).fork().uint32(0x0a).string(res.controlPlane).ldelim();
  return Buffer.concat([head, ...body, w.finish()]);
}

export interface DeltaResponse {
  systemVersionInfo: string;
  typeUrl: string;
  nonce: string;
  resources: readonly EncodedResource[];
  removed: readonly string[];
  controlPlane?: string;
}

/** envoy.service.discovery.v3.DeltaDiscoveryResponse, assembled from cached resource bytes. */
export function encodeDeltaResponse(res: DeltaResponse): Buffer {
  const head = protobuf.Writer.create().uint32(0x0a).string(res.systemVersionInfo).finish();
  const body = bodyOf(res.resources, deltaField);
  const w = protobuf.Writer.create();
  w.uint32(0x22).string(res.typeUrl);
  w.uint32(0x2a).string(res.nonce);
  for (const name of res.removed) w.uint32(0x32).string(name);
  if (res.controlPlane) w.uint32(0x3a).fork().uint32(0x0a).string(res.controlPlane).ldelim();
  return Buffer.concat([head, body, w.finish()]);
}
