import { describe, expect, it } from "vitest";
import type { EncodedResource } from "./resource.js";
import { SentMap } from "./sent-map.js";

const res = (name: string, version = "v1"): EncodedResource => ({
  typeUrl: "t",
  name,
  version,
  bytes: new Uint8Array(),
  source: undefined,
});

function mapOf(n: number): Map<string, EncodedResource> {
  return new Map(Array.from({ length: n }, (_, i) => [`r${i}`, res(`r${i}`)]));
}

describe("SentMap", () => {
  it("reads like the Map it replaces: base, overrides, deletions, absent markers", () => {
    const base = mapOf(3);
    const m = new SentMap();
    m.resetTo(base);
    m.set("r1", res("r1", "v2"));
    m.delete("r2");
    m.set("gone", null);
    expect(m.get("r0")).toBe(base.get("r0"));
    expect(m.get("r1")?.version).toBe("v2");
    expect(m.get("r2")).toBeUndefined();
    expect(m.has("r2")).toBe(false);
    expect(m.get("gone")).toBeNull();
    expect(m.size).toBe(3);
    expect([...m.keys()].sort()).toEqual(["gone", "r0", "r1"]);
    m.clear();
    expect(m.size).toBe(0);
    expect(m.get("r0")).toBeUndefined();
  });

  it("folds a large overlay into the view map once it holds exactly that map, keeping absent markers", () => {
    const view = mapOf(100);
    const m = new SentMap();
    for (const r of view.values()) m.set(r.name, r);
    m.set("missing", null);
    m.rebase(view, () => true);
    expect(m.size).toBe(101);
    expect(m.get("missing")).toBeNull();
    expect(m.get("r5")).toBe(view.get("r5"));
    // Not every resource is the very object of the view: no fold.
    const other = new Map(view);
    other.set("r7", res("r7", "v9"));
    m.rebase(other, () => true);
    expect(m.get("r7")).toBe(view.get("r7"));
  });

  it("does not fold when the subscription does not cover the whole map", () => {
    const view = mapOf(100);
    const m = new SentMap();
    for (const r of view.values()) if (r.name !== "r0") m.set(r.name, r);
    m.rebase(view, (n) => n !== "r0");
    expect(m.has("r0")).toBe(false);
    expect(m.size).toBe(99);
  });
});
