// Unit behaviour of the routing helpers whose rules come from Istio's code
// rather than from Envoy's schema; the golden cases show them in context.
import { describe, expect, it } from "vitest";
import { matchConflict, mergeHttpRoute } from "./delegate.js";
import { isRe2Compatible } from "./regex.js";
import { parseRetryOn, retryPolicy } from "./retries.js";

describe("delegate match merging (Istio's hasConflict)", () => {
  it("accepts a delegate prefix within the root prefix and rejects one outside it", () => {
    expect(matchConflict({ uri: { prefix: "/api" } }, { uri: { prefix: "/api/v2" } })).toBe(false);
    expect(matchConflict({ uri: { prefix: "/api/v2" } }, { uri: { prefix: "/api" } })).toBe(true);
    expect(matchConflict({ uri: { prefix: "/api" } }, { uri: { exact: "/api/x" } })).toBe(false);
    expect(matchConflict({ uri: { exact: "/a" } }, { uri: { prefix: "/a" } })).toBe(true);
  });

  it("refuses regex on either side and differing ports", () => {
    expect(matchConflict({ uri: { regex: "/a.*" } }, { uri: { prefix: "/a" } })).toBe(true);
    expect(matchConflict({ uri: { prefix: "/a" } }, { uri: { regex: "/a.*" } })).toBe(true);
    expect(matchConflict({ port: 80 }, { port: 8080 })).toBe(true);
  });

  it("lets the delegate inherit what it does not set, and drops a conflicting delegate route", () => {
    const root = { name: "r", match: [{ uri: { prefix: "/p" } }], timeout: "5s", delegate: { name: "d" } };
    const merged = mergeHttpRoute(root, { name: "d1", route: [{ destination: { host: "x" } }] });
    expect(merged).toEqual({
      name: "r-d1",
      match: [{ uri: { prefix: "/p" } }],
      timeout: "5s",
      route: [{ destination: { host: "x" } }],
    });
    expect(mergeHttpRoute(root, { match: [{ uri: { prefix: "/q" } }], route: [] })).toBeUndefined();
  });
});

describe("RE2 compatibility", () => {
  it("accepts RE2 syntax JavaScript spells differently", () => {
    expect(isRe2Compatible("(?i)abc")).toBe(true);
    expect(isRe2Compatible("(?i:abc)d")).toBe(true);
    expect(isRe2Compatible("/v(?P<major>[0-9]+)")).toBe(true);
  });

  it("refuses what RE2 lacks or cannot parse", () => {
    expect(isRe2Compatible("a(?=b)")).toBe(false);
    expect(isRe2Compatible("(?<!x)y")).toBe(false);
    expect(isRe2Compatible("(a)\\1")).toBe(false);
    expect(isRe2Compatible("([a-z]")).toBe(false);
  });
});

describe("retries (Istio's ConvertPolicy)", () => {
  it("splits HTTP status codes out of retryOn", () => {
    expect(parseRetryOn("5xx, 503,unavailable,,429")).toEqual({
      conditions: ["5xx", "unavailable"],
      codes: [503, 429],
    });
  });

  it("disables retries with attempts 0 and keeps the default otherwise", () => {
    expect(retryPolicy({ attempts: 0 }, false)).toBeUndefined();
    expect(retryPolicy(undefined, false)?.num_retries).toEqual({ value: 2 });
    expect(retryPolicy(undefined, true)?.retry_host_predicate).toBeUndefined();
  });
});
