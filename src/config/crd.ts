// CustomResourceDefinitions for every mesh kind, generated from the zod
// schemas so the API server and Trellis validate against one source of truth.
// `scripts/gen-crds.mjs` writes them to manifests/crds/; crd.test.ts fails when
// the committed files drift. Pure: imports zod and config/ only.
//
// zod → Kubernetes structural schema. `z.toJSONSchema` emits JSON Schema
// 2020-12; a CRD needs OpenAPI v3 in Kubernetes's *structural* dialect
// (https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema):
// every node typed (or explicitly `x-kubernetes-int-or-string` /
// `x-kubernetes-preserve-unknown-fields`), no `$ref`, no type or default inside
// anyOf/oneOf/allOf/not, `properties` xor `additionalProperties`, no
// `uniqueItems: true`, patterns in Go's RE2 syntax. The translation:
//
// - `$ref`/`$defs` are inlined; a recursive reference cannot be, so that node
//   becomes `x-kubernetes-preserve-unknown-fields` (reported as a note).
// - `additionalProperties: false` is dropped: the API server prunes unknown
//   fields, and with `fieldValidation=Strict` (kubectl's default since 1.27)
//   rejects them instead, naming the field.
// - `additionalProperties: <schema>` (a zod record) stays: a map; a key
//   pattern/enum/length (`propertyNames`, which Kubernetes does not know)
//   becomes a CEL rule in `x-kubernetes-validations`.
// - unions: `T | null` → `nullable: true`; integer | string →
//   `x-kubernetes-int-or-string`; literal unions → `enum`; unions of objects
//   that differ in required keys or in a literal discriminator → merged
//   `properties` plus `oneOf` branches holding only `required` and `enum`
//   (structural-compatible); anything else → preserve-unknown-fields (note).
// - 2020-12 numeric `exclusiveMinimum: n` → `minimum: n, exclusiveMinimum: true`;
//   `const` → one-value `enum`; zod's ±2^53−1 integer bounds are dropped
//   (Kubernetes stores int64; JSON numbers beyond 2^53 are not exact anyway).
// - formats only where Kubernetes knows them (base64 → `byte`, email, uri, …);
//   others are dropped, their pattern (if any) kept.
// - `default` is dropped: the API server would write it into stored objects;
//   Trellis fills defaults when it parses.
//
// Everything loosened on the way is reported through `notes`, so a change in
// the zod schemas that cannot be expressed shows up in review (crd.test.ts
// pins the list).

import { z } from "zod";
import { MESH_KINDS, type MeshKind } from "./index.js";

/** The subset of Kubernetes's apiextensions.k8s.io/v1 JSONSchemaProps the generator emits. */
export interface JSONSchemaProps {
  type?: "object" | "array" | "string" | "integer" | "number" | "boolean";
  description?: string;
  format?: string;
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaProps;
  required?: string[];
  minProperties?: number;
  maxProperties?: number;
  items?: JSONSchemaProps;
  minItems?: number;
  maxItems?: number;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  nullable?: boolean;
  oneOf?: JSONSchemaProps[];
  anyOf?: JSONSchemaProps[];
  "x-kubernetes-preserve-unknown-fields"?: true;
  "x-kubernetes-int-or-string"?: true;
  "x-kubernetes-list-type"?: "atomic" | "set";
  "x-kubernetes-validations"?: { rule: string; message: string }[];
}

export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description?: string;
}

export interface CustomResourceDefinition {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    group: string;
    names: {
      kind: string;
      listKind: string;
      plural: string;
      singular: string;
      shortNames?: string[];
      categories: string[];
    };
    scope: "Namespaced" | "Cluster";
    conversion: { strategy: "None" };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: JSONSchemaProps };
      subresources: { status: Record<string, never> };
      additionalPrinterColumns?: PrinterColumn[];
    }[];
  };
}

/** Something the structural schema accepts that the zod schema rejects (Trellis still rejects it). */
export interface SchemaNote {
  /** Where, e.g. `VirtualService.spec.http[].match[]`. */
  path: string;
  message: string;
}

// ---------------------------------------------------------------------------
// per-kind presentation: short names and `kubectl get` columns as Istio's CRDs have them

