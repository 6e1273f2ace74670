// envoy/pgv.ts checks Envoy messages against the protoc-gen-validate (PGV) rules
// annotated in Envoy's own protos — `[(validate.rules).string = {min_len: 1}]`,
// `option (validate.required) = true` on oneofs, and so on — the closest thing
// to "Envoy would accept this config" without an Envoy binary. Envoy runs the
// C++ validators PGV generates for every resource it receives, and for every
// typed extension config when it instantiates it; this walker reproduces those
// validators' semantics (templates/cc/*.go and module/checker.go of
// github.com/bufbuild/protoc-gen-validate, which Envoy vendors):
//
// - a field in a oneof, or a proto3 `optional` field, is checked only when set;
//   any other scalar is checked even at its default value ("" fails min_len: 1);
// - a message field is checked only when set (unless `message.required`), and
//   embedded messages are validated recursively (unless `message.skip`);
// - wrapper fields (UInt32Value, ...) carry the rules of their scalar and are
//   checked only when set;
// - well_known_regex HTTP_HEADER_NAME/VALUE are RE2 full matches, relaxed to
//   "no NUL, CR, LF" when `strict: false`;
// - ranges follow the `ltgt` template: lt/lte with gt/gte is an inside range
//   when the upper bound is greater than the lower one, an exclusive (outside)
//   range otherwise.
//
// Beyond PGV itself (which does not look into an Any), the payload of every Any
// is decoded by its type URL and validated too, as Envoy does when it turns a
// typed_config into an extension; TypedStruct payloads are converted first.
//
// The pinned validate/validate.proto predates `ignore_empty`, but Envoy's protos
// use it and the PGV that Envoy builds with implements it, so it is honoured
// here. Rules that Envoy's C++ validators cannot enforce (email, uri, uri_ref,
// bytes ip/ipv4/ipv6, no_sparse, timestamp lt_now/gt_now/within: PGV's C++
// generator refuses them) and any rule this file does not know are reported as
// `unchecked` rather than passed silently.
//
// Rules are read from protobufjs's `parsedOptions`. Two limits of its option
// parser matter, and Envoy's protos hit neither (pgv.test.ts checks the first):
// in option strings it unescapes only \\, \0, \r, \n and \t; option numbers
// are doubles, so a 64-bit bound beyond 2^53 is reported as unchecked.
//
// A violation's `rule` is the rule's path in FieldRules (`repeated.items.string.in`);
// an exclusive range that is violated names both bounds (`int32.lt+gt`).
//
// It must not import xds/, translate/ or config/.
import { isIPv4, isIPv6 } from "node:net";
import protobuf from "protobufjs";
import { checkProtoJson, toProtoJson, WRAPPERS } from "./proto-json.js";
import { envoyRoot } from "./protos.js";

export interface PgvViolation {
  /** Where: `virtual_hosts[0].routes[1].match`, the proto field names as in proto-json paths. */
  path: string;
  /** The PGV rule, as written in the proto: `string.min_len`, `repeated.items.string.well_known_regex`, `oneof.required`. */
  rule: string;
  message: string;
}

export interface PgvReport {
  /** Rules the message breaks: Envoy would reject it. */
  violations: PgvViolation[];
  /** Rules that applied to a field of this message but that this validator cannot check. */
  unchecked: PgvViolation[];
}

/**
 * Every PGV rule of Envoy's protos that `message` (of full type `typeName`, a
 * decoded message or its wire bytes) breaks; empty if Envoy's validators would
 * accept it. Never throws on bad input. Use `checkEnvoyMessage` to also learn
 * which rules could not be checked.
 */
export function validateEnvoyMessage(
  typeName: string,
  message: protobuf.Message | Uint8Array,
  root: protobuf.Root = envoyRoot(),
): PgvViolation[] {
  return checkEnvoyMessage(typeName, message, root).violations;
}

/** `validateEnvoyMessage`, plus the rules met on the way that are not implemented here. */
export function checkEnvoyMessage(
  typeName: string,
  message: protobuf.Message | Uint8Array,
  root: protobuf.Root = envoyRoot(),
): PgvReport {
  const walker = new Walker(root);
  const type = lookupMessage(root, typeName);
  if (!type) {
    walker.violation("", "type", `unknown message type "${typeName}"`);
    return walker.report();
  }
  let decoded: Fields;
  try {
    decoded = (message instanceof Uint8Array ? type.decode(message) : message) as unknown as Fields;
  } catch (err) {
    walker.violation("", "decode", `cannot decode ${type.fullName.slice(1)}: ${(err as Error).message}`);
    return walker.report();
  }
  walker.embedded(type, decoded, "");
  return walker.report();
}

// ---------------------------------------------------------------------------
// Reading the rules off the protobufjs reflection

type Fields = Record<string, unknown>;
/** A parsed option value: `{ min_len: 1, well_known_regex: "HTTP_HEADER_NAME" }`. */
type Rules = Record<string, unknown>;

const fieldRulesCache = new WeakMap<protobuf.Field, Rules | null>();

/**
 * The `(validate.rules)` of a field, as protobufjs parsed them. protobufjs keeps
 * aggregate options in `parsedOptions` (`[{ "(validate.rules)": { string: { min_len: 1 } } }]`);
 * a field with two `(validate.rules)` annotations may have them in two entries, so merge.
 */
function fieldRules(field: protobuf.Field): Rules | undefined {
  let rules = fieldRulesCache.get(field);
  if (rules === undefined) {
    rules = null;
    for (const entry of parsedOptions(field)) {
      const value = entry["(validate.rules)"];
      if (isObject(value)) rules = deepMerge(rules ?? {}, value);
    }
    fieldRulesCache.set(field, rules);
  }
  return rules ?? undefined;
}

