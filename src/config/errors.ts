// Turns zod issues into field errors a person can act on: a dotted path to the
// field (`spec.endpoints[0].address`) and a sentence that names what was
// expected and what was written. Unknown fields get one error each, with a
// "did you mean" hint when a known field is spelled nearly the same.

import { z } from "zod";
import { showValue } from "./primitives.js";

export interface FieldError {
  /** Dotted path, e.g. `spec.http[0].route[1].destination.host`; "" for the whole document. */
  field: string;
  message: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; errors: FieldError[] };

type Issue = z.core.$ZodIssue;
type PathSegment = PropertyKey;

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `["spec", "endpoints", 0, "address"]` → `spec.endpoints[0].address`; odd map keys are quoted: `labels["app.kubernetes.io/name"]`. */
export function formatFieldPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else {
      const key = String(segment);
      if (IDENTIFIER.test(key)) out += out === "" ? key : `.${key}`;
      else out += `[${JSON.stringify(key)}]`;
    }
  }
  return out;
}

const EXPECTED_NAMES: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "a boolean (true or false)",
  array: "a list",
  object: "an object",
  record: "an object",
};

/** zod's built-in messages start like this; anything else was written by our schemas and is kept as is. */
const DEFAULT_MESSAGE = /^(Invalid|Too (small|big)|Unrecognized)/;

function bound(value: number | bigint, inclusive: boolean | undefined, atLeast: boolean): string {
  if (atLeast) return inclusive === false ? `greater than ${value}` : `at least ${value}`;
  return inclusive === false ? `less than ${value}` : `at most ${value}`;
}

function sizeMessage(issue: Extract<Issue, { code: "too_small" | "too_big" }>, atLeast: boolean): string {
  const limit = atLeast
    ? (issue as Extract<Issue, { code: "too_small" }>).minimum
    : (issue as Extract<Issue, { code: "too_big" }>).maximum;
  switch (issue.origin) {
    case "array":
    case "set":
      return `must have ${bound(limit, issue.inclusive, atLeast)} item${Number(limit) === 1 ? "" : "s"}`;
    case "string":
      if (atLeast && Number(limit) === 1) return "must not be empty";
      return `must be ${bound(limit, issue.inclusive, atLeast)} characters long`;
    default:
      return `must be ${bound(limit, issue.inclusive, atLeast)}, got ${showValue(issue.input)}`;
  }
}

function fieldErrorsOf(issue: Issue, schema: z.ZodType, base: readonly PathSegment[]): FieldError[] {
  const path = [...base, ...issue.path];
  const field = formatFieldPath(path);
  const custom = !DEFAULT_MESSAGE.test(issue.message);
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => {
        const suggestion = closestField(key, knownFieldsAt(schema, path));
        return {
          field: formatFieldPath([...path, key]),
          message: `unknown field ${JSON.stringify(key)}${suggestion ? ` (did you mean ${JSON.stringify(suggestion)}?)` : ""}`,
        };
      });
    case "invalid_type":
      if (issue.input === undefined) {
        const name = path[path.length - 1];
        return [
          {
            field,
            message: typeof name === "string" ? `missing required field ${JSON.stringify(name)}` : "missing value",
          },
        ];
      }
      return [
        {
          field,
          message: `expected ${EXPECTED_NAMES[issue.expected] ?? issue.expected}, got ${showValue(issue.input)}`,
        },
      ];
    case "invalid_value":
      if (issue.values.length === 1) {
        return [{ field, message: `expected ${showValue(issue.values[0])}, got ${showValue(issue.input)}` }];
      }
      return [
        { field, message: `expected one of ${issue.values.map(String).join(", ")}, got ${showValue(issue.input)}` },
      ];
    case "too_small":
    case "too_big":
      return [{ field, message: custom ? issue.message : sizeMessage(issue, issue.code === "too_small") }];
    case "invalid_format":
      if (custom) return [{ field, message: issue.message }];
      if (issue.format === "base64")
        return [{ field, message: `expected base64-encoded bytes, got ${showValue(issue.input)}` }];
      return [{ field, message: `invalid ${issue.format}, got ${showValue(issue.input)}` }];
    case "invalid_key":
    case "invalid_element":
      return issue.issues.flatMap((inner) => fieldErrorsOf(inner, schema, path));
    case "invalid_union": {
      if (custom || issue.errors.length === 0) return [{ field, message: issue.message }];
      // Report the alternative that came closest (fewest problems).
      const closest = issue.errors.reduce((best, next) => (next.length < best.length ? next : best));
      return closest.flatMap((inner) => fieldErrorsOf(inner, schema, path));
    }
    case "not_multiple_of":
      return [{ field, message: `must be a multiple of ${issue.divisor}, got ${showValue(issue.input)}` }];
    default:
      return [{ field, message: issue.message }];
  }
}

/** All field errors of a failed parse, in document order, without duplicates. */
export function toFieldErrors(error: z.ZodError, schema: z.ZodType): FieldError[] {
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    for (const fe of fieldErrorsOf(issue, schema, [])) {
      const key = `${fe.field}\u0000${fe.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(fe);
    }
  }
  return out;
}

/** Parses with `schema` and reports failures as field errors. */
export function parseWith<S extends z.ZodType>(schema: S, input: unknown): ParseResult<z.output<S>> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return { ok: true, value: result.data };
  return { ok: false, errors: toFieldErrors(result.error, schema) };
}

// --- "did you mean" -------------------------------------------------------

function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  for (;;) {
    if (
      current instanceof z.ZodOptional ||
      current instanceof z.ZodNullable ||
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault
    ) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodLazy) {
      current = current.unwrap() as z.ZodType;
    } else {
      return current;
    }
  }
}

/** The field names the object schema at `path` allows, if the path leads to an object schema. */
function knownFieldsAt(schema: z.ZodType, path: readonly PathSegment[]): string[] {
  let current: z.ZodType | undefined = schema;
  for (const segment of path) {
    if (current === undefined) return [];
    current = unwrap(current);
    if (current instanceof z.ZodObject) current = (current.shape as Record<string, z.ZodType>)[String(segment)];
    else if (current instanceof z.ZodArray) current = current.element as z.ZodType;
    else if (current instanceof z.ZodRecord) current = current._zod.def.valueType as z.ZodType;
    else return [];
  }
  if (current === undefined) return [];
  current = unwrap(current);
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

/** Optimal-string-alignment distance: edits, with a swap of two neighbours counting once. */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      const row = d[i];
      if (row) row[j] = best;
    }
  }
  return at(a.length, b.length);
}

const normalise = (name: string): string => name.toLowerCase().replace(/[-_]/g, "");

function closestField(unknown: string, known: readonly string[]): string | undefined {
  // snake_case or kebab-case spellings of a camelCase field (export_to → exportTo).
  const same = known.find((k) => normalise(k) === normalise(unknown));
  if (same) return same;
  const limit = unknown.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of known) {
    const distance = editDistance(unknown.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}
