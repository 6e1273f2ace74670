// JSON Patch (RFC 6902) between two JSON documents, and its application.
// `jsonPatch(before, after)` is what the webhook returns for a pod: object
// members are added, removed or diffed in place; arrays are diffed by their
// longest common subsequence of equal elements, so inserting a container emits
// one `add` at its index (or `-` at the end) — never a `replace` of the whole
// array, which would drop whatever another webhook added to the same list.
// Paths are JSON Pointers (RFC 6901): `~` is written `~0`, `/` is `~1`.

export type JsonPatchOp =
  | { op: "add"; path: string; value: unknown }
  | { op: "remove"; path: string }
  | { op: "replace"; path: string; value: unknown }
  | { op: "move"; from: string; path: string }
  | { op: "copy"; from: string; path: string }
  | { op: "test"; path: string; value: unknown };

/** A patch operation that cannot be applied: a bug in whoever made the patch. */
export class JsonPatchError extends Error {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(`patch operation ${index}: ${message}`);
    this.name = "JsonPatchError";
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Operations that turn `before` into `after` (both as JSON: undefined members are left out, as JSON.stringify does). */
export function jsonPatch(before: unknown, after: unknown): JsonPatchOp[] {
  const ops: JsonPatchOp[] = [];
  diff(toJson(before), toJson(after), "", ops);
  return ops;
}

/** `doc` with `ops` applied, as a new document (`doc` is not changed). Throws JsonPatchError on an operation that does not apply. */
export function applyPatch(doc: unknown, ops: JsonPatchOp[]): unknown {
  let root: Json = toJson(doc);
  ops.forEach((op, index) => {
    const fail = (message: string): never => {
      throw new JsonPatchError(index, `${op.op} ${op.path}: ${message}`);
    };
    const get = (path: string): Json => {
      let node: Json = root;
      for (const token of parsePointer(path, fail)) {
        const next = child(node, token);
        if (next === undefined) fail(`${path} does not exist`);
        node = next as Json;
      }
      return node;
    };
    const add = (path: string, value: Json) => {
      const tokens = parsePointer(path, fail);
      const last = tokens.pop();
      if (last === undefined) {
        root = value;
        return;
      }
      const parent = get(toPointer(tokens));
      if (Array.isArray(parent)) {
        const i = last === "-" ? parent.length : arrayIndex(last, parent.length, fail);
        parent.splice(i, 0, value);
      } else if (isObject(parent)) parent[last] = value;
      else fail(`the parent of ${path} is not an object or array`);
    };
    const remove = (path: string): Json => {
      const tokens = parsePointer(path, fail);
      const last = tokens.pop();
      if (last === undefined) fail("cannot remove the whole document");
      const parent = get(toPointer(tokens));
      const key = last as string;
      if (Array.isArray(parent)) {
        const i = arrayIndex(key, parent.length - 1, fail);
        return parent.splice(i, 1)[0] as Json;
      }
      if (isObject(parent) && Object.hasOwn(parent, key)) {
        const value = parent[key] as Json;
        delete parent[key];
        return value;
      }
      return fail(`${path} does not exist`);
    };
    switch (op.op) {
      case "add":
        add(op.path, toJson(op.value));
        break;
      case "remove":
        remove(op.path);
        break;
      case "replace":
        if (op.path === "") root = toJson(op.value);
        else {
          remove(op.path);
          add(op.path, toJson(op.value));
        }
        break;
      case "move": {
        if (op.path.startsWith(`${op.from}/`)) fail(`cannot move ${op.from} into itself`);
        add(op.path, remove(op.from));
        break;
      }
      case "copy":
        add(op.path, structuredClone(get(op.from)));
        break;
      case "test":
        if (!equal(get(op.path), toJson(op.value))) fail("value differs");
        break;
      default:
        fail(`unknown op ${JSON.stringify((op as { op: unknown }).op)}`);
    }
  });
  return root;
}

/** `~0`/`~1` escaping of one reference token (RFC 6901 §3). */
export function escapePointerToken(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}

// ---------------------------------------------------------------------------

function diff(a: Json, b: Json, path: string, ops: JsonPatchOp[]): void {
  if (equal(a, b)) return;
  if (isObject(a) && isObject(b)) {
    for (const key of Object.keys(a)) {
      if (!Object.hasOwn(b, key)) ops.push({ op: "remove", path: `${path}/${escapePointerToken(key)}` });
    }
    for (const [key, value] of Object.entries(b)) {
      const p = `${path}/${escapePointerToken(key)}`;
      if (Object.hasOwn(a, key)) diff(a[key] as Json, value, p, ops);
      else ops.push({ op: "add", path: p, value });
    }
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    diffArray(a, b, path, ops);
    return;
  }
  ops.push({ op: "replace", path, value: b });
}

/**
 * Arrays: keep the longest common subsequence of equal elements; between two
 * kept elements, as many removed/added elements as can be paired are diffed in
 * place, the rest removed or inserted. Indices are those of the array as the
 * operations so far have left it (operations apply in order).
 */
function diffArray(a: Json[], b: Json[], path: string, ops: JsonPatchOp[]): void {
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      const row = lcs[i] as number[];
      row[j] = equal(a[i] as Json, b[j] as Json)
        ? ((lcs[i + 1] as number[])[j + 1] as number) + 1
        : Math.max((lcs[i + 1] as number[])[j] as number, row[j + 1] as number);
    }
  }
  const kept: [number, number][] = [];
  for (let i = 0, j = 0; i < n && j < m; ) {
    if (equal(a[i] as Json, b[j] as Json)) {
      kept.push([i, j]);
      i++;
      j++;
    } else if (((lcs[i + 1] as number[])[j] as number) >= ((lcs[i] as number[])[j + 1] as number)) i++;
    else j++;
  }
  kept.push([n, m]);

  let index = 0;
  let length = n;
  let ai = 0;
  let bj = 0;
  for (const [ki, kj] of kept) {
    const removed = ki - ai;
    const added = kj - bj;
    const paired = Math.min(removed, added);
    for (let k = 0; k < paired; k++) {
      diff(a[ai + k] as Json, b[bj + k] as Json, `${path}/${index}`, ops);
      index++;
    }
    for (let k = paired; k < removed; k++) {
      ops.push({ op: "remove", path: `${path}/${index}` });
      length--;
    }
    for (let k = paired; k < added; k++) {
      ops.push({ op: "add", path: `${path}/${index === length ? "-" : index}`, value: b[bj + k] as Json });
      index++;
      length++;
    }
    index++; // the kept element
    ai = ki + 1;
    bj = kj + 1;
  }
}

function toJson(value: unknown): Json {
  if (value === undefined) return null;
  return JSON.parse(JSON.stringify(value)) as Json;
}

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function equal(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => equal(x, b[i] as Json));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && equal(a[k] as Json, b[k] as Json));
  }
  return false;
}

function parsePointer(path: string, fail: (m: string) => never): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) fail(`"${path}" is not a JSON pointer`);
  return path
    .slice(1)
    .split("/")
    .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function toPointer(tokens: string[]): string {
  return tokens.map((t) => `/${escapePointerToken(t)}`).join("");
}

function child(node: Json, token: string): Json | undefined {
  if (Array.isArray(node)) return /^(0|[1-9]\d*)$/.test(token) ? node[Number(token)] : undefined;
  if (isObject(node)) return Object.hasOwn(node, token) ? node[token] : undefined;
  return undefined;
}

function arrayIndex(token: string, max: number, fail: (m: string) => never): number {
  if (!/^(0|[1-9]\d*)$/.test(token)) fail(`"${token}" is not an array index`);
  const i = Number(token);
  if (i > max) fail(`index ${i} is out of bounds`);
  return i;
}