const AGE: PrinterColumn = {
  name: "Age",
  type: "date",
  jsonPath: ".metadata.creationTimestamp",
  description: "Time since the object was created",
};

const PRESENTATION: Record<MeshKind, { shortNames?: string[]; columns?: PrinterColumn[] }> = {
  ServiceEntry: {
    shortNames: ["se"],
    columns: [
      { name: "Hosts", type: "string", jsonPath: ".spec.hosts", description: "Hosts the entry adds to the registry" },
      { name: "Location", type: "string", jsonPath: ".spec.location", description: "MESH_EXTERNAL or MESH_INTERNAL" },
      {
        name: "Resolution",
        type: "string",
        jsonPath: ".spec.resolution",
        description: "How endpoints are found: NONE, STATIC, DNS or DNS_ROUND_ROBIN",
      },
      AGE,
    ],
  },
  WorkloadEntry: {
    shortNames: ["we"],
    columns: [
      AGE,
      { name: "Address", type: "string", jsonPath: ".spec.address", description: "Address of the workload" },
    ],
  },
  WorkloadGroup: { shortNames: ["wg"], columns: [AGE] },
  VirtualService: {
    shortNames: ["vs"],
    columns: [
      {
        name: "Gateways",
        type: "string",
        jsonPath: ".spec.gateways",
        description: "Gateways (and `mesh`) the routes apply to",
      },
      { name: "Hosts", type: "string", jsonPath: ".spec.hosts", description: "Destination hosts the routes apply to" },
      AGE,
    ],
  },
  DestinationRule: {
    shortNames: ["dr"],
    columns: [
      { name: "Host", type: "string", jsonPath: ".spec.host", description: "Service the policy applies to" },
      AGE,
    ],
  },
  Gateway: { shortNames: ["gw"] },
  Sidecar: {},
  PeerAuthentication: {
    shortNames: ["pa"],
    columns: [
      { name: "Mode", type: "string", jsonPath: ".spec.mtls.mode", description: "Workload-wide mutual TLS mode" },
      AGE,
    ],
  },
  AuthorizationPolicy: {
    shortNames: ["ap"],
    columns: [
      { name: "Action", type: "string", jsonPath: ".spec.action", description: "ALLOW, DENY, AUDIT or CUSTOM" },
      AGE,
    ],
  },
  RequestAuthentication: { shortNames: ["ra"] },
  Telemetry: { shortNames: ["telemetry"] },
  RateLimit: {
    columns: [{ name: "Host", type: "string", jsonPath: ".spec.host", description: "Service the limits protect" }, AGE],
  },
};

// ---------------------------------------------------------------------------
// CRDs

/** Kubernetes version priority: GA > beta > alpha, then by number (v1 > v1beta2 > v1beta1 > v1alpha3). */
function versionPriority(version: string): [number, number, number] {
  const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(version);
  if (!m) throw new Error(`not a Kubernetes API version: ${version}`);
  const stability = m[2] === undefined ? 2 : m[2] === "beta" ? 1 : 0;
  return [stability, Number(m[1]), Number(m[3] ?? 0)];
}

/** The version objects are stored in: the highest-priority served version (v1 over v1beta1 over v1alpha3). */
export function storageVersion(versions: readonly string[]): string {
  let best: string | undefined;
  for (const v of versions) {
    if (best === undefined) best = v;
    else {
      const [a, b] = [versionPriority(v), versionPriority(best)];
      if (a[0] > b[0] || (a[0] === b[0] && (a[1] > b[1] || (a[1] === b[1] && a[2] > b[2])))) best = v;
    }
  }
  if (best === undefined) throw new Error("no versions");
  return best;
}

/** `istio-io` and `networking-istio-io` for networking.istio.io, as Istio's CRDs; `trellis-dev`, `policy-trellis-dev` for ours. */
function categories(group: string): string[] {
  const domain = group.split(".").slice(-2).join("-");
  return [domain, group.replaceAll(".", "-")];
}

