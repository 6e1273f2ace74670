// envoy/proto-json.ts owns the proto3 JSON mapping of Envoy messages, checked
// strictly against the protobufjs reflection of envoyRoot(): every field must be
// known to the schema (Envoy would reject it, or worse, a typo would silently be
// ignored), every value must have the JSON type the mapping prescribes.
// `checkProtoJson` turns JSON into an encodable message; `toProtoJson` turns a
// message or its bytes back into canonical JSON with snake_case names (golden
// files, /debug/config_dump). Mapping rules:
// https://protobuf.dev/programming-guides/json/
// It must not import xds/, translate/ or config/.
import protobuf from "protobufjs";
import { envoyRoot } from "./protos.js";

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface ProtoJsonError {
  /** Where the problem is: `static_resources.listeners[0].filter_chains[0].filters[0].typed_config.stat_prefix`. */
  path: string;
  message: string;
}

export type ProtoJsonResult = { ok: true; message: protobuf.Message } | { ok: false; errors: ProtoJsonError[] };

/**
 * Checks `json` against the proto3 JSON mapping of `typeName` (a full message
 * name, optionally with a leading "." or a `type.googleapis.com/` prefix) and
 * converts it to a protobufjs message ready for `encode()`. Accepts both the
 * proto field name and its lowerCamelCase JSON name, as proto3 JSON parsers do.
 * Never throws on bad input: every problem found is returned with its path.
 */
export function checkProtoJson(typeName: string, json: unknown, root: protobuf.Root = envoyRoot()): ProtoJsonResult {
  const type = lookupMessage(root, typeName);
  if (!type) return { ok: false, errors: [{ path: "", message: `unknown message type "${typeName}"` }] };
  const reader = new JsonReader(root);
  const object = reader.value(type, json, "");
  if (reader.errors.length > 0 || object === undefined) return { ok: false, errors: reader.errors };
  try {
    return { ok: true, message: type.fromObject(object as Record<string, unknown>) };
  } catch (err) {
    // Every value was checked above, so this is a bug in the reader, not bad input.
    return { ok: false, errors: [{ path: "", message: `internal: fromObject failed: ${(err as Error).message}` }] };
  }
}

/**
 * Canonical proto3 JSON of a message (or of its wire bytes), with the proto
 * field names (snake_case) as keys: Any expanded to `@type` plus the fields of
 * the packed message, Duration/Timestamp as strings, Struct as plain JSON,
 * wrappers as plain values, 64-bit integers as strings, fields holding their
 * default value (without presence) left out. Output keys follow field order;
 * sort them when writing files.
 *
 * Throws if the type is unknown or an Any holds a type that envoyRoot() cannot
 * resolve: both mean we produced something we cannot describe, which is a bug.
 */
export function toProtoJson(
  typeName: string,
  message: protobuf.Message | Uint8Array,
  root: protobuf.Root = envoyRoot(),
): JsonValue {
  const type = lookupMessage(root, typeName);
  if (!type) throw new Error(`unknown message type "${typeName}"`);
  const decoded = message instanceof Uint8Array ? type.decode(message) : message;
  return new JsonWriter(root).value(type, decoded as unknown as Record<string, unknown>, "");
}

// ---------------------------------------------------------------------------
// Type lookup and names

function lookupMessage(root: protobuf.Root, typeName: string): protobuf.Type | undefined {
  const slash = typeName.lastIndexOf("/");
  const name = slash >= 0 ? typeName.slice(slash + 1) : typeName;
  if (name === "") return undefined;
  const found = root.lookup(name.startsWith(".") ? name : `.${name}`);
  return found instanceof protobuf.Type ? found : undefined;
}

/** protoc's ToJsonName: drop each underscore and upper-case the letter after it. */
export function jsonNameOf(protoName: string): string {
  let out = "";
  let upper = false;
  for (const ch of protoName) {
    if (ch === "_") {
      upper = true;
    } else {
      out += upper ? ch.toUpperCase() : ch;
      upper = false;
    }
  }
  return out;
}

function jsonNameOfField(field: protobuf.Field): string {
  const explicit = (field.options as Record<string, unknown> | undefined)?.json_name;
  return typeof explicit === "string" ? explicit : jsonNameOf(field.name);
}

const fieldIndexCache = new WeakMap<protobuf.Type, Map<string, protobuf.Field>>();

