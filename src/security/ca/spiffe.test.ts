// SPIFFE ID grammar (SPIFFE-ID.md §2), including the cases the spec calls out.
import { describe, expect, it } from "vitest";
import { InvalidSpiffeIdError, parseSpiffeId, spiffeIdOf } from "./spiffe.js";

describe("spiffeIdOf", () => {
  it("builds the Kubernetes convention spiffe://<td>/ns/<ns>/sa/<sa>", () => {
    expect(spiffeIdOf({ trustDomain: "cluster.local", namespace: "default", serviceAccount: "bookinfo-reviews" })).toBe(
      "spiffe://cluster.local/ns/default/sa/bookinfo-reviews",
    );
    // Service account names are DNS subdomains: dots are fine; so are "_" and uppercase in paths.
    expect(
      spiffeIdOf({ trustDomain: "prod_1.example-corp.io", namespace: "a", serviceAccount: "cert-manager.io" }),
    ).toBe("spiffe://prod_1.example-corp.io/ns/a/sa/cert-manager.io");
    expect(spiffeIdOf({ trustDomain: "td", namespace: "Upper_Case", serviceAccount: "x" })).toBe(
      "spiffe://td/ns/Upper_Case/sa/x",
    );
  });

  it.each([
    [{ trustDomain: "", namespace: "a", serviceAccount: "b" }, /trust domain is empty/],
    [{ trustDomain: "Cluster.local", namespace: "a", serviceAccount: "b" }, /lowercase/],
    [{ trustDomain: "td:8080", namespace: "a", serviceAccount: "b" }, /lowercase/], // no port
    [{ trustDomain: "user@td", namespace: "a", serviceAccount: "b" }, /lowercase/], // no userinfo
    [{ trustDomain: "t".repeat(256), namespace: "a", serviceAccount: "b" }, /longer than 255/],
    [{ trustDomain: "td", namespace: "", serviceAccount: "b" }, /path segment is empty/],
    [{ trustDomain: "td", namespace: "..", serviceAccount: "b" }, /"\.\." is not allowed/],
    [{ trustDomain: "td", namespace: "a", serviceAccount: "." }, /"\." is not allowed/],
    [{ trustDomain: "td", namespace: "a/b", serviceAccount: "c" }, /may only contain/],
    [{ trustDomain: "td", namespace: "a", serviceAccount: "b%2Fc" }, /may only contain/], // no percent-encoding
    [{ trustDomain: "td", namespace: "a", serviceAccount: "b?x=1" }, /may only contain/],
    [{ trustDomain: "td", namespace: "a", serviceAccount: "b#f" }, /may only contain/],
    [{ trustDomain: "td", namespace: "a", serviceAccount: "ünïcode" }, /may only contain/],
    [{ trustDomain: "td", namespace: "a", serviceAccount: "x".repeat(2100) }, /longer than 2048/],
  ])("refuses %o", (id, message) => {
    expect(() => spiffeIdOf(id)).toThrow(InvalidSpiffeIdError);
    expect(() => spiffeIdOf(id)).toThrow(message);
  });
});

describe("parseSpiffeId", () => {
  it("accepts valid IDs, with or without a path", () => {
    expect(parseSpiffeId("spiffe://cluster.local/ns/default/sa/x")).toEqual({
      ok: true,
      value: { trustDomain: "cluster.local", path: "/ns/default/sa/x", segments: ["ns", "default", "sa", "x"] },
    });
    expect(parseSpiffeId("spiffe://example.org")).toEqual({
      ok: true,
      value: { trustDomain: "example.org", path: "", segments: [] },
    });
  });

  it.each([
    "SPIFFE://example.org/a",
    "https://example.org/a",
    "spiffe://",
    "spiffe:///a",
    "spiffe://example.org/",
    "spiffe://example.org/a/",
    "spiffe://example.org//a",
    "spiffe://example.org/a/../b",
    "spiffe://example.org/./a",
    "spiffe://example.org/a?b=c",
    "spiffe://example.org/a#frag",
    "spiffe://example.org:8443/a",
    "spiffe://user@example.org/a",
    "spiffe://exa%41mple.org/a",
    "spiffe://Example.org/a",
    `spiffe://example.org/${"a".repeat(2048)}`,
  ])("refuses %s", (id) => {
    const r = parseSpiffeId(id);
    expect(r.ok).toBe(false);
  });
});