/** The CRD for one mesh kind. Every served version shares the one schema (so conversion is None). */
export function meshKindCrd(kind: MeshKind, notes: SchemaNote[] = []): CustomResourceDefinition {
  const info = MESH_KINDS[kind];
  const spec = zodToStructural(info.spec, `${kind}.spec`, notes);
  // A kind's spec is required exactly where zod requires it on input (meshObjectSchema's specRequired).
  const whole = z.toJSONSchema(info.schema, { io: "input", unrepresentable: "any" }) as { required?: string[] };
  const specRequired = whole.required?.includes("spec") ?? false;
  const openAPIV3Schema: JSONSchemaProps = {
    type: "object",
    properties: {
      apiVersion: { type: "string", description: "API group and version of this object" },
      kind: { type: "string", description: "The kind of this object" },
      metadata: { type: "object" },
      spec,
      status: {
        type: "object",
        description: "Written by Trellis: whether the object was accepted, and what it could not act on",
        "x-kubernetes-preserve-unknown-fields": true,
      },
    },
    ...(specRequired ? { required: ["spec"] } : {}),
  };
  const storage = storageVersion(info.versions);
  const { shortNames, columns } = PRESENTATION[kind];
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: {
      name: `${info.plural}.${info.group}`,
      labels: { "app.kubernetes.io/name": "trellis", "app.kubernetes.io/part-of": "trellis" },
    },
    spec: {
      group: info.group,
      names: {
        kind,
        listKind: `${kind}List`,
        plural: info.plural,
        singular: kind.toLowerCase(),
        ...(shortNames ? { shortNames } : {}),
        categories: categories(info.group),
      },
      scope: "Namespaced",
      conversion: { strategy: "None" },
      versions: info.versions.map((name) => ({
        name,
        served: true,
        storage: name === storage,
        // A copy per version, so YAML writers never emit anchors for shared objects.
        schema: { openAPIV3Schema: structuredClone(openAPIV3Schema) },
        subresources: { status: {} },
        ...(columns ? { additionalPrinterColumns: structuredClone(columns) } : {}),
      })),
    },
  };
}

/** Every mesh kind's CRD, ordered by name (`<plural>.<group>`). */
export function meshCrds(notes: SchemaNote[] = []): CustomResourceDefinition[] {
  return (Object.keys(MESH_KINDS) as MeshKind[])
    .map((kind) => meshKindCrd(kind, notes))
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
}

// ---------------------------------------------------------------------------
// zod → structural schema

/** JSON Schema as z.toJSONSchema emits it (draft 2020-12); `true`/`false` are allowed as schemas. */
type JsonSchema = boolean | { [keyword: string]: unknown };

/** Converts a zod schema (its input side) to a Kubernetes structural schema. Loosenings are appended to `notes`. */
export function zodToStructural(schema: z.ZodType, path: string, notes: SchemaNote[] = []): JSONSchemaProps {
  const root = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  return jsonSchemaToStructural(root, path, notes);
}

/** Converts JSON Schema 2020-12 (as zod writes it) to a Kubernetes structural schema. */
export function jsonSchemaToStructural(root: JsonSchema, path: string, notes: SchemaNote[] = []): JSONSchemaProps {
  // "#" is the root itself: a `$ref: "#"` below it is recursion.
  return new Converter(root, notes).convert(root, path, ["#"]);
}

/** Kubernetes's known string formats that zod emits, zod name → Kubernetes name. */
const FORMATS: Record<string, string> = {
  base64: "byte",
  email: "email",
  uri: "uri",
  uuid: "uuid",
  ipv4: "ipv4",
  ipv6: "ipv6",
  cidrv4: "cidr",
  cidrv6: "cidr",
  "date-time": "date-time",
  date: "date",
  hostname: "hostname",
  mac: "mac",
  int32: "int32",
  int64: "int64",
  float32: "float",
  float64: "double",
};

/** Keywords that carry no validation Kubernetes can use, or that it must not see. */
const DROPPED = new Set([
  "$schema",
  "$id",
  "$comment",
  "$defs",
  "definitions",
  "id",
  "title",
  "default",
  "examples",
  "deprecated",
  "readOnly",
  "writeOnly",
  "contentEncoding",
  "contentMediaType",
]);

const SAFE_INTEGER_BOUNDS = new Set([Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]);

const PRESERVE = { "x-kubernetes-preserve-unknown-fields": true } as const;