/** Both spellings of every field: `stat_prefix` and `statPrefix`. */
function fieldIndex(type: protobuf.Type): Map<string, protobuf.Field> {
  let index = fieldIndexCache.get(type);
  if (!index) {
    index = new Map();
    for (const field of type.fieldsArray) {
      index.set(field.name, field);
      index.set(jsonNameOfField(field), field);
    }
    fieldIndexCache.set(type, index);
  }
  return index;
}

/** A oneof made up by protoc for a proto3 `optional` field: not a real choice. */
function isSyntheticOneof(oneof: protobuf.OneOf): boolean {
  return oneof.oneof.length === 1 && oneof.name.startsWith("_");
}

/** proto3 fields without presence are not serialised when they hold their default. */
function tracksPresence(field: protobuf.Field): boolean {
  if (field.repeated || field.map) return false;
  if (field.resolvedType instanceof protobuf.Type) return true;
  return field.hasPresence;
}

function keyPath(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function mapPath(path: string, key: string): string {
  return `${path}[${JSON.stringify(key)}]`;
}

function jsonKind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (value instanceof Uint8Array) return "bytes";
  return typeof value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

// ---------------------------------------------------------------------------
// Well-known types with a special JSON mapping

/** The scalar each google.protobuf wrapper type carries. */
export const WRAPPERS: Readonly<Record<string, string>> = {
  ".google.protobuf.DoubleValue": "double",
  ".google.protobuf.FloatValue": "float",
  ".google.protobuf.Int64Value": "int64",
  ".google.protobuf.UInt64Value": "uint64",
  ".google.protobuf.Int32Value": "int32",
  ".google.protobuf.UInt32Value": "uint32",
  ".google.protobuf.BoolValue": "bool",
  ".google.protobuf.StringValue": "string",
  ".google.protobuf.BytesValue": "bytes",
};

/** Types whose JSON is not an object of their fields; inside an Any they sit under "value". */
function hasSpecialJson(type: protobuf.Type): boolean {
  switch (type.fullName) {
    case ".google.protobuf.Any":
    case ".google.protobuf.Duration":
    case ".google.protobuf.Timestamp":
    case ".google.protobuf.Struct":
    case ".google.protobuf.Value":
    case ".google.protobuf.ListValue":
    case ".google.protobuf.FieldMask":
      return true;
    default:
      return type.fullName in WRAPPERS;
  }
}

interface ValueFieldNames {
  null: string;
  number: string;
  string: string;
  bool: string;
  struct: string;
  list: string;
}

const valueFieldNamesCache = new WeakMap<protobuf.Root, ValueFieldNames>();

/**
 * The field names of google.protobuf.Value, found by field number: protobufjs
 * replaces struct.proto with its bundled copy, whose names are camelCase
 * (`numberValue`) even when loaded with keepCase, unlike every other type here.
 */
function valueFieldNames(root: protobuf.Root): ValueFieldNames {
  let names = valueFieldNamesCache.get(root);
  if (!names) {
    const type = root.lookupType(".google.protobuf.Value");
    const name = (id: number) => {
      const field = type.fieldsById[id];
      if (!field) throw new Error(`google.protobuf.Value has no field ${id}`);
      return field.name;
    };
    names = { null: name(1), number: name(2), string: name(3), bool: name(4), struct: name(5), list: name(6) };
    valueFieldNamesCache.set(root, names);
  }
  return names;
}

const MAX_DURATION_SECONDS = 315_576_000_000n; // ±10,000 years, as duration.proto says
const MIN_TIMESTAMP_SECONDS = -62_135_596_800; // 0001-01-01T00:00:00Z
const MAX_TIMESTAMP_SECONDS = 253_402_300_799; // 9999-12-31T23:59:59Z
const FLOAT_MAX = 3.4028234663852886e38;
const FLOAT_PATTERN = /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

const INT_RANGES: Record<string, [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

function is64Bit(scalar: string): boolean {
  return scalar.endsWith("64") && scalar !== "double";
}

// ---------------------------------------------------------------------------
// JSON → object shape accepted by Type.fromObject

const DROP = Symbol("drop"); // a null or default value: leave the field out

class JsonReader {
  readonly errors: ProtoJsonError[] = [];

  constructor(private readonly root: protobuf.Root) {}

  private fail(path: string, message: string): undefined {
    this.errors.push({ path, message });
    return undefined;
  }

  /** A message value (any type, well-known or not) at `path`. */
  value(type: protobuf.Type, json: unknown, path: string): unknown {
    switch (type.fullName) {
      case ".google.protobuf.Any":
        return this.any(json, path);
      case ".google.protobuf.Duration":
        return this.duration(json, path);
      case ".google.protobuf.Timestamp":
        return this.timestamp(json, path);
      case ".google.protobuf.Struct":
        return this.struct(json, path);
      case ".google.protobuf.Value":
        return this.structValue(json, path);
      case ".google.protobuf.ListValue":
        return this.listValue(json, path);
      case ".google.protobuf.FieldMask":
        return this.fieldMask(json, path);
    }
    const wrapped = WRAPPERS[type.fullName];
    if (wrapped !== undefined) {
      const value = this.scalar(wrapped, json, path);
      if (value === undefined) return undefined;
      return isDefaultScalar(value) ? {} : { value };
    }
    return this.fields(type, json, path, false);
  }

  /** An ordinary message: a JSON object of its fields. */
  private fields(type: protobuf.Type, json: unknown, path: string, insideAny: boolean): unknown {
    if (!isPlainObject(json)) {
      return this.fail(path, `expected an object for ${type.fullName.slice(1)}, got ${jsonKind(json)}`);
    }
    const index = fieldIndex(type);
    const out: Record<string, unknown> = {};
    const seen = new Map<protobuf.Field, string>();
    const oneofSetBy = new Map<protobuf.OneOf, string>();
    const errorsBefore = this.errors.length;
    for (const [key, raw] of Object.entries(json)) {
      if (insideAny && key === "@type") continue;
      const path2 = keyPath(path, key);
      const field = index.get(key);
      if (!field) {
        this.fail(path2, unknownFieldMessage(type, key));
        continue;
      }
      const twin = seen.get(field);
      if (twin !== undefined) {
        this.fail(path2, `field "${field.name}" is already set as "${twin}"`);
        continue;
      }
      seen.set(field, key);
      const value = this.field(field, raw, path2);
      if (value === undefined || value === DROP) continue;
      const oneof = field.partOf;
      if (oneof && !isSyntheticOneof(oneof)) {
        const other = oneofSetBy.get(oneof);
        if (other !== undefined) {
          this.fail(
            path2,
            `oneof "${oneof.name}" is already set by "${other}"; at most one of ${oneof.oneof.join(", ")}`,
          );
          continue;
        }
        oneofSetBy.set(oneof, key);
      }
      out[field.name] = value;
    }
    return this.errors.length > errorsBefore ? undefined : out;
  }

  /** One field's JSON value; DROP when it should be left out. */
  private field(field: protobuf.Field, json: unknown, path: string): unknown {
    if (field.map) {
      if (json === null) return DROP;
      return this.map(field as unknown as protobuf.MapField, json, path);
    }
    if (field.repeated) {
      if (json === null) return DROP;
      if (!Array.isArray(json)) return this.fail(path, `expected an array, got ${jsonKind(json)}`);
      const out: unknown[] = [];
      let failed = false;
      json.forEach((item, i) => {
        const value = this.single(field, item, `${path}[${i}]`, false);
        if (value === undefined) failed = true;
        else out.push(value);
      });
      if (failed) return undefined;
      return out.length === 0 ? DROP : out;
    }
    const value = this.single(field, json, path, true);
    if (value === undefined || value === DROP) return value;
    if (!tracksPresence(field) && isDefaultScalar(value)) return DROP;
    return value;
  }

  /** A single (non-repeated) value of the field's type. */
  private single(field: protobuf.Field, json: unknown, path: string, nullMeansUnset: boolean): unknown {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) {
      // null is "not set" for every message field except Value, where it is the JSON null.
      if (json === null && resolved.fullName !== ".google.protobuf.Value") {
        return nullMeansUnset ? DROP : this.fail(path, "null is not allowed here");
      }
      return this.value(resolved, json, path);
    }
    if (resolved instanceof protobuf.Enum) {
      if (json === null && resolved.fullName !== ".google.protobuf.NullValue") {
        return nullMeansUnset ? DROP : this.fail(path, "null is not allowed here");
      }
      return this.enumValue(resolved, json, path);
    }
    if (json === null) return nullMeansUnset ? DROP : this.fail(path, "null is not allowed here");
    return this.scalar(field.type, json, path);
  }

  private map(field: protobuf.MapField, json: unknown, path: string): unknown {
    if (!isPlainObject(json)) return this.fail(path, `expected an object (map), got ${jsonKind(json)}`);
    const out: Record<string, unknown> = {};
    let failed = false;
    for (const [key, raw] of Object.entries(json)) {
      const path2 = mapPath(path, key);
      const mapKey = this.mapKey(field.keyType, key, path2);
      const value = this.single(field as unknown as protobuf.Field, raw, path2, false);
      if (mapKey === undefined || value === undefined) {
        failed = true;
        continue;
      }
      out[mapKey] = value;
    }
    if (failed) return undefined;
    return Object.keys(out).length === 0 ? DROP : out;
  }

  private mapKey(keyType: string, key: string, path: string): string | undefined {
    if (keyType === "string") return key;
    if (keyType === "bool") {
      if (key === "true" || key === "false") return key;
      return this.fail(path, `map key must be "true" or "false", got "${key}"`);
    }
    const value = this.scalar(keyType, key, path);
    return value === undefined ? undefined : String(value);
  }

  private enumValue(type: protobuf.Enum, json: unknown, path: string): number | undefined {
    const name = type.fullName.slice(1);
    if (type.fullName === ".google.protobuf.NullValue" && json === null) return 0;
    if (typeof json === "string") {
      const value = type.values[json];
      if (value === undefined) {
        return this.fail(
          path,
          `unknown value "${json}" for enum ${name}; known: ${Object.keys(type.values).join(", ")}`,
        );
      }
      return value;
    }
    if (typeof json === "number") {
      if (!Number.isInteger(json) || type.valuesById[json] === undefined) {
        return this.fail(path, `unknown value ${json} for enum ${name}`);
      }
      return json;
    }
    return this.fail(path, `expected an enum name (string) for ${name}, got ${jsonKind(json)}`);
  }

  /** A scalar in fromObject shape: numbers, decimal strings for 64-bit integers, Uint8Array for bytes. */
  private scalar(scalar: string, json: unknown, path: string): unknown {
    switch (scalar) {
      case "string":
        return typeof json === "string" ? json : this.fail(path, `expected a string, got ${jsonKind(json)}`);
      case "bool":
        return typeof json === "boolean" ? json : this.fail(path, `expected a boolean, got ${jsonKind(json)}`);
      case "bytes":
        return this.bytes(json, path);
      case "double":
      case "float":
        return this.floating(scalar, json, path);
      default:
        return this.integer(scalar, json, path);
    }
  }

  private integer(scalar: string, json: unknown, path: string): number | string | undefined {
    const range = INT_RANGES[scalar];
    if (!range) return this.fail(path, `unsupported scalar type ${scalar}`);
    let value: bigint;
    if (typeof json === "number") {
      if (!Number.isInteger(json)) return this.fail(path, `expected an integer (${scalar}), got ${json}`);
      if (!Number.isSafeInteger(json)) {
        return this.fail(path, `${json} cannot be represented exactly as a JSON number; write it as a string`);
      }
      value = BigInt(json);
    } else if (typeof json === "string") {
      // proto3 JSON accepts integers as strings too, and in exponent form ("1e3") as long as the value is whole.
      if (/^-?\d+$/.test(json)) {
        value = BigInt(json);
      } else {
        const n = FLOAT_PATTERN.test(json) ? Number(json) : Number.NaN;
        if (!Number.isSafeInteger(n)) return this.fail(path, `expected an integer (${scalar}), got "${json}"`);
        value = BigInt(n);
      }
    } else {
      return this.fail(path, `expected an integer (${scalar}), got ${jsonKind(json)}`);
    }
    if (value < range[0] || value > range[1]) {
      return this.fail(path, `${value} is out of range for ${scalar}`);
    }
    return is64Bit(scalar) ? value.toString() : Number(value);
  }

  private floating(scalar: "double" | "float", json: unknown, path: string): number | undefined {
    let value: number;
    if (typeof json === "number") {
      value = json;
    } else if (typeof json === "string") {
      if (json === "NaN") value = Number.NaN;
      else if (json === "Infinity") value = Number.POSITIVE_INFINITY;
      else if (json === "-Infinity") value = Number.NEGATIVE_INFINITY;
      else if (FLOAT_PATTERN.test(json)) value = Number(json);
      else return this.fail(path, `expected a number (${scalar}), got "${json}"`);
    } else {
      return this.fail(path, `expected a number (${scalar}), got ${jsonKind(json)}`);
    }
    if (scalar === "float" && Number.isFinite(value) && Math.abs(value) > FLOAT_MAX) {
      return this.fail(path, `${value} is out of range for float`);
    }
    if (typeof json === "number" && !Number.isFinite(value)) {
      // JSON has no NaN/Infinity literals; a YAML .nan ends up here.
      return this.fail(path, `write ${value} as the string "${value}"`);
    }
    return value;
  }

  private bytes(json: unknown, path: string): Uint8Array | undefined {
    if (typeof json !== "string") return this.fail(path, `expected a base64 string, got ${jsonKind(json)}`);
    // Standard or URL-safe alphabet, padding optional (proto3 JSON accepts both).
    if (!/^[A-Za-z0-9+/\-_]*={0,2}$/.test(json) || json.replace(/=+$/, "").length % 4 === 1) {
      return this.fail(path, "expected base64");
    }
    return new Uint8Array(Buffer.from(json, "base64"));
  }

  private any(json: unknown, path: string): unknown {
    if (!isPlainObject(json))
      return this.fail(path, `expected an object for google.protobuf.Any, got ${jsonKind(json)}`);
    const typeUrl = json["@type"];
    if (typeUrl === undefined) {
      if (Object.keys(json).length === 0) return {};
      return this.fail(keyPath(path, "@type"), "google.protobuf.Any needs an @type");
    }
    if (typeof typeUrl !== "string") {
      return this.fail(keyPath(path, "@type"), `expected a type URL string, got ${jsonKind(typeUrl)}`);
    }
    const slash = typeUrl.lastIndexOf("/");
    if (slash < 0) {
      return this.fail(keyPath(path, "@type"), `"${typeUrl}" is not a type URL (type.googleapis.com/<message name>)`);
    }
    const inner = lookupMessage(this.root, typeUrl);
    if (!inner) return this.fail(keyPath(path, "@type"), `unknown type "${typeUrl.slice(slash + 1)}"`);
    let object: unknown;
    if (hasSpecialJson(inner)) {
      // The packed message's own JSON is not an object of fields, so it sits under "value".
      const errorsBefore = this.errors.length;
      for (const key of Object.keys(json)) {
        if (key !== "@type" && key !== "value") {
          this.fail(
            keyPath(path, key),
            `unknown field "${key}": an Any holding ${inner.fullName.slice(1)} has only "value"`,
          );
        }
      }
      if (!("value" in json))
        return this.fail(keyPath(path, "value"), `missing "value" for ${inner.fullName.slice(1)}`);
      object = this.value(inner, json.value, keyPath(path, "value"));
      if (this.errors.length > errorsBefore) return undefined;
    } else if (inner.fullName === ".google.protobuf.Empty" && "value" in json) {
      // Some serialisers (Go's protojson) write Empty under "value"; accept it.
      object = this.fields(inner, json.value, keyPath(path, "value"), false);
      for (const key of Object.keys(json)) {
        if (key !== "@type" && key !== "value") this.fail(keyPath(path, key), unknownFieldMessage(inner, key));
      }
    } else {
      object = this.fields(inner, json, path, true);
    }
    if (object === undefined) return undefined;
    try {
      const value = inner.encode(inner.fromObject(object as Record<string, unknown>)).finish();
      return { type_url: typeUrl, value };
    } catch (err) {
      return this.fail(path, `internal: cannot encode ${inner.fullName.slice(1)}: ${(err as Error).message}`);
    }
  }

  private duration(json: unknown, path: string): unknown {
    if (typeof json !== "string") {
      return this.fail(path, `expected a duration string such as "1.5s", got ${jsonKind(json)}`);
    }
    const m = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(json);
    if (!m) return this.fail(path, `expected a duration such as "1.5s" (seconds, up to 9 decimals), got "${json}"`);
    const negative = m[1] === "-";
    const seconds = BigInt(m[2] ?? "0");
    if (seconds > MAX_DURATION_SECONDS) return this.fail(path, `duration "${json}" is out of range`);
    const nanos = Number((m[3] ?? "").padEnd(9, "0"));
    return durationObject(negative ? -seconds : seconds, negative ? -nanos : nanos);
  }

  private timestamp(json: unknown, path: string): unknown {
    if (typeof json !== "string") {
      return this.fail(path, `expected an RFC 3339 timestamp string, got ${jsonKind(json)}`);
    }
    const m =
      /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/.exec(json);
    if (!m) return this.fail(path, `expected an RFC 3339 timestamp such as "1972-01-01T10:00:20.021Z", got "${json}"`);
    const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const date = new Date(0);
    date.setUTCFullYear(year, month - 1, day); // not Date.UTC: it maps years 0-99 to 1900-1999
    date.setUTCHours(hour, minute, second, 0);
    if (
      date.getUTCFullYear() !== year ||
      date.getUTCMonth() !== month - 1 ||
      date.getUTCDate() !== day ||
      date.getUTCHours() !== hour ||
      date.getUTCMinutes() !== minute ||
      date.getUTCSeconds() !== second
    ) {
      return this.fail(path, `"${json}" is not a valid date and time`);
    }
    let seconds = Math.floor(date.getTime() / 1000);
    if (m[9] !== undefined) {
      const offset = (Number(m[10]) * 60 + Number(m[11])) * 60;
      seconds += m[9] === "-" ? offset : -offset;
    }
    if (seconds < MIN_TIMESTAMP_SECONDS || seconds > MAX_TIMESTAMP_SECONDS) {
      return this.fail(path, `timestamp "${json}" is outside 0001-01-01 to 9999-12-31`);
    }
    const nanos = Number((m[7] ?? "").padEnd(9, "0"));
    return durationObject(BigInt(seconds), nanos);
  }

  private struct(json: unknown, path: string): unknown {
    if (!isPlainObject(json))
      return this.fail(path, `expected an object for google.protobuf.Struct, got ${jsonKind(json)}`);
    const fields: Record<string, unknown> = {};
    let failed = false;
    for (const [key, raw] of Object.entries(json)) {
      const value = this.structValue(raw, mapPath(path, key));
      if (value === undefined) failed = true;
      else fields[key] = value;
    }
    return failed ? undefined : { fields };
  }

  private listValue(json: unknown, path: string): unknown {
    if (!Array.isArray(json))
      return this.fail(path, `expected an array for google.protobuf.ListValue, got ${jsonKind(json)}`);
    const values: unknown[] = [];
    let failed = false;
    json.forEach((raw, i) => {
      const value = this.structValue(raw, `${path}[${i}]`);
      if (value === undefined) failed = true;
      else values.push(value);
    });
    return failed ? undefined : { values };
  }

  /** google.protobuf.Value: any JSON value. */
  private structValue(json: unknown, path: string): unknown {
    const names = valueFieldNames(this.root);
    if (json === null) return { [names.null]: 0 };
    switch (typeof json) {
      case "boolean":
        return { [names.bool]: json };
      case "string":
        return { [names.string]: json };
      case "number":
        if (!Number.isFinite(json)) return this.fail(path, `${json} is not a JSON number`);
        return { [names.number]: json };
      case "object": {
        if (Array.isArray(json)) {
          const list = this.listValue(json, path);
          return list === undefined ? undefined : { [names.list]: list };
        }
        const struct = this.struct(json, path);
        return struct === undefined ? undefined : { [names.struct]: struct };
      }
      default:
        return this.fail(path, `${typeof json} is not a JSON value`);
    }
  }

  private fieldMask(json: unknown, path: string): unknown {
    if (typeof json !== "string")
      return this.fail(path, `expected a field mask string such as "a.b,c", got ${jsonKind(json)}`);
    if (json === "") return {};
    const paths: string[] = [];
    for (const p of json.split(",")) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(p)) {
        return this.fail(path, `"${p}" is not a field path`);
      }
      paths.push(p.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
    }
    return { paths };
  }
}

