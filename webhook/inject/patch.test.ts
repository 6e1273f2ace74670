import { describe, expect, it } from "vitest";
import { applyPatch, escapePointerToken, JsonPatchError, type JsonPatchOp, jsonPatch } from "./patch.js";

/** Random JSON-ish documents, small enough that arrays and objects collide often. */
function randomDoc(seed: number): unknown {
  let s = seed;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  const value = (depth: number): unknown => {
    const r = rnd();
    if (depth > 3 || r < 0.3) return [1, "a", "b", true, null, 2][Math.floor(rnd() * 6)];
    if (r < 0.65) return Array.from({ length: Math.floor(rnd() * 5) }, () => value(depth + 1));
    const o: Record<string, unknown> = {};
    for (let i = Math.floor(rnd() * 4); i > 0; i--)
      o[["x", "y", "a/b", "m~n", ""][Math.floor(rnd() * 5)] as string] = value(depth + 1);
    return o;
  };
  return value(0);
}

describe("jsonPatch", () => {
  it("inserts into arrays with add at the index, appending with -", () => {
    const before = { spec: { containers: [{ name: "app" }], initContainers: [{ name: "setup" }] } };
    const after = {
      spec: { containers: [{ name: "app" }, { name: "proxy" }], initContainers: [{ name: "init" }, { name: "setup" }] },
    };
    expect(jsonPatch(before, after)).toEqual([
      { op: "add", path: "/spec/containers/-", value: { name: "proxy" } },
      { op: "add", path: "/spec/initContainers/0", value: { name: "init" } },
    ]);
  });

  it("adds a missing array or map whole, never replacing an existing array", () => {
    expect(jsonPatch({ spec: {} }, { spec: { volumes: [{ name: "v" }] } })).toEqual([
      { op: "add", path: "/spec/volumes", value: [{ name: "v" }] },
    ]);
    const ops = jsonPatch({ a: [1, 2, 3] }, { a: [0, 1, 2, 3, 4] });
    expect(ops.every((o) => o.op === "add")).toBe(true);
    expect(ops.map((o) => o.path)).toEqual(["/a/0", "/a/-"]);
  });

  it("escapes ~ and / in member names (RFC 6901)", () => {
    expect(escapePointerToken("sidecar.istio.io/inject~x")).toBe("sidecar.istio.io~1inject~0x");
    const before = { metadata: { annotations: { "a/b": "1" } } };
    const after = { metadata: { annotations: { "a/b": "1", "sidecar.trellis.dev/status": "{}", "m~n": "2" } } };
    const ops = jsonPatch(before, after);
    expect(ops).toEqual([
      { op: "add", path: "/metadata/annotations/sidecar.trellis.dev~1status", value: "{}" },
      { op: "add", path: "/metadata/annotations/m~0n", value: "2" },
    ]);
    expect(applyPatch(before, ops)).toEqual(after);
  });

  it("removes, replaces scalars and changes of type, and is empty for equal documents", () => {
    expect(jsonPatch({ a: 1, b: 2 }, { a: 1 })).toEqual([{ op: "remove", path: "/b" }]);
    expect(jsonPatch({ a: 1 }, { a: "1" })).toEqual([{ op: "replace", path: "/a", value: "1" }]);
    expect(jsonPatch({ a: [1] }, { a: { 0: 1 } })).toEqual([{ op: "replace", path: "/a", value: { 0: 1 } }]);
    expect(jsonPatch([1], { x: 1 })).toEqual([{ op: "replace", path: "", value: { x: 1 } }]);
    expect(jsonPatch({ a: [{ b: 1 }] }, { a: [{ b: 1 }] })).toEqual([]);
    expect(jsonPatch({ a: undefined, b: 1 }, { b: 1 })).toEqual([]);
  });

  it("turns any document into any other (randomised, applied with applyPatch)", () => {
    for (let seed = 1; seed <= 400; seed++) {
      const before = randomDoc(seed);
      const after = randomDoc(seed * 7919 + 1);
      const ops = jsonPatch(before, after);
      expect(applyPatch(before, ops), `seed ${seed}`).toEqual(after);
      expect(jsonPatch(after, after)).toEqual([]);
    }
  });

  it("does not change its inputs", () => {
    const before = { a: [1, { b: 2 }] };
    const after = { a: [{ b: 3 }, 1], c: true };
    const frozen = JSON.stringify([before, after]);
    applyPatch(before, jsonPatch(before, after));
    expect(JSON.stringify([before, after])).toBe(frozen);
  });
});

describe("applyPatch", () => {
  it("applies every RFC 6902 operation", () => {
    const doc = { a: { b: [1, 2] }, c: "x" };
    const ops: JsonPatchOp[] = [
      { op: "test", path: "/c", value: "x" },
      { op: "copy", from: "/a/b", path: "/d" },
      { op: "move", from: "/c", path: "/a/c" },
      { op: "replace", path: "/a/b/0", value: 9 },
      { op: "remove", path: "/d/1" },
      { op: "add", path: "/d/-", value: 3 },
    ];
    expect(applyPatch(doc, ops)).toEqual({ a: { b: [9, 2], c: "x" }, d: [1, 3] });
    expect(doc).toEqual({ a: { b: [1, 2] }, c: "x" });
  });

  it("refuses operations that do not apply, naming the operation", () => {
    const bad: [JsonPatchOp, RegExp][] = [
      [{ op: "remove", path: "/nope" }, /operation 0: remove \/nope: \/nope does not exist/],
      [{ op: "add", path: "/a/5", value: 1 }, /out of bounds/],
      [{ op: "add", path: "/a/01", value: 1 }, /not an array index/],
      [{ op: "replace", path: "/x/y", value: 1 }, /does not exist/],
      [{ op: "test", path: "/a/0", value: 2 }, /value differs/],
      [{ op: "move", from: "/a", path: "/a/0" }, /into itself/],
      [{ op: "add", path: "a", value: 1 }, /not a JSON pointer/],
    ];
    for (const [op, message] of bad) {
      expect(() => applyPatch({ a: [1] }, [op])).toThrow(JsonPatchError);
      expect(() => applyPatch({ a: [1] }, [op])).toThrow(message);
    }
  });
});