type Node = { [keyword: string]: unknown };

class Converter {
  constructor(
    private readonly root: JsonSchema,
    private readonly notes: SchemaNote[],
  ) {}

  private fallback(path: string, why: string, type?: JSONSchemaProps["type"]): JSONSchemaProps {
    this.notes.push({ path, message: `${why}: the API server accepts any value here (preserve-unknown-fields)` });
    // Only objects may carry a type next to preserve-unknown-fields; other values stay untyped.
    return type === "object" ? { type: "object", ...PRESERVE } : { ...PRESERVE };
  }

  private resolve(ref: string, path: string): JsonSchema {
    if (ref === "#") return this.root;
    const m = /^#\/(\$defs|definitions)\/(.+)$/.exec(ref);
    const defs =
      typeof this.root === "object" ? (this.root[m?.[1] ?? ""] as Record<string, JsonSchema> | undefined) : undefined;
    const target =
      m?.[2] === undefined ? undefined : defs?.[decodeURIComponent(m[2].replaceAll("~1", "/").replaceAll("~0", "~"))];
    if (target === undefined) throw new Error(`${path}: cannot resolve $ref ${ref}`);
    return target;
  }

  convert(schema: JsonSchema, path: string, refs: readonly string[]): JSONSchemaProps {
    if (schema === true) return this.fallback(path, "any value allowed (z.unknown/z.any)");
    if (schema === false) return this.fallback(path, "no value allowed (z.never), cannot be expressed");
    let node: Node = schema;

    if (typeof node.$ref === "string") {
      const ref = node.$ref;
      const { $ref: _, ...siblings } = node;
      const target = this.resolve(ref, path);
      if (refs.includes(ref)) {
        const type = typeof target === "object" && target.type === "object" ? "object" : undefined;
        return this.fallback(path, `recursive schema (${ref}) cannot be inlined`, type);
      }
      if (typeof target !== "object") return this.convert(target, path, [...refs, ref]);
      return this.convert({ ...target, ...siblings }, path, [...refs, ref]);
    }

    const meaningful = Object.keys(node).filter((k) => !DROPPED.has(k) && k !== "description");
    if (meaningful.length === 0)
      return this.withDescription(node, this.fallback(path, "any value allowed (z.unknown/z.any)"));

    // `type: ["string", "null"]` (zod's .nullable()).
    if (Array.isArray(node.type)) {
      const types = (node.type as string[]).filter((t) => t !== "null");
      const nullable = types.length < (node.type as string[]).length;
      if (types.length === 1) return this.withNullable(this.convert({ ...node, type: types[0] }, path, refs), nullable);
      if (types.length === 2 && types.includes("integer") && types.includes("string")) {
        const { type: _, ...rest } = node;
        return this.withNullable(this.intOrString(rest, [], path), nullable);
      }
      return this.fallback(path, `value of several types (${types.join(", ")})`);
    }

    for (const junctor of ["anyOf", "oneOf"] as const) {
      if (Array.isArray(node[junctor])) {
        const { [junctor]: branches, ...rest } = node;
        return this.union(rest, branches as JsonSchema[], path, refs);
      }
    }
    if (Array.isArray(node.allOf)) {
      const { allOf, ...rest } = node;
      return this.intersection(rest, allOf as JsonSchema[], path, refs);
    }
    if (node.not !== undefined) return this.fallback(path, "`not` cannot be expressed structurally");

    if ("const" in node) {
      const { const: value, ...rest } = node;
      node = { ...rest, enum: [value] };
    }
    if (node.type === undefined && Array.isArray(node.enum)) {
      const types = new Set(node.enum.map(jsonType));
      if (types.size === 1) node = { ...node, type: [...types][0] };
      else return this.fallback(path, "enum of values of several types");
    }

    switch (node.type) {
      case "object":
        return this.object(node, path, refs);
      case "array":
        return this.array(node, path, refs);
      case "string":
        return this.string(node, path);
      case "integer":
      case "number":
        return this.number(node, path);
      case "boolean":
        return this.scalar(node, { type: "boolean" }, path, ["enum"]);
      case "null":
        return this.fallback(path, "a value that can only be null");
      default:
        throw new Error(`${path}: unsupported JSON Schema ${JSON.stringify(node).slice(0, 200)}`);
    }
  }