function durationObject(seconds: bigint, nanos: number): unknown {
  const out: Record<string, unknown> = {};
  if (seconds !== 0n) out.seconds = seconds.toString();
  if (nanos !== 0) out.nanos = nanos;
  return out;
}

function isDefaultScalar(value: unknown): boolean {
  if (typeof value === "number") return value === 0 && !Object.is(value, -0);
  if (typeof value === "string") return value === "" || value === "0";
  if (typeof value === "boolean") return !value;
  if (value instanceof Uint8Array) return value.length === 0;
  return false;
}

function unknownFieldMessage(type: protobuf.Type, key: string): string {
  const name = type.fullName.slice(1);
  const suggestion = closestField(type, key);
  return suggestion
    ? `unknown field "${key}" in ${name}; did you mean "${suggestion}"?`
    : `unknown field "${key}" in ${name}`;
}

function closestField(type: protobuf.Type, key: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 4)) + 1;
  for (const field of type.fieldsArray) {
    for (const candidate of [field.name, jsonNameOfField(field)]) {
      const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
      if (d < bestDistance) {
        bestDistance = d;
        best = field.name;
      }
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

// ---------------------------------------------------------------------------
// message → canonical JSON

type Fields = Record<string, unknown>;

function own(message: Fields, name: string): unknown {
  return Object.hasOwn(message, name) ? message[name] : undefined;
}

class JsonWriter {
  constructor(private readonly root: protobuf.Root) {}

  value(type: protobuf.Type, message: Fields, path: string): JsonValue {
    switch (type.fullName) {
      case ".google.protobuf.Any":
        return this.any(message, path);
      case ".google.protobuf.Duration":
        return writeDuration(message);
      case ".google.protobuf.Timestamp":
        return writeTimestamp(message);
      case ".google.protobuf.Struct":
        return this.struct(message);
      case ".google.protobuf.Value":
        return this.structValue(message);
      case ".google.protobuf.ListValue":
        return this.listValue(message);
      case ".google.protobuf.FieldMask":
        return ((own(message, "paths") as string[] | undefined) ?? [])
          .map((p) => p.split(".").map(jsonNameOf).join("."))
          .join(",");
    }
    const wrapped = WRAPPERS[type.fullName];
    if (wrapped !== undefined) {
      const field = type.fields.value;
      const value = own(message, "value") ?? field?.defaultValue;
      return writeScalar(wrapped, value);
    }
    return this.fields(type, message, path);
  }

  fields(type: protobuf.Type, message: Fields, path: string): JsonObject {
    const out: JsonObject = {};
    for (const field of type.fieldsArray) {
      const value = own(message, field.name);
      if (value === undefined || value === null) continue;
      const path2 = keyPath(path, field.name);
      if (field.map) {
        const entries = Object.entries(value as Fields);
        if (entries.length === 0) continue;
        const keyType = (field as unknown as protobuf.MapField).keyType;
        const map: JsonObject = {};
        for (const [key, item] of entries) {
          const jsonKey = is64Bit(keyType) && key.length === 8 ? longHashToString(key, keyType) : key;
          map[jsonKey] = this.single(field, item, mapPath(path2, jsonKey));
        }
        out[field.name] = map;
      } else if (field.repeated) {
        const items = value as unknown[];
        if (items.length === 0) continue;
        out[field.name] = items.map((item, i) => this.single(field, item, `${path2}[${i}]`));
      } else {
        if (!tracksPresence(field) && isDefaultWireValue(value)) continue;
        out[field.name] = this.single(field, value, path2);
      }
    }
    return out;
  }

  private single(field: protobuf.Field, value: unknown, path: string): JsonValue {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Type) return this.value(resolved, value as Fields, path);
    if (resolved instanceof protobuf.Enum) {
      if (resolved.fullName === ".google.protobuf.NullValue") return null;
      if (typeof value === "string") return value;
      return resolved.valuesById[value as number] ?? (value as number);
    }
    return writeScalar(field.type, value);
  }

  private any(message: Fields, path: string): JsonValue {
    const typeUrl = (own(message, "type_url") as string | undefined) ?? "";
    const bytes = (own(message, "value") as Uint8Array | undefined) ?? new Uint8Array();
    if (typeUrl === "") return {};
    const inner = lookupMessage(this.root, typeUrl);
    if (!inner) throw new Error(`${path || "<root>"}: Any holds "${typeUrl}", which envoyRoot() does not know`);
    const decoded = inner.decode(bytes) as unknown as Fields;
    if (hasSpecialJson(inner)) {
      return { "@type": typeUrl, value: this.value(inner, decoded, keyPath(path, "value")) };
    }
    return { "@type": typeUrl, ...this.fields(inner, decoded, path) };
  }

  private struct(message: Fields): JsonObject {
    const out: JsonObject = {};
    for (const [key, value] of Object.entries((own(message, "fields") as Record<string, Fields> | undefined) ?? {})) {
      out[key] = this.structValue(value);
    }
    return out;
  }

  private listValue(message: Fields): JsonValue[] {
    return ((own(message, "values") as Fields[] | undefined) ?? []).map((value) => this.structValue(value));
  }

  private structValue(message: Fields): JsonValue {
    const names = valueFieldNames(this.root);
    if (own(message, names.null) !== undefined) return null;
    for (const name of [names.number, names.string, names.bool]) {
      const value = own(message, name);
      if (value !== undefined) return value as JsonValue;
    }
    const struct = own(message, names.struct);
    if (struct !== undefined && struct !== null) return this.struct(struct as Fields);
    const list = own(message, names.list);
    if (list !== undefined && list !== null) return this.listValue(list as Fields);
    return null; // an unset Value has no JSON form; null is the closest
  }
}

function writeScalar(scalar: string, value: unknown): JsonValue {
  switch (scalar) {
    case "string":
    case "bool":
      return value as string | boolean;
    case "bytes":
      if (typeof value === "string") return value; // already base64 (a plain object)
      return Buffer.from(value as Uint8Array).toString("base64");
    case "double":
      return writeFloating(Number(value));
    case "float":
      return writeFloating(shortestFloat32(Number(value)));
    default:
      if (is64Bit(scalar)) return int64String(value, scalar);
      return Number(value);
  }
}

function writeFloating(value: number): JsonValue {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "Infinity";
  if (value === Number.NEGATIVE_INFINITY) return "-Infinity";
  return value;
}

/** A float32 decodes to a double such as 0.10000000149011612; print the shortest decimal that is the same float. */
function shortestFloat32(value: number): number {
  if (!Number.isFinite(value) || value === 0) return value;
  for (let digits = 1; digits <= 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

function int64String(value: unknown, scalar: string): string {
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  // A Long: read its bits rather than trust its `unsigned` flag.
  return longBits(value as protobuf.Long, scalar === "uint64" || scalar === "fixed64").toString();
}

function longBits(long: protobuf.Long, unsigned: boolean): bigint {
  const bits = (BigInt(long.high >>> 0) << 32n) | BigInt(long.low >>> 0);
  return unsigned ? bits : BigInt.asIntN(64, bits);
}

function longHashToString(hash: string, scalar: string): string {
  const unsigned = scalar === "uint64" || scalar === "fixed64";
  return String(protobuf.util.longFromHash(hash, unsigned));
}

function isDefaultWireValue(value: unknown): boolean {
  if (typeof value === "number") return value === 0 && !Object.is(value, -0);
  if (typeof value === "string") return value === "" || value === "0";
  if (typeof value === "boolean") return !value;
  if (value instanceof Uint8Array) return value.length === 0;
  if (typeof value === "object" && value !== null && "low" in value && "high" in value) {
    const long = value as protobuf.Long;
    return long.low === 0 && long.high === 0;
  }
  return false;
}

function longToBigInt(value: unknown): bigint {
  if (value === undefined || value === null) return 0n;
  if (typeof value === "number" || typeof value === "string") return BigInt(value);
  return longBits(value as protobuf.Long, false);
}

function fraction(nanos: number): string {
  if (nanos === 0) return "";
  const digits = String(nanos).padStart(9, "0");
  if (nanos % 1_000_000 === 0) return `.${digits.slice(0, 3)}`;
  if (nanos % 1_000 === 0) return `.${digits.slice(0, 6)}`;
  return `.${digits}`;
}

/** "1.500s": 0, 3, 6 or 9 fractional digits, as the canonical encoders write it. */
function writeDuration(message: Fields): string {
  const seconds = longToBigInt(own(message, "seconds"));
  const nanos = Number(own(message, "nanos") ?? 0);
  const negative = seconds < 0n || nanos < 0;
  const abs = seconds < 0n ? -seconds : seconds;
  return `${negative ? "-" : ""}${abs}${fraction(Math.abs(nanos))}s`;
}

/** RFC 3339 in UTC ("Z"), with 0, 3, 6 or 9 fractional digits. */
function writeTimestamp(message: Fields): string {
  const seconds = Number(longToBigInt(own(message, "seconds")));
  const nanos = Number(own(message, "nanos") ?? 0);
  const iso = new Date(seconds * 1000).toISOString(); // yyyy-mm-ddThh:mm:ss.000Z for years 0-9999
  return `${iso.slice(0, 19)}${fraction(nanos)}Z`;
}