function hasBoolOption(object: protobuf.ReflectionObject, name: string): boolean {
  if (object.options?.[name] === true) return true;
  return parsedOptions(object).some((entry) => entry[name] === true);
}

/** protobufjs's typing of parsedOptions is looser than what it holds: an array of `{ [option]: value }`. */
function parsedOptions(object: protobuf.ReflectionObject): Record<string, unknown>[] {
  const parsed = object.parsedOptions as unknown;
  return Array.isArray(parsed) ? (parsed as Record<string, unknown>[]) : [];
}

function deepMerge(into: Rules, from: Rules): Rules {
  const out: Rules = { ...into };
  for (const [key, value] of Object.entries(from)) {
    const existing = out[key];
    out[key] = isObject(existing) && isObject(value) ? deepMerge(existing, value) : value;
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** A repeated option value is an array when written more than once, a bare value when once. */
function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function lookupMessage(root: protobuf.Root, typeName: string): protobuf.Type | undefined {
  const name = typeName.slice(typeName.lastIndexOf("/") + 1);
  if (name === "") return undefined;
  try {
    const found = root.lookup(name.startsWith(".") ? name : `.${name}`);
    return found instanceof protobuf.Type ? found : undefined;
  } catch {
    return undefined;
  }
}

/** A oneof made up by protoc for a proto3 `optional` field: not a real choice. */
function isSyntheticOneof(oneof: protobuf.OneOf): boolean {
  return oneof.oneof.length === 1 && oneof.name.startsWith("_");
}

// ---------------------------------------------------------------------------
// Values

const SCALAR_RULES = new Set([
  "float",
  "double",
  "int32",
  "int64",
  "uint32",
  "uint64",
  "sint32",
  "sint64",
  "fixed32",
  "fixed64",
  "sfixed32",
  "sfixed64",
  "bool",
  "string",
  "bytes",
]);

// WRAPPERS (proto-json.ts): the scalar each wrapper carries, so `(validate.rules).uint32`
// on a UInt32Value applies to its value.

const TYPED_STRUCTS = new Set([".xds.type.v3.TypedStruct", ".udpa.type.v1.TypedStruct"]);

/** The keys of FieldRules other than `message`: exactly one of them says the field's kind. */
const RULE_KINDS = new Set([...SCALAR_RULES, "enum", "repeated", "map", "any", "duration", "timestamp"]);

/** What each rule kind may hold; anything else is reported as unchecked. */
const KNOWN_KEYS: Record<string, ReadonlySet<string>> = {
  number: new Set(["const", "lt", "lte", "gt", "gte", "in", "not_in", "ignore_empty"]),
  bool: new Set(["const"]),
  string: new Set([
    "const",
    "len",
    "min_len",
    "max_len",
    "len_bytes",
    "min_bytes",
    "max_bytes",
    "pattern",
    "prefix",
    "suffix",
    "contains",
    "not_contains",
    "in",
    "not_in",
    "hostname",
    "ip",
    "ipv4",
    "ipv6",
    "address",
    "uuid",
    "well_known_regex",
    "strict",
    "ignore_empty",
  ]),
  bytes: new Set([
    "const",
    "len",
    "min_len",
    "max_len",
    "pattern",
    "prefix",
    "suffix",
    "contains",
    "in",
    "not_in",
    "ignore_empty",
  ]),
  enum: new Set(["const", "defined_only", "in", "not_in"]),
  message: new Set(["required", "skip"]),
  repeated: new Set(["min_items", "max_items", "unique", "items", "ignore_empty"]),
  map: new Set(["min_pairs", "max_pairs", "keys", "values", "ignore_empty"]),
  any: new Set(["required", "in", "not_in"]),
  duration: new Set(["required", "const", "lt", "lte", "gt", "gte", "in", "not_in"]),
  timestamp: new Set(["required", "const", "lt", "lte", "gt", "gte"]),
};

type Num = number | bigint;

/** -1, 0, 1, or NaN when unordered (NaN), so that every comparison with NaN is false, as in C++. */
function cmp(a: Num, b: Num): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return a === b ? 0 : Number.NaN;
}

function toBigInt(value: unknown, unsigned: boolean): bigint {
  if (value === undefined || value === null) return 0n;
  if (typeof value === "bigint") return value;
  if (typeof value === "number") return BigInt(Math.trunc(value));
  if (typeof value === "string") return BigInt(value);
  const long = value as protobuf.Long;
  const bits = (BigInt(long.high >>> 0) << 32n) | BigInt(long.low >>> 0);
  return unsigned ? bits : BigInt.asIntN(64, bits);
}

function isUnsigned(scalar: string): boolean {
  return scalar.startsWith("uint") || scalar.startsWith("fixed");
}

const NANOS = 1_000_000_000n;
const MAX_DURATION_SECONDS = 315_576_000_000n; // ±10,000 years (google/protobuf/duration.proto)

/** A Duration or Timestamp (`{ seconds, nanos }`, decoded or from an option) in nanoseconds. */
function durationNanos(value: unknown): bigint {
  const fields = isObject(value) ? value : {};
  return toBigInt(fields.seconds, false) * NANOS + BigInt(Math.trunc(Number(fields.nanos ?? 0)));
}

function showDuration(nanos: Num): string {
  const n = BigInt(nanos);
  const negative = n < 0n;
  const abs = negative ? -n : n;
  const fraction = abs % NANOS;
  const digits = fraction === 0n ? "" : `.${fraction.toString().padStart(9, "0").replace(/0+$/, "")}`;
  return `${negative ? "-" : ""}${abs / NANOS}${digits}s`;
}

function showTimestamp(nanos: Num): string {
  const n = BigInt(nanos);
  const ms = Number(n / 1_000_000n);
  return new Date(ms).toISOString();
}

/** Bytes from an option value: protobufjs gives a string whose characters are the bytes. */
function optionBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  const text = String(value);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: any character above 0xff means it was written as UTF-8 text
  return /^[\u0000-\u00ff]*$/.test(text) ? Buffer.from(text, "latin1") : Buffer.from(text, "utf8");
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a).equals(Buffer.from(b));
}

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(haystack).indexOf(Buffer.from(needle));
}

function asBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return Buffer.from(value, "base64");
  return new Uint8Array();
}

/** pgv::Utf8Len: characters (code points), not UTF-16 units. */
function utf8Len(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}

// Patterns from PGV's module/checker.go: well_known_regex becomes a `pattern`.
const HTTP_HEADER_NAME = "^:?[0-9a-zA-Z!#$%&'*+-.^_|~\\x60]+$";
const HTTP_HEADER_VALUE = "^[^\\u0000-\\u0008\\u000A-\\u001F\\u007F]*$";
const HEADER_STRING = "^[^\\u0000\\u000A\\u000D]*$"; // strict: false
const UUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";

const regexCache = new Map<string, RegExp | null>();

/**
 * An RE2 pattern as a JS RegExp that matches the whole input (RE2::FullMatch), or
 * null if it uses RE2 syntax with no JS equivalent. The `u` flag makes both
 * work on code points; `.` excludes newlines in both.
 */
function fullMatchRegex(pattern: string): RegExp | null {
  let regex = regexCache.get(pattern);
  if (regex === undefined) {
    const js = pattern
      .replace(/\(\?P</g, "(?<")
      .replace(/\\z/g, "$")
      .replace(/\\A/g, "^");
    try {
      regex = new RegExp(`^(?:${js})$`, "u");
    } catch {
      regex = null;
    }
    regexCache.set(pattern, regex);
  }
  return regex;
}

/** pgv::IsHostname. */
function isHostname(value: string): boolean {
  if (value.length > 253) return false;
  const parts = value.split(".");
  if (parts.length > 0 && parts[parts.length - 1] === "") parts.pop(); // the C++ tokenizer drops an empty tail
  return parts.every(
    (part) =>
      part.length > 0 &&
      part.length <= 63 &&
      !part.startsWith("-") &&
      !part.endsWith("-") &&
      /^[A-Za-z0-9-]+$/.test(part),
  );
}

/** inet_pton(AF_INET6): no zone index. */
function isIpv6Address(value: string): boolean {
  return !value.includes("%") && isIPv6(value);
}

// ---------------------------------------------------------------------------
// The walk

interface ValueKind {
  /** protobufjs scalar type name (`uint32`, `string`) or the type name of a message/enum. */
  scalar: string;
  resolved: protobuf.Type | protobuf.Enum | null;
}

function kindOf(field: protobuf.Field): ValueKind {
  return { scalar: field.type, resolved: field.resolvedType };
}

function keyPath(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function own(message: Fields, name: string): unknown {
  return Object.hasOwn(message, name) ? message[name] : undefined;
}

class Walker {
  private readonly violations: PgvViolation[] = [];
  private readonly unchecked: PgvViolation[] = [];

  constructor(private readonly root: protobuf.Root) {}

  report(): PgvReport {
    return { violations: this.violations, unchecked: this.unchecked };
  }

  violation(path: string, rule: string, message: string): void {
    this.violations.push({ path, rule, message });
  }

  private skipped(path: string, rule: string, message: string): void {
    this.unchecked.push({ path, rule, message });
  }

  /** An embedded message: its fields' rules, its oneofs' `required`, recursively. */
  embedded(type: protobuf.Type, message: Fields, path: string): void {
    if (type.fullName === ".google.protobuf.Any") {
      this.anyPayload(message, path);
      return;
    }
    // (validate.disabled) / (validate.ignored): PGV generates no checks for the message.
    if (hasBoolOption(type, "(validate.disabled)") || hasBoolOption(type, "(validate.ignored)")) return;
    for (const field of type.fieldsArray) {
      const value = own(message, field.name);
      const present = value !== undefined && value !== null;
      // Only the member a oneof is set to is checked (a `switch` on the case), and a
      // proto3 `optional` field only when set; other fields always, at their default if unset.
      if (field.partOf && !present) continue;
      this.field(field, present ? value : defaultOf(field, message), present, keyPath(path, field.name));
    }
    for (const oneof of type.oneofsArray) {
      if (isSyntheticOneof(oneof) || !hasBoolOption(oneof, "(validate.required)")) continue;
      const set = oneof.oneof.some((name) => {
        const value = own(message, name);
        return value !== undefined && value !== null;
      });
      if (!set) {
        this.violation(keyPath(path, oneof.name), "oneof.required", `one of ${oneof.oneof.join(", ")} is required`);
      }
    }
  }

  private field(field: protobuf.Field, value: unknown, present: boolean, path: string): void {
    const rules = fieldRules(field);
    if (field.map) {
      this.map(field as unknown as protobuf.MapField, rules, value, path);
    } else if (field.repeated) {
      this.repeated(field, rules, value, path);
    } else {
      this.single(kindOf(field), rules, value, present, path, "");
    }
  }

  /** Which of FieldRules' type rules is set, reporting unknown ones. */
  private ruleKind(rules: Rules | undefined, path: string, prefix: string): string | undefined {
    if (!rules) return undefined;
    let kind: string | undefined;
    for (const key of Object.keys(rules)) {
      if (key === "message") continue;
      if (RULE_KINDS.has(key)) kind = key;
      else this.skipped(path, `${prefix}${key}`, `unknown PGV rule "${key}"; not checked`);
    }
    return kind;
  }

  /** Reports the keys of a rule object this file does not implement. */
  private knownKeys(family: string, rules: Rules, path: string, rulePrefix: string): void {
    const known = KNOWN_KEYS[family];
    for (const [key, value] of Object.entries(rules)) {
      if (known?.has(key) || value === false) continue;
      this.skipped(path, `${rulePrefix}.${key}`, `PGV rule ${rulePrefix}.${key} is not checked`);
    }
  }

  private mismatch(kind: string, path: string, prefix: string, what: string): void {
    this.skipped(path, `${prefix}${kind}`, `${kind} rules on a ${what} field; not checked`);
  }

  /** A single value (a field, one item of a repeated field, a map key or value). */
  private single(
    kind: ValueKind,
    rules: Rules | undefined,
    value: unknown,
    present: boolean,
    path: string,
    prefix: string,
  ): void {
    const ruleKind = this.ruleKind(rules, path, prefix);
    const resolved = kind.resolved;
    if (resolved instanceof protobuf.Type) {
      this.messageValue(resolved, rules, ruleKind, present ? (value as Fields) : null, path, prefix);
      return;
    }
    if (rules?.message !== undefined) this.mismatch("message", path, prefix, kind.scalar);
    if (ruleKind === undefined) return;
    const r = rules?.[ruleKind] as Rules;
    if (resolved instanceof protobuf.Enum) {
      if (ruleKind === "enum") this.enumValue(resolved, r, Number(value), path, `${prefix}enum`);
      else this.mismatch(ruleKind, path, prefix, "enum");
    } else if (ruleKind === kind.scalar) {
      this.scalar(kind.scalar, r, value, path, `${prefix}${ruleKind}`);
    } else {
      this.mismatch(ruleKind, path, prefix, kind.scalar);
    }
  }

  private messageValue(
    type: protobuf.Type,
    rules: Rules | undefined,
    ruleKind: string | undefined,
    value: Fields | null,
    path: string,
    prefix: string,
  ): void {
    const messageRules = isObject(rules?.message) ? rules.message : undefined;
    if (messageRules) this.knownKeys("message", messageRules, path, `${prefix}message`);
    if (ruleKind !== undefined) {
      this.typedMessage(type, ruleKind, rules?.[ruleKind] as Rules, messageRules, value, path, prefix);
      return;
    }
    // templates/cc/message.go: required, then the embedded message's own validation.
    if (!value) {
      if (messageRules?.required === true) this.violation(path, `${prefix}message.required`, "value is required");
      return;
    }
    if (messageRules?.skip === true) return;
    this.embedded(type, value, path);
  }

  /** A message field with typed rules: a wrapper's scalar rules, or duration, timestamp, any rules. */
  private typedMessage(
    type: protobuf.Type,
    ruleKind: string,
    r: Rules,
    messageRules: Rules | undefined,
    value: Fields | null,
    path: string,
    prefix: string,
  ): void {
    const name = type.fullName;
    if (ruleKind === WRAPPERS[name]) {
      // templates/cc/wrapper.go: the scalar's rules on the wrapped value, when set.
      if (value) {
        this.scalar(ruleKind, r, own(value, "value") ?? type.fields.value?.defaultValue, path, `${prefix}${ruleKind}`);
      } else if (messageRules?.required === true) {
        this.violation(path, `${prefix}message.required`, "value is required and must not be nil");
      }
    } else if (ruleKind === "duration" && name === ".google.protobuf.Duration") {
      this.timeValue("duration", r, value, path, `${prefix}duration`);
    } else if (ruleKind === "timestamp" && name === ".google.protobuf.Timestamp") {
      this.timeValue("timestamp", r, value, path, `${prefix}timestamp`);
    } else if (ruleKind === "any" && name === ".google.protobuf.Any") {
      this.anyRules(r, value, path, `${prefix}any`);
      if (value) this.anyPayload(value, path);
    } else {
      this.mismatch(ruleKind, path, prefix, name.slice(1));
    }
  }

  // --- repeated and map ---------------------------------------------------

  private repeated(field: protobuf.Field, rules: Rules | undefined, value: unknown, path: string): void {
    const items = Array.isArray(value) ? value : [];
    const ruleKind = this.ruleKind(rules, path, "");
    if (ruleKind !== undefined && ruleKind !== "repeated") this.mismatch(ruleKind, path, "", "repeated");
    if (rules?.message !== undefined) this.mismatch("message", path, "", "repeated");
    const r = (ruleKind === "repeated" ? rules?.repeated : undefined) as Rules | undefined;
    if (r) {
      this.knownKeys("repeated", r, path, "repeated");
      if (r.ignore_empty === true && items.length === 0) return;
      this.counts(items.length, r.min_items, r.max_items, path, "repeated", "items", "item(s)");
      if (r.unique === true) {
        const seen = new Set<string>();
        items.forEach((item, i) => {
          const key = uniqueKey(field, item);
          if (seen.has(key)) {
            this.violation(`${path}[${i}]`, "repeated.unique", "repeated value must contain unique items");
          }
          seen.add(key);
        });
      }
    }
    const itemRules = isObject(r?.items) ? r.items : undefined;
    const kind = kindOf(field);
    items.forEach((item, i) => {
      this.single(kind, itemRules, item, item !== undefined && item !== null, `${path}[${i}]`, "repeated.items.");
    });
  }

  private map(field: protobuf.MapField, rules: Rules | undefined, value: unknown, path: string): void {
    const entries = isObject(value) ? Object.entries(value) : [];
    const ruleKind = this.ruleKind(rules, path, "");
    if (ruleKind !== undefined && ruleKind !== "map") this.mismatch(ruleKind, path, "", "map");
    if (rules?.message !== undefined) this.mismatch("message", path, "", "map");
    const r = (ruleKind === "map" ? rules?.map : undefined) as Rules | undefined;
    if (r) {
      this.knownKeys("map", r, path, "map");
      if (r.ignore_empty === true && entries.length === 0) return;
      this.counts(entries.length, r.min_pairs, r.max_pairs, path, "map", "pairs", "pair(s)");
    }
    const keyRules = isObject(r?.keys) ? r.keys : undefined;
    const valueRules = isObject(r?.values) ? r.values : undefined;
    const valueKind = kindOf(field as unknown as protobuf.Field);
    for (const [rawKey, item] of entries) {
      const key = mapKey(field.keyType, rawKey);
      const itemPath = `${path}[${JSON.stringify(String(key))}]`;
      this.single({ scalar: field.keyType, resolved: null }, keyRules, key, true, itemPath, "map.keys.");
      this.single(valueKind, valueRules, item, item !== undefined && item !== null, itemPath, "map.values.");
    }
  }

  /** min_items/max_items and min_pairs/max_pairs (templates/cc/repeated.go, map.go): 0 means unset. */
  private counts(n: number, min: unknown, max: unknown, path: string, family: string, what: string, unit: string) {
    const lo = min === undefined ? 0n : toBigInt(min, true);
    const hi = max === undefined ? undefined : toBigInt(max, true);
    const size = BigInt(n);
    const minRule = `${family}.min_${what}`;
    const maxRule = `${family}.max_${what}`;
    if (lo > 0n) {
      if (lo === hi) {
        if (size !== lo) this.violation(path, `${minRule}+max_${what}`, `value must contain exactly ${lo} ${unit}`);
      } else if (hi !== undefined) {
        if (size < lo || size > hi) {
          this.violation(
            path,
            size < lo ? minRule : maxRule,
            `value must contain between ${lo} and ${hi} ${what}, inclusive`,
          );
        }
      } else if (size < lo) {
        this.violation(path, minRule, `value must contain at least ${lo} ${unit}`);
      }
    } else if (hi !== undefined && size > hi) {
      this.violation(path, maxRule, `value must contain no more than ${hi} ${unit}`);
    }
  }

  // --- scalars ------------------------------------------------------------

  private scalar(scalar: string, r: Rules, value: unknown, path: string, rule: string): void {
    if (!isObject(r)) return;
    switch (scalar) {
      case "string":
        this.knownKeys("string", r, path, rule);
        this.string(r, typeof value === "string" ? value : String(value ?? ""), path, rule);
        return;
      case "bytes":
        this.knownKeys("bytes", r, path, rule);
        this.bytes(r, asBytes(value), path, rule);
        return;
      case "bool":
        this.knownKeys("bool", r, path, rule);
        if (r.const !== undefined && Boolean(value) !== r.const) {
          this.violation(path, `${rule}.const`, `value must equal ${String(r.const)}`);
        }
        return;
      case "float":
      case "double": {
        this.knownKeys("number", r, path, rule);
        // A float field holds a float32; compare with the rule's float32 value, as C++ does.
        const conv = scalar === "float" ? (x: unknown) => Math.fround(Number(x)) : (x: unknown) => Number(x);
        this.number(r, Number(value ?? 0), conv, 0, String, path, rule);
        return;
      }
      default: {
        this.knownKeys("number", r, path, rule);
        const unsigned = isUnsigned(scalar);
        const conv = (x: unknown) => toBigInt(x, unsigned);
        this.number(r, conv(value), conv, 0n, String, path, rule);
      }
    }
  }

  /** templates/cc/num.go: ignore_empty, const, ltgt, in/not_in. */
  private number<T extends Num>(
    r: Rules,
    value: T,
    conv: (x: unknown) => T,
    zero: T,
    show: (x: T) => string,
    path: string,
    rule: string,
  ): void {
    if (r.ignore_empty === true && value === zero) return;
    for (const key of ["const", "lt", "lte", "gt", "gte", "in", "not_in"]) {
      // protobufjs parses option numbers as doubles: a 64-bit bound beyond 2^53 has lost its exact value.
      if (typeof zero === "bigint" && asArray(r[key]).some((x) => typeof x === "number" && !Number.isSafeInteger(x))) {
        this.skipped(path, `${rule}.${key}`, `${rule}.${key} is beyond 2^53 and was parsed inexactly; not checked`);
        return;
      }
    }
    if (r.const !== undefined && cmp(value, conv(r.const)) !== 0) {
      this.violation(path, `${rule}.const`, `value must equal ${show(conv(r.const))}`);
    }
    this.ltgt(r, value, conv, show, path, rule);
    this.inNotIn(
      r,
      (x) => cmp(value, conv(x)) === 0,
      (list) => `[${list.map((x) => show(conv(x))).join(", ")}]`,
      path,
      rule,
    );
  }

  /** templates/cc/ltgt.go: a bound alone, an inside range, or an exclusive (outside) range. */
  private ltgt<T extends Num>(
    r: Rules,
    v: T,
    conv: (x: unknown) => T,
    show: (x: T) => string,
    path: string,
    rule: string,
  ): void {
    const lt = r.lt === undefined ? undefined : conv(r.lt);
    const lte = r.lte === undefined ? undefined : conv(r.lte);
    const gt = r.gt === undefined ? undefined : conv(r.gt);
    const gte = r.gte === undefined ? undefined : conv(r.gte);
    const fail = (which: string, message: string) => this.violation(path, `${rule}.${which}`, message);
    if (lt !== undefined) {
      if (gt !== undefined) {
        if (cmp(lt, gt) > 0) {
          if (cmp(v, gt) <= 0 || cmp(v, lt) >= 0) {
            fail(cmp(v, gt) <= 0 ? "gt" : "lt", `value must be inside range (${show(gt)}, ${show(lt)})`);
          }
        } else if (cmp(v, lt) >= 0 && cmp(v, gt) <= 0) {
          fail("lt+gt", `value must be outside range [${show(lt)}, ${show(gt)}]`);
        }
      } else if (gte !== undefined) {
        if (cmp(lt, gte) > 0) {
          if (cmp(v, gte) < 0 || cmp(v, lt) >= 0) {
            fail(cmp(v, gte) < 0 ? "gte" : "lt", `value must be inside range [${show(gte)}, ${show(lt)})`);
          }
        } else if (cmp(v, lt) >= 0 && cmp(v, gte) < 0) {
          fail("lt+gte", `value must be outside range [${show(lt)}, ${show(gte)})`);
        }
      } else if (cmp(v, lt) >= 0) {
        fail("lt", `value must be less than ${show(lt)}`);
      }
    } else if (lte !== undefined) {
      if (gt !== undefined) {
        if (cmp(lte, gt) > 0) {
          if (cmp(v, gt) <= 0 || cmp(v, lte) > 0) {
            fail(cmp(v, gt) <= 0 ? "gt" : "lte", `value must be inside range (${show(gt)}, ${show(lte)}]`);
          }
        } else if (cmp(v, lte) > 0 && cmp(v, gt) <= 0) {
          fail("lte+gt", `value must be outside range (${show(lte)}, ${show(gt)}]`);
        }
      } else if (gte !== undefined) {
        if (cmp(lte, gte) > 0) {
          if (cmp(v, gte) < 0 || cmp(v, lte) > 0) {
            fail(cmp(v, gte) < 0 ? "gte" : "lte", `value must be inside range [${show(gte)}, ${show(lte)}]`);
          }
        } else if (cmp(v, lte) > 0 && cmp(v, gte) < 0) {
          fail("lte+gte", `value must be outside range (${show(lte)}, ${show(gte)})`);
        }
      } else if (cmp(v, lte) > 0) {
        fail("lte", `value must be less than or equal to ${show(lte)}`);
      }
    } else if (gt !== undefined) {
      if (cmp(v, gt) <= 0) fail("gt", `value must be greater than ${show(gt)}`);
    } else if (gte !== undefined) {
      if (cmp(v, gte) < 0) fail("gte", `value must be greater than or equal to ${show(gte)}`);
    }
  }

  /** templates/cc/in.go: `in` if given, else `not_in`. */
  private inNotIn(
    r: Rules,
    equals: (x: unknown) => boolean,
    showList: (list: unknown[]) => string,
    path: string,
    rule: string,
  ): void {
    const inList = asArray(r.in);
    const notIn = asArray(r.not_in);
    if (inList.length > 0) {
      if (!inList.some(equals)) this.violation(path, `${rule}.in`, `value must be in list ${showList(inList)}`);
    } else if (notIn.length > 0) {
      if (notIn.some(equals)) this.violation(path, `${rule}.not_in`, `value must not be in list ${showList(notIn)}`);
    }
  }

  /** templates/cc/string.go (well_known_regex as module/checker.go turns it into a pattern). */
  private string(r: Rules, s: string, path: string, rule: string): void {
    if (r.ignore_empty === true && s === "") return;
    const fail = (which: string, message: string) => this.violation(path, `${rule}.${which}`, message);
    if (r.const !== undefined && s !== String(r.const)) fail("const", `value must equal ${JSON.stringify(r.const)}`);
    this.inNotIn(
      r,
      (x) => s === String(x),
      (list) => JSON.stringify(list.map(String)),
      path,
      rule,
    );

    const chars = utf8Len(s);
    const minLen = r.min_len === undefined ? undefined : Number(r.min_len);
    const maxLen = r.max_len === undefined ? undefined : Number(r.max_len);
    if (r.len !== undefined || (minLen !== undefined && maxLen !== undefined && minLen === maxLen)) {
      const exact = r.len !== undefined ? Number(r.len) : (minLen as number);
      if (chars !== exact) fail(r.len !== undefined ? "len" : "min_len+max_len", `value must be ${exact} characters`);
    } else if (minLen !== undefined) {
      if (maxLen !== undefined) {
        if (chars < minLen || chars > maxLen) {
          fail(
            chars < minLen ? "min_len" : "max_len",
            `value must have between ${minLen} and ${maxLen} characters inclusive`,
          );
        }
      } else if (chars < minLen) {
        fail("min_len", `value length must be at least ${minLen} characters`);
      }
    } else if (maxLen !== undefined && chars > maxLen) {
      fail("max_len", `value length must be at most ${maxLen} characters`);
    }

    const bytes = Buffer.byteLength(s, "utf8");
    const minBytes = r.min_bytes === undefined ? undefined : Number(r.min_bytes);
    const maxBytes = r.max_bytes === undefined ? undefined : Number(r.max_bytes);
    if (r.len_bytes !== undefined || (minBytes !== undefined && maxBytes !== undefined && minBytes === maxBytes)) {
      const exact = r.len_bytes !== undefined ? Number(r.len_bytes) : (minBytes as number);
      if (bytes !== exact) {
        fail(r.len_bytes !== undefined ? "len_bytes" : "min_bytes+max_bytes", `value length must be ${exact} bytes`);
      }
    } else if (minBytes !== undefined) {
      if (maxBytes !== undefined) {
        if (bytes < minBytes || bytes > maxBytes) {
          fail(
            bytes < minBytes ? "min_bytes" : "max_bytes",
            `value length must be between ${minBytes} and ${maxBytes} bytes, inclusive`,
          );
        }
      } else if (bytes < minBytes) {
        fail("min_bytes", `value length must be at least ${minBytes} bytes`);
      }
    } else if (maxBytes !== undefined && bytes > maxBytes) {
      fail("max_bytes", `value length must be at most ${maxBytes} bytes`);
    }

    if (r.prefix !== undefined && !s.startsWith(String(r.prefix))) {
      fail("prefix", `value does not have prefix ${JSON.stringify(r.prefix)}`);
    }
    if (r.suffix !== undefined && !s.endsWith(String(r.suffix))) {
      fail("suffix", `value does not have suffix ${JSON.stringify(r.suffix)}`);
    }
    if (r.contains !== undefined && !s.includes(String(r.contains))) {
      fail("contains", `value does not contain substring ${JSON.stringify(r.contains)}`);
    }
    if (r.not_contains !== undefined && s.includes(String(r.not_contains))) {
      fail("not_contains", `value contains substring ${JSON.stringify(r.not_contains)}`);
    }
    if (r.pattern !== undefined) this.pattern(String(r.pattern), s, path, `${rule}.pattern`);

    if (r.ip === true) {
      if (!isIPv4(s) && !isIpv6Address(s)) fail("ip", "value must be a valid IP Address");
    } else if (r.ipv4 === true) {
      if (!isIPv4(s)) fail("ipv4", "value must be a valid IPv4 Address");
    } else if (r.ipv6 === true) {
      if (!isIpv6Address(s)) fail("ipv6", "value must be a valid IPv6 Address");
    } else if (r.address === true) {
      if (!isHostname(s) && !isIPv4(s) && !isIpv6Address(s))
        fail("address", "value must be an ip address, or a hostname.");
    } else if (r.hostname === true) {
      if (!isHostname(s)) fail("hostname", "value must be a valid hostname");
    } else if (r.uuid === true) {
      this.pattern(UUID, s, path, `${rule}.uuid`, "value must be a valid UUID");
    } else if (r.well_known_regex !== undefined) {
      const known = r.well_known_regex;
      const strict = r.strict !== false;
      const name =
        known === 1 || known === "HTTP_HEADER_NAME"
          ? "name"
          : known === 2 || known === "HTTP_HEADER_VALUE"
            ? "value"
            : undefined;
      if (name === undefined) {
        if (known !== 0 && known !== "UNKNOWN") {
          this.skipped(path, `${rule}.well_known_regex`, `unknown well_known_regex ${String(known)}; not checked`);
        }
      } else {
        const regex = !strict ? HEADER_STRING : name === "name" ? HTTP_HEADER_NAME : HTTP_HEADER_VALUE;
        this.pattern(
          regex,
          s,
          path,
          `${rule}.well_known_regex`,
          `value must be a valid HTTP header ${name}${strict ? "" : " (no NUL, CR or LF)"}`,
        );
      }
    }
  }

  private pattern(pattern: string, s: string, path: string, rule: string, message?: string): void {
    const regex = fullMatchRegex(pattern);
    if (!regex) {
      this.skipped(path, rule, `RE2 pattern ${JSON.stringify(pattern)} has no JavaScript equivalent; not checked`);
      return;
    }
    if (!regex.test(s))
      this.violation(path, rule, message ?? `value does not match regex pattern ${JSON.stringify(pattern)}`);
  }

  /** templates/cc/bytes.go. */
  private bytes(r: Rules, b: Uint8Array, path: string, rule: string): void {
    if (r.ignore_empty === true && b.length === 0) return;
    const fail = (which: string, message: string) => this.violation(path, `${rule}.${which}`, message);
    if (r.const !== undefined && !bytesEqual(b, optionBytes(r.const))) fail("const", "value must equal the constant");
    this.inNotIn(
      r,
      (x) => bytesEqual(b, optionBytes(x)),
      (list) => `[${list.length} values]`,
      path,
      rule,
    );
    const minLen = r.min_len === undefined ? undefined : Number(r.min_len);
    const maxLen = r.max_len === undefined ? undefined : Number(r.max_len);
    if (r.len !== undefined || (minLen !== undefined && maxLen !== undefined && minLen === maxLen)) {
      const exact = r.len !== undefined ? Number(r.len) : (minLen as number);
      if (b.length !== exact)
        fail(r.len !== undefined ? "len" : "min_len+max_len", `value length must be ${exact} bytes`);
    } else if (minLen !== undefined) {
      if (maxLen !== undefined) {
        if (b.length < minLen || b.length > maxLen) {
          fail(
            b.length < minLen ? "min_len" : "max_len",
            `value length must be between ${minLen} and ${maxLen} bytes, inclusive`,
          );
        }
      } else if (b.length < minLen) {
        fail("min_len", `value length must be at least ${minLen} bytes`);
      }
    } else if (maxLen !== undefined && b.length > maxLen) {
      fail("max_len", `value length must be at most ${maxLen} bytes`);
    }
    if (r.prefix !== undefined) {
      const prefix = optionBytes(r.prefix);
      if (!bytesEqual(b.subarray(0, prefix.length), prefix)) fail("prefix", "value does not have the required prefix");
    }
    if (r.suffix !== undefined) {
      const suffix = optionBytes(r.suffix);
      if (suffix.length > b.length || !bytesEqual(b.subarray(b.length - suffix.length), suffix)) {
        fail("suffix", "value does not have the required suffix");
      }
    }
    if (r.contains !== undefined && indexOfBytes(b, optionBytes(r.contains)) < 0) {
      fail("contains", "value does not contain the required bytes");
    }
    if (r.pattern !== undefined) {
      // RE2 reads the bytes as UTF-8.
      this.pattern(String(r.pattern), Buffer.from(b).toString("utf8"), path, `${rule}.pattern`);
    }
  }

  /** templates/cc/enum.go. */
  private enumValue(type: protobuf.Enum, r: Rules, value: number, path: string, rule: string): void {
    if (!isObject(r)) return;
    this.knownKeys("enum", r, path, rule);
    const show = (x: unknown) => type.valuesById[Number(x)] ?? String(x);
    if (r.const !== undefined && value !== Number(r.const)) {
      this.violation(path, `${rule}.const`, `value must equal ${show(r.const)}`);
    }
    this.inNotIn(
      r,
      (x) => value === Number(x),
      (list) => `[${list.map(show).join(", ")}]`,
      path,
      rule,
    );
    if (r.defined_only === true && type.valuesById[value] === undefined) {
      this.violation(
        path,
        `${rule}.defined_only`,
        `value must be one of the defined enum values of ${type.fullName.slice(1)}, got ${value}`,
      );
    }
  }

  // --- well-known message types ------------------------------------------

  /** templates/cc/duration.go; timestamps likewise (PGV's C++ has only `required` for them, Envoy uses no more). */
  private timeValue(
    family: "duration" | "timestamp",
    r: Rules,
    value: Fields | null,
    path: string,
    rule: string,
  ): void {
    if (!isObject(r)) return;
    this.knownKeys(family, r, path, rule);
    if (r.required === true && !value) this.violation(path, `${rule}.required`, "value is required");
    if (!value) return;
    const compares = ["in", "not_in", "lt", "lte", "gt", "gte", "const"].some((k) => r[k] !== undefined);
    if (!compares) return;
    const seconds = toBigInt(own(value, "seconds"), false);
    const nanos = Number(own(value, "nanos") ?? 0);
    if (family === "duration") {
      if (
        nanos > 999_999_999 ||
        nanos < -999_999_999 ||
        seconds > MAX_DURATION_SECONDS ||
        seconds < -MAX_DURATION_SECONDS
      ) {
        this.violation(path, rule, "value is not a valid duration");
        return;
      }
    } else if (nanos < 0 || nanos > 999_999_999) {
      this.violation(path, rule, "value is not a valid timestamp");
      return;
    }
    const v = durationNanos(value);
    const show = family === "duration" ? showDuration : showTimestamp;
    if (r.const !== undefined && v !== durationNanos(r.const)) {
      this.violation(path, `${rule}.const`, `value must equal ${show(durationNanos(r.const))}`);
    }
    this.ltgt(r, v, durationNanos, show, path, rule);
    this.inNotIn(
      r,
      (x) => v === durationNanos(x),
      (list) => `[${list.map((x) => show(durationNanos(x))).join(", ")}]`,
      path,
      rule,
    );
  }

  /** templates/cc/any.go: required, and the type URL in/not in a list. */
  private anyRules(r: Rules, value: Fields | null, path: string, rule: string): void {
    if (!isObject(r)) return;
    this.knownKeys("any", r, path, rule);
    if (r.required === true && !value) this.violation(path, `${rule}.required`, "value is required");
    if (!value) return;
    const typeUrl = String(own(value, "type_url") ?? "");
    this.inNotIn(
      r,
      (x) => typeUrl === String(x),
      (list) => JSON.stringify(list.map(String)),
      `${path}.type_url`,
      rule,
    );
  }

  /** Envoy validates the message inside an Any when it uses it (a typed_config, protocol options). */
  private anyPayload(any: Fields, path: string): void {
    const typeUrl = String(own(any, "type_url") ?? "");
    if (typeUrl === "") return;
    const inner = lookupMessage(this.root, typeUrl);
    if (!inner) {
      this.skipped(path, "any.payload", `Any holds "${typeUrl}", unknown to envoyRoot(); its payload is not checked`);
      return;
    }
    let decoded: Fields;
    try {
      decoded = inner.decode(asBytes(own(any, "value"))) as unknown as Fields;
    } catch (err) {
      this.violation(path, "any.payload", `cannot decode ${inner.fullName.slice(1)}: ${(err as Error).message}`);
      return;
    }
    if (TYPED_STRUCTS.has(inner.fullName)) {
      this.typedStruct(decoded, path);
      return;
    }
    this.embedded(inner, decoded, path);
  }

  /** A TypedStruct is the JSON of its type_url's message: Envoy converts it and validates the result. */
  private typedStruct(typedStruct: Fields, path: string): void {
    const typeUrl = String(own(typedStruct, "type_url") ?? "");
    const inner = lookupMessage(this.root, typeUrl);
    if (!inner) {
      this.skipped(path, "any.payload", `TypedStruct holds "${typeUrl}", unknown to envoyRoot(); not checked`);
      return;
    }
    const struct = own(typedStruct, "value");
    const json = struct ? toProtoJson(".google.protobuf.Struct", struct as protobuf.Message, this.root) : {};
    const converted = checkProtoJson(typeUrl, json, this.root);
    if (!converted.ok) {
      for (const e of converted.errors) {
        this.violation(keyPath(keyPath(path, "value"), e.path), "any.payload", `TypedStruct: ${e.message}`);
      }
      return;
    }
    this.embedded(inner, converted.message as unknown as Fields, keyPath(path, "value"));
  }
}

/** The value an unset field reads as: its proto3 default. */
function defaultOf(field: protobuf.Field, message: Fields): unknown {
  if (field.map) return {};
  if (field.repeated) return [];
  if (field.resolvedType instanceof protobuf.Type) return null;
  const inherited = message[field.name]; // a decoded message's prototype holds the defaults
  return inherited !== undefined && inherited !== null ? inherited : field.defaultValue;
}

/** Map keys arrive as strings; 64-bit keys as protobufjs long hashes. */
function mapKey(keyType: string, key: string): unknown {
  switch (keyType) {
    case "string":
      return key;
    case "bool":
      return key === "true";
    case "int64":
    case "uint64":
    case "sint64":
    case "fixed64":
    case "sfixed64":
      if (key.length === 8 && !/^-?\d+$/.test(key)) {
        return toBigInt(protobuf.util.longFromHash(key, isUnsigned(keyType)), isUnsigned(keyType));
      }
      return BigInt(key);
    default:
      return Number(key);
  }
}

/** Equality of repeated items for `unique`: by value, messages by their encoding. */
function uniqueKey(field: protobuf.Field, item: unknown): string {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    return Buffer.from(resolved.encode(item as protobuf.Message).finish()).toString("base64");
  }
  if (field.type === "bytes") return `b:${Buffer.from(asBytes(item)).toString("base64")}`;
  if (typeof item === "object" && item !== null) return `n:${toBigInt(item, isUnsigned(field.type))}`;
  return `${typeof item}:${String(item)}`;
}