  private withDescription(node: Node, out: JSONSchemaProps): JSONSchemaProps {
    return typeof node.description === "string" ? { description: node.description, ...out } : out;
  }

  private withNullable(out: JSONSchemaProps, nullable: boolean): JSONSchemaProps {
    // Kubernetes prunes a null field unless the schema says nullable; Trellis drops null fields too.
    return nullable ? { ...out, nullable: true } : out;
  }

  /** Copies the listed keywords verbatim, rejects any other keyword (so new zod output is never silently lost). */
  private scalar(node: Node, out: JSONSchemaProps, path: string, keep: readonly string[]): JSONSchemaProps {
    const result = this.withDescription(node, out) as Record<string, unknown>;
    for (const [k, v] of Object.entries(node)) {
      if (k === "type" || k === "description" || DROPPED.has(k) || k in result) continue;
      if (!keep.includes(k)) throw new Error(`${path}: unsupported keyword ${k} on a ${String(node.type)}`);
      result[k] = v;
    }
    return result as JSONSchemaProps;
  }

  private string(node: Node, path: string): JSONSchemaProps {
    const { format, pattern, ...rest } = node;
    const out: JSONSchemaProps = { type: "string" };
    const kubeFormat = typeof format === "string" ? FORMATS[format] : undefined;
    if (kubeFormat) out.format = kubeFormat;
    if (typeof pattern === "string") {
      const problem = re2Incompatibility(pattern);
      if (problem === undefined) out.pattern = pattern;
      else if (!kubeFormat) {
        // A pattern the API server cannot compile would make the whole CRD invalid; silently
        // dropping it would hide a gap. Write it in RE2 syntax in the zod schema instead.
        throw new Error(
          `${path}: pattern ${JSON.stringify(pattern)} is not RE2 (${problem}); Kubernetes cannot use it`,
        );
      }
      // else: zod's own regex for a format Kubernetes checks itself (e.g. email): the format stands in.
    }
    return this.scalar(rest, out, path, ["enum", "minLength", "maxLength"]);
  }

  private number(node: Node, path: string): JSONSchemaProps {
    const { minimum, maximum, exclusiveMinimum, exclusiveMaximum, format, ...rest } = node;
    const out: JSONSchemaProps = { type: node.type as "integer" | "number" };
    if (typeof format === "string" && FORMATS[format]) out.format = FORMATS[format];
    const bound = (v: unknown) => (typeof v === "number" && !SAFE_INTEGER_BOUNDS.has(v) ? v : undefined);
    const [min, max, xmin, xmax] = [bound(minimum), bound(maximum), bound(exclusiveMinimum), bound(exclusiveMaximum)];
    // 2020-12 writes exclusive bounds as numbers; OpenAPI v3.0 as a flag on minimum/maximum.
    if (xmin !== undefined && (min === undefined || xmin >= min))
      Object.assign(out, { minimum: xmin, exclusiveMinimum: true });
    else if (min !== undefined) out.minimum = min;
    if (xmax !== undefined && (max === undefined || xmax <= max))
      Object.assign(out, { maximum: xmax, exclusiveMaximum: true });
    else if (max !== undefined) out.maximum = max;
    return this.scalar(rest, out, path, ["enum", "multipleOf"]);
  }

  private array(node: Node, path: string, refs: readonly string[]): JSONSchemaProps {
    const { items, prefixItems, uniqueItems, ...rest } = node;
    const out: JSONSchemaProps = { type: "array" };
    if (prefixItems !== undefined) {
      // A tuple: Kubernetes has one `items` schema per array.
      out.items = this.fallback(`${path}[]`, "tuple (z.tuple) items of differing types");
    } else if (items === undefined || items === true) {
      out.items = this.fallback(`${path}[]`, "array items of any type");
    } else {
      out.items = this.convert(items as JsonSchema, `${path}[]`, refs);
    }
    if (uniqueItems === true) {
      // Structural schemas forbid uniqueItems (quadratic); a set list type is the Kubernetes way, for scalars.
      if (out.items.type !== undefined && out.items.type !== "object" && out.items.type !== "array") {
        out["x-kubernetes-list-type"] = "set";
      } else
        this.notes.push({ path, message: "items are not checked for uniqueness (uniqueItems on non-scalar items)" });
    }
    return this.scalar(rest, out, path, ["minItems", "maxItems"]);
  }

