import { describe, expect, it } from "vitest";
import { z } from "zod";
import { MESH_KINDS } from "./index.js";

// The CRD OpenAPI schemas are generated from these zod schemas, so every spec
// must be expressible as JSON Schema, and strictness must survive the trip.
describe("JSON Schema generation", () => {
  for (const [kind, info] of Object.entries(MESH_KINDS)) {
    it(`converts the ${kind} spec and keeps unknown fields forbidden`, () => {
      const schema = z.toJSONSchema(info.spec, { io: "input" }) as Record<string, unknown>;
      expect(schema.type).toBe("object");
      expect(schema.additionalProperties).toBe(false);
    });
  }

  it("keeps enums, duration patterns and required fields", () => {
    const dr = JSON.stringify(z.toJSONSchema(MESH_KINDS.DestinationRule.spec, { io: "input" }));
    expect(dr).toContain('"enum":["DISABLE","SIMPLE","MUTUAL","ISTIO_MUTUAL"]');
    expect(dr).toContain('"required":["host"]');
    expect(dr).toContain('"pattern":"^(?:\\\\d+(?:\\\\.\\\\d+)?(?:h|ms|m|s|us|µs|ns))+$"');
  });
});
