// The dependency rules of DESIGN.md, enforced: `translate` never imports `xds`,
// `xds` never imports `translate`, `config` or `sources`, `sources` never import
// `translate` or `xds`, `model` knows nothing of Envoy, nothing imports `cli`.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "./support/trellis-process.js";

const SRC = join(REPO, "src");
const FORBIDDEN: Record<string, string[]> = {
  translate: ["xds", "cli", "sources", "admin"],
  xds: ["translate", "config", "sources", "cli", "admin", "model"],
  sources: ["translate", "xds", "cli", "admin"],
  model: ["xds", "translate", "envoy", "sources", "cli", "admin"],
  envoy: ["xds", "translate", "config", "sources", "model", "cli", "admin"],
  config: ["xds", "translate", "envoy", "sources", "model", "cli", "admin"],
  admin: ["cli", "translate", "sources"],
};

function* files(dir: string): Iterable<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== "generated" && e.name !== "testdata") yield* files(p);
    } else if (e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")) yield p;
  }
}

describe("module boundaries", () => {
  it("follows the one-way dependency rules of DESIGN.md", () => {
    const violations: string[] = [];
    for (const file of files(SRC)) {
      const from = relative(SRC, file).split("/")[0] ?? "";
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(/from\s+"(\.[^"]+)"/g)) {
        const target = relative(SRC, resolve(dirname(file), m[1] ?? "")).split("/")[0] ?? "";
        if (FORBIDDEN[from]?.includes(target)) violations.push(`${relative(REPO, file)} imports ${m[1]}`);
      }
    }
    expect(violations).toEqual([]);
  });
});