  private object(node: Node, path: string, refs: readonly string[]): JSONSchemaProps {
    const { properties, additionalProperties, propertyNames, required, ...rest } = node;
    const out: JSONSchemaProps = { type: "object" };
    const props = (properties ?? {}) as Record<string, JsonSchema>;
    const hasProps = Object.keys(props).length > 0;
    if (hasProps) {
      out.properties = {};
      for (const [key, value] of Object.entries(props))
        out.properties[key] = this.convert(value, `${path}.${key}`, refs);
    }
    if (Array.isArray(required) && required.length > 0) out.required = [...(required as string[])];

    const extra = additionalProperties as JsonSchema | undefined;
    const anyExtra = extra === true || (typeof extra === "object" && Object.keys(extra).length === 0);
    if (anyExtra) {
      // z.looseObject / z.record(z.string(), z.unknown()): unknown fields kept as written.
      out["x-kubernetes-preserve-unknown-fields"] = true;
      this.notes.push({ path, message: "fields not in the schema are kept unvalidated (preserve-unknown-fields)" });
    } else if (typeof extra === "object") {
      // A zod record: a map from string to the value schema.
      if (hasProps) {
        // z.object(...).catchall(x): Kubernetes allows properties or additionalProperties, not both.
        return this.fallback(path, "object with both fixed fields and a catch-all", "object");
      }
      out.additionalProperties = this.convert(extra, `${path}[*]`, refs);
    }
    // additionalProperties false or absent: unknown fields are pruned, or rejected with fieldValidation=Strict.

    if (propertyNames !== undefined) {
      const rules = this.keyRules(propertyNames as JsonSchema, path);
      if (rules.length > 0) out["x-kubernetes-validations"] = rules;
    }
    return this.scalar(rest, out, path, ["minProperties", "maxProperties"]);
  }

  /** `propertyNames` (map-key constraints), which Kubernetes lacks, as CEL rules over the map's keys. */
  private keyRules(keys: JsonSchema, path: string): { rule: string; message: string }[] {
    if (typeof keys !== "object") return [];
    const rules: { rule: string; message: string }[] = [];
    for (const [k, v] of Object.entries(keys)) {
      if (k === "type" && v === "string") continue;
      if (DROPPED.has(k) || k === "description") continue;
      if (k === "pattern" && typeof v === "string") {
        const problem = re2Incompatibility(v);
        if (problem !== undefined) throw new Error(`${path}: key pattern ${JSON.stringify(v)} is not RE2 (${problem})`);
        // JSON string escapes are valid CEL string escapes.
        rules.push({ rule: `self.all(k, k.matches(${JSON.stringify(v)}))`, message: `keys must match ${v}` });
      } else if (k === "enum" && Array.isArray(v)) {
        rules.push({
          rule: `self.all(k, k in ${JSON.stringify(v)})`,
          message: `keys must be one of ${v.join(", ")}`,
        });
      } else if (k === "minLength" && typeof v === "number") {
        rules.push({ rule: `self.all(k, size(k) >= ${v})`, message: `keys must be at least ${v} characters` });
      } else if (k === "maxLength" && typeof v === "number") {
        rules.push({ rule: `self.all(k, size(k) <= ${v})`, message: `keys must be at most ${v} characters` });
      } else if (k === "format") {
        this.notes.push({ path, message: `map keys are not checked for format ${String(v)}` });
      } else throw new Error(`${path}: unsupported propertyNames keyword ${k}`);
    }
    return rules;
  }

