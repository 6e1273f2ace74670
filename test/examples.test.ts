// The bundled example mesh (what `npm start` serves) loads cleanly and carries
// the founding document's mesh examples verbatim.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadDirectory } from "../src/sources/file/index.js";
import { REPO } from "./support/trellis-process.js";

const EXAMPLES = join(REPO, "examples/mesh");
const SEED = join(REPO, "src/config/testdata/seed");

describe("examples/mesh", () => {
  it("loads without errors", async () => {
    const result = await loadDirectory(EXAMPLES);
    expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(result.objects.map((o) => o.object.kind).sort()).toEqual([
      "DestinationRule",
      "DestinationRule",
      "PeerAuthentication",
      "ServiceEntry",
      "ServiceEntry",
      "VirtualService",
      "WorkloadEntry",
    ]);
  });

  it("contains every mesh example of the founding document verbatim", () => {
    const examples = readdirSync(EXAMPLES)
      .map((f) => readFileSync(join(EXAMPLES, f), "utf8"))
      .join("\n");
    const seeds = readdirSync(SEED).filter((f) => f.endsWith(".yaml") && !f.startsWith("deployment"));
    expect(seeds.length).toBe(3);
    for (const f of seeds) expect(examples).toContain(readFileSync(join(SEED, f), "utf8").trim());
  });
});
