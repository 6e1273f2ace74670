// Strict check of builder objects in proto-loader input shape (snake_case
// field names, enums as strings, Duration as { seconds, nanos }, wrappers as
// { value }, Any as { "@type", ...fields }). protobufjs's fromObject drops
// unknown fields silently; this names them, so golden tests prove every field
// a translator writes exists in Envoy's schema. (proto-json.ts does the same
// for canonical proto3 JSON, e.g. bootstraps.)
import protobuf from "protobufjs";
import { envoyRoot } from "./protos.js";

export function checkProtoObject(typeName: string, value: unknown, root: protobuf.Root = envoyRoot()): string[] {
  const errors: string[] = [];
  checkMessage(root.lookupType(typeName), value, "", errors, root);
  return errors;
}

function checkMessage(type: protobuf.Type, value: unknown, path: string, errors: string[], root: protobuf.Root): void {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    errors.push(`${path || "<root>"}: expected a ${type.fullName.slice(1)} object`);
    return;
  }
  const obj = value as Record<string, unknown>;
  if (type.fullName === ".google.protobuf.Any" && "@type" in obj) {
    const url = String(obj["@type"]);
    let inner: protobuf.Type;
    try {
      inner = root.lookupType(url.slice(url.lastIndexOf("/") + 1));
    } catch {
      errors.push(`${path}.@type: unknown type ${url}`);
      return;
    }
    const { "@type": _, ...rest } = obj;
    checkMessage(inner, rest, path, errors, root);
    return;
  }
  const oneofsSet = new Map<string, string>();
  for (const [key, v] of Object.entries(obj)) {
    const p = path ? `${path}.${key}` : key;
    const field = type.fields[key];
    if (!field) {
      errors.push(`${p}: unknown field of ${type.fullName.slice(1)}`);
      continue;
    }
    if (v === undefined || v === null) continue;
    if (field.partOf) {
      const other = oneofsSet.get(field.partOf.name);
      if (other) errors.push(`${p}: oneof ${field.partOf.name} already set by ${other}`);
      oneofsSet.set(field.partOf.name, key);
    }
    if (field.map) {
      if (typeof v !== "object" || Array.isArray(v)) {
        errors.push(`${p}: expected a map`);
        continue;
      }
      for (const [k, item] of Object.entries(v as object)) checkValue(field, item, `${p}["${k}"]`, errors, root);
    } else if (field.repeated) {
      if (!Array.isArray(v)) {
        errors.push(`${p}: expected a list`);
        continue;
      }
      for (const [i, item] of v.entries()) checkValue(field, item, `${p}[${i}]`, errors, root);
    } else {
      checkValue(field, v, p, errors, root);
    }
  }
}

function checkValue(field: protobuf.Field, v: unknown, p: string, errors: string[], root: protobuf.Root): void {
  const rt = field.resolvedType;
  if (rt instanceof protobuf.Enum) {
    if (typeof v === "string" ? !(v in rt.values) : typeof v !== "number") {
      errors.push(`${p}: ${JSON.stringify(v)} is not a value of ${rt.fullName.slice(1)}`);
    }
    return;
  }
  if (rt instanceof protobuf.Type) {
    checkMessage(rt, v, p, errors, root);
    return;
  }
  const t = field.type;
  const ok =
    t === "string"
      ? typeof v === "string"
      : t === "bool"
        ? typeof v === "boolean"
        : t === "bytes"
          ? typeof v === "string" || v instanceof Uint8Array
          : /int64|fixed64/.test(t)
            ? typeof v === "string" || typeof v === "number"
            : typeof v === "number";
  if (!ok) errors.push(`${p}: expected ${t}, got ${typeof v}`);
}