  private intOrString(node: Node, branches: Node[], path: string): JSONSchemaProps {
    // The one union Kubernetes types natively. Its exact structural form is
    // `x-kubernetes-int-or-string` with anyOf [{type: integer}, {type: string}]; bounds and
    // patterns on the branches would need CEL over a dynamically typed value, so they are left to Trellis.
    const constrained = branches.some((b) =>
      Object.entries(b).some(
        ([k, v]) => k !== "type" && !DROPPED.has(k) && !(typeof v === "number" && SAFE_INTEGER_BOUNDS.has(v)),
      ),
    );
    if (constrained)
      this.notes.push({ path, message: "integer-or-string: bounds and patterns of the branches not checked" });
    return this.withDescription(node, {
      "x-kubernetes-int-or-string": true,
      anyOf: [{ type: "integer" }, { type: "string" }],
    });
  }

  private union(node: Node, rawBranches: JsonSchema[], path: string, refs: readonly string[]): JSONSchemaProps {
    const resolved = rawBranches.map((b) => this.deref(b, path));
    const nonNull = resolved.filter(
      (b) => !(typeof b === "object" && b.type === "null" && Object.keys(b).length === 1),
    );
    const nullable = nonNull.length < resolved.length;
    if (nonNull.some((b) => typeof b !== "object") || nonNull.length === 0) {
      return this.fallback(path, "union with an unrestricted member");
    }
    const branches = nonNull as Node[];
    if (branches.length === 1)
      return this.withNullable(this.convert({ ...node, ...branches[0] }, path, refs), nullable);

    // Literal unions (z.union([z.literal("a"), z.literal("b")])): one enum.
    const literals = branches.map(literalValues);
    if (literals.every((l) => l !== undefined)) {
      const values = literals.flat() as unknown[];
      const types = new Set(values.map(jsonType));
      if (types.size === 1) {
        return this.withNullable(this.convert({ ...node, type: [...types][0], enum: values }, path, refs), nullable);
      }
    }

    const types = branches.map((b) => b.type);
    if (types.length === 2 && types.includes("integer") && types.includes("string")) {
      return this.withNullable(this.intOrString(node, branches, path), nullable);
    }
    if (types.every((t) => t === "object")) {
      const merged = this.objectUnion(node, branches, path, refs);
      if (merged) return this.withNullable(merged, nullable);
      return this.fallback(path, "union of objects that no required field or literal tells apart", "object");
    }
    return this.fallback(path, `union of ${types.map(String).join(" | ")}`);
  }

  private deref(schema: JsonSchema, path: string): JsonSchema {
    let s = schema;
    for (let i = 0; i < 32 && typeof s === "object" && typeof s.$ref === "string"; i++) {
      const { $ref, ...siblings } = s;
      const target = this.resolve($ref, path);
      s = typeof target === "object" ? { ...target, ...siblings } : target;
    }
    return s;
  }

  /**
   * A union of objects told apart by which fields are present (Istio's "exactly one of") or by a
   * literal discriminator: one object with every variant's fields, and `oneOf` branches that hold
   * only `required` and `enum` — the structural form Kubernetes allows. Fields of one variant are
   * then accepted next to another's discriminator (Trellis's own validation still rejects that).
   */
  private objectUnion(
    node: Node,
    branches: Node[],
    path: string,
    refs: readonly string[],
  ): JSONSchemaProps | undefined {
    if (branches.some((b) => b.additionalProperties !== undefined && b.additionalProperties !== false))
      return undefined;
    if (branches.some((b) => b.propertyNames !== undefined || b.anyOf || b.oneOf || b.allOf)) return undefined;
    const converted = branches.map((b) => this.object({ ...b, additionalProperties: false }, path, refs));
    const properties: Record<string, JSONSchemaProps> = {};
    const narrowed: Record<string, JSONSchemaProps>[] = branches.map(() => ({}));
    const keys = [...new Set(converted.flatMap((c) => Object.keys(c.properties ?? {})))];
    for (const key of keys) {
      const variants = converted.map((c) => c.properties?.[key]);
      const present = variants.filter((v): v is JSONSchemaProps => v !== undefined);
      const first = present[0] as JSONSchemaProps;
      if (present.every((v) => canonical(v) === canonical(first))) {
        properties[key] = first;
        continue;
      }
      // Same scalar type, differing only in enum: a discriminator. The union of values outside,
      // each branch's own values inside its oneOf branch.
      const { enum: _, ...shape } = first;
      const sameShape = present.every((v) => {
        const { enum: __, ...s } = v;
        return canonical(s) === canonical(shape) && Array.isArray(v.enum);
      });
      if (!sameShape || shape.type === "object" || shape.type === "array") return undefined;
      properties[key] = { ...shape, enum: [...new Set(present.flatMap((v) => v.enum ?? []))] };
      variants.forEach((v, i) => {
        if (v?.enum) (narrowed[i] as Record<string, JSONSchemaProps>)[key] = { enum: v.enum };
      });
    }
    const oneOf = converted.map((c, i) => {
      const branch: JSONSchemaProps = {};
      if (c.required?.length) branch.required = c.required;
      const n = narrowed[i] as Record<string, JSONSchemaProps>;
      if (Object.keys(n).length > 0) branch.properties = n;
      return branch;
    });
    // A branch with no constraint matches every value, so oneOf could never pick exactly one.
    if (oneOf.some((b) => Object.keys(b).length === 0)) return undefined;
    const distinct = new Set(oneOf.map(canonical));
    if (distinct.size < oneOf.length) return undefined;
    this.notes.push({
      path,
      message:
        "union of objects: one variant's fields are accepted alongside another's (oneOf on required fields only)",
    });
    return this.withDescription(node, { type: "object", properties, oneOf });
  }

