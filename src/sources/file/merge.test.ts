import { describe, expect, it } from "vitest";
import { FILE_SOURCE_CODES, type FileLoadResult, mergeWithLastGood, parseYamlFile } from "./index.js";
import { combineFileResults } from "./load-directory.js";

const vs = (name: string, host: string) =>
  `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ${name}}\nspec:\n  hosts: [${host}]\n`;

function load(files: Record<string, string>): FileLoadResult {
  return combineFileResults(
    Object.keys(files)
      .sort()
      .map((file) => parseYamlFile(file, files[file] ?? "")),
  );
}

const summary = (result: FileLoadResult) =>
  result.objects.map(
    (o) =>
      `${o.source.file}:${o.object.metadata.name}:${o.object.kind === "VirtualService" ? o.object.spec.hosts?.[0] : ""}`,
  );

describe("mergeWithLastGood", () => {
  const good = load({
    "a.yaml": `${vs("one", "one-v1")}---\n${vs("two", "two-v1")}`,
    "b.yaml": vs("three", "three-v1"),
  });

  it("returns the new load unchanged when it has no errors or there is no previous load", () => {
    const next = load({ "a.yaml": vs("one", "one-v2") });
    expect(mergeWithLastGood(good, next)).toBe(next);
    expect(mergeWithLastGood(undefined, next)).toBe(next);
  });

  it("keeps serving the last good objects of a file that became invalid", () => {
    // one is updated, two is broken (typo), three's file is deleted.
    const next = load({ "a.yaml": `${vs("one", "one-v2")}---\n${vs("two", "two-v2").replace("hosts", "hostz")}` });

    const merged = mergeWithLastGood(good, next);

    expect(summary(merged)).toEqual(["a.yaml:one:one-v2", "a.yaml:two:two-v1"]);
    expect(merged.diagnostics.map((d) => [d.code, d.severity, d.object?.name])).toEqual([
      [FILE_SOURCE_CODES.SCHEMA, "error", "two"],
      [FILE_SOURCE_CODES.KEPT_LAST_GOOD, "warning", "two"],
    ]);
  });

  it("keeps everything a file had when it no longer parses as YAML at all", () => {
    const next = load({ "a.yaml": "hosts: [unclosed\n", "b.yaml": vs("three", "three-v2") });
    const merged = mergeWithLastGood(good, next);
    expect(summary(merged)).toEqual(["a.yaml:one:one-v1", "a.yaml:two:two-v1", "b.yaml:three:three-v2"]);
  });

  it("keeps the last good objects across several broken reloads when fed its own result", () => {
    const broken = { "a.yaml": "hosts: [unclosed\n", "b.yaml": vs("three", "three-v1") };
    const first = mergeWithLastGood(good, load(broken));
    const second = mergeWithLastGood(first, load(broken));
    expect(summary(second)).toEqual(summary(first));
    const fixed = mergeWithLastGood(second, load({ "a.yaml": vs("one", "one-v3"), "b.yaml": vs("three", "three-v1") }));
    expect(summary(fixed)).toEqual(["a.yaml:one:one-v3", "b.yaml:three:three-v1"]);
  });

  it("does not bring back an old object that another file now defines", () => {
    // two moves to b.yaml while a.yaml breaks: b.yaml's version wins, no duplicate.
    const next = load({
      "a.yaml": "hosts: [unclosed\n",
      "b.yaml": `${vs("three", "three-v1")}---\n${vs("two", "two-v9")}`,
    });
    const merged = mergeWithLastGood(good, next);
    expect(summary(merged)).toEqual(["a.yaml:one:one-v1", "b.yaml:three:three-v1", "b.yaml:two:two-v9"]);
  });
});