  private intersection(node: Node, parts: JsonSchema[], path: string, refs: readonly string[]): JSONSchemaProps {
    const resolved = parts.map((p) => this.deref(p, path));
    if (resolved.some((p) => typeof p !== "object" || p.type !== "object" || p.anyOf || p.oneOf || p.allOf)) {
      return this.fallback(path, "intersection of non-objects");
    }
    const objects = resolved as Node[];
    const properties: Record<string, JsonSchema> = {};
    for (const o of objects) {
      for (const [k, v] of Object.entries((o.properties ?? {}) as Record<string, JsonSchema>)) {
        if (k in properties && canonical(properties[k]) !== canonical(v)) {
          return this.fallback(path, `intersection with two schemas for field ${k}`, "object");
        }
        properties[k] = v;
      }
    }
    const required = [...new Set(objects.flatMap((o) => (o.required ?? []) as string[]))];
    return this.convert({ ...node, type: "object", properties, required }, path, refs);
  }
}

/** The values a literal branch allows (`const` or `enum`), or undefined when it is more than a literal. */
function literalValues(branch: Node): unknown[] | undefined {
  const keys = Object.keys(branch).filter((k) => k !== "type" && !DROPPED.has(k) && k !== "description");
  if (keys.length !== 1) return undefined;
  if (keys[0] === "const") return [branch.const];
  if (keys[0] === "enum" && Array.isArray(branch.enum)) return branch.enum;
  return undefined;
}

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/** JSON with sorted keys, for structural equality. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

// ---------------------------------------------------------------------------
// RE2

/**
 * Why a JavaScript regex source is not valid RE2 (Go's regexp, which the API server
 * compiles `pattern` and CEL `matches()` with), or undefined when it is. Catches
 * what JS has and RE2 lacks: lookaround, backreferences, `\u` escapes, `\c`, `[^]`.
 */
export function re2Incompatibility(pattern: string): string | undefined {
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") {
      const next = pattern[i + 1];
      if (next === undefined) return "trailing backslash";
      if (!inClass && /[1-9]/.test(next)) return `backreference \\${next}`;
      if (next === "k") return "named backreference \\k<…>";
      if (next === "u") return "\\u escape (RE2 writes \\x{…})";
      if (next === "c") return "control escape \\c";
      i++;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      continue;
    }
    if (c === "[") {
      if (pattern.startsWith("[^]", i)) return "[^] (any character) is JavaScript-only";
      inClass = true;
      // A `]` right after `[` or `[^` is a literal in RE2 but ends an empty class in JS.
      if (pattern[i + 1] === "]" || pattern.startsWith("^]", i + 1)) return "empty character class";
      continue;
    }
    if (c === "(" && pattern[i + 1] === "?") {
      const rest = pattern.slice(i + 2);
      if (rest.startsWith("=") || rest.startsWith("!")) return "lookahead";
      if (rest.startsWith("<=") || rest.startsWith("<!")) return "lookbehind";
    }
  }
  return inClass ? "unterminated character class" : undefined;
}
