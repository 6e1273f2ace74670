import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { formatDiagnostic } from "../../model/diagnostic.js";
import { FILE_SOURCE_CODES, loadDirectory, parseYamlFile } from "./index.js";
import { parseFileContent } from "./load-directory.js";

const gateway = (name: string, extra = "") =>
  `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: ${name}\n${extra}spec:\n  selector: {istio: ingressgateway}\n`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "trellis-file-source-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("loadDirectory", () => {
  it("loads multi-document files recursively, in sorted order, with file and document index", async () => {
    await mkdir(join(dir, "b/nested"), { recursive: true });
    await writeFile(
      join(dir, "a.yaml"),
      `---\n# a document holding only a comment\n---\n${gateway("gw-1")}---\n${gateway("gw-2", "  namespace: edge\n")}---\n`,
    );
    await writeFile(join(dir, "b/nested/c.yml"), gateway("gw-3"));
    await writeFile(join(dir, "b/0.yaml"), gateway("gw-0"));
    await writeFile(join(dir, "notes.txt"), "not yaml");
    await writeFile(join(dir, ".#a.yaml"), "editor lock file, ignored");
    await mkdir(join(dir, "..data"));
    await writeFile(join(dir, "..data/hidden.yaml"), gateway("hidden"));
    await symlink(join(dir, "b/0.yaml"), join(dir, "z-link.yaml"));

    const result = await loadDirectory(dir);

    expect(result.diagnostics.filter((d) => d.code !== FILE_SOURCE_CODES.DUPLICATE)).toEqual([]);
    expect(result.objects.map((o) => [o.source.file, o.source.documentIndex, o.object.metadata.name])).toEqual([
      ["a.yaml", 1, "gw-1"],
      ["a.yaml", 2, "gw-2"],
      ["b/0.yaml", 0, "gw-0"],
      ["b/nested/c.yml", 0, "gw-3"],
    ]);
    expect(result.objects.map((o) => o.object.metadata.namespace)).toEqual(["default", "edge", "default", "default"]);
    // The symlink is followed, so it is a second definition of gw-0.
    expect(result.diagnostics).toHaveLength(1);
    expect(result.diagnostics[0]).toMatchObject({
      code: FILE_SOURCE_CODES.DUPLICATE,
      object: {
        kind: "Gateway",
        namespace: "default",
        name: "gw-0",
        source: { file: "z-link.yaml", documentIndex: 0 },
      },
    });
  });

  it("reports an invalid document with file, document index, kind, name and field, and loads the rest", async () => {
    await writeFile(
      join(dir, "mesh.yaml"),
      `${gateway("good")}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external-db
  namespace: data
spec:
  hosts: [db.example.com]
  endpoints:
  - adress: 10.0.0.1
`,
    );

    const result = await loadDirectory(dir);

    expect(result.objects.map((o) => o.object.metadata.name)).toEqual(["good"]);
    expect(result.diagnostics).toEqual([
      {
        code: "TRL1002",
        severity: "error",
        object: {
          kind: "ServiceEntry",
          namespace: "data",
          name: "external-db",
          source: { file: "mesh.yaml", documentIndex: 1 },
        },
        field: "spec.endpoints[0].adress",
        message: 'unknown field "adress" (did you mean "address"?)',
      },
    ]);
    expect(formatDiagnostic(result.diagnostics[0] ?? { code: "", severity: "error", message: "" })).toBe(
      'error TRL1002 ServiceEntry data/external-db (mesh.yaml document 1) spec.endpoints[0].adress: unknown field "adress" (did you mean "address"?)',
    );
  });

  it("reports a YAML syntax error with its position and still loads the other documents", async () => {
    await writeFile(join(dir, "broken.yaml"), `metadata: {name: x\n---\n${gateway("after")}`);

    const result = await loadDirectory(dir);

    expect(result.objects.map((o) => o.object.metadata.name)).toEqual(["after"]);
    expect(result.diagnostics).toHaveLength(1);
    expect(result.diagnostics[0]).toMatchObject({
      code: FILE_SOURCE_CODES.YAML_SYNTAX,
      severity: "error",
      object: { source: { file: "broken.yaml", documentIndex: 0 } },
      message: expect.stringMatching(/at line \d+, column \d+$/),
    });
  });

  it("reports duplicate keys, which YAML forbids, instead of silently keeping the last", async () => {
    await writeFile(join(dir, "dup-key.yaml"), `${gateway("gw")}spec: {}\n`);
    const result = await loadDirectory(dir);
    expect(result.objects).toEqual([]);
    expect(result.diagnostics[0]).toMatchObject({
      code: FILE_SOURCE_CODES.YAML_SYNTAX,
      message: expect.stringContaining("Map keys must be unique"),
    });
  });

  it("keeps the first of two objects with the same kind, namespace and name and reports the other", async () => {
    await writeFile(join(dir, "a.yaml"), gateway("gw"));
    await writeFile(join(dir, "b.yaml"), `${gateway("other")}---\n${gateway("gw", "  namespace: default\n")}`);
    await writeFile(join(dir, "c.yaml"), gateway("gw", "  namespace: elsewhere\n"));

    const result = await loadDirectory(dir);

    expect(result.objects.map((o) => `${o.source.file}#${o.source.documentIndex}`)).toEqual([
      "a.yaml#0",
      "b.yaml#0",
      "c.yaml#0",
    ]);
    expect(result.diagnostics).toEqual([
      {
        code: "TRL1003",
        severity: "error",
        object: { kind: "Gateway", namespace: "default", name: "gw", source: { file: "b.yaml", documentIndex: 1 } },
        field: "metadata.name",
        message: "Gateway default/gw is already defined in a.yaml document 0; this definition is ignored",
      },
    ]);
  });

  it("reads the Kubernetes kinds the model uses (Service) and keeps a Node cluster-scoped", () => {
    const result = parseYamlFile(
      "k8s.yaml",
      "apiVersion: v1\nkind: Service\nmetadata: {name: reviews}\nspec: {ports: [{port: 9080, name: http}]}\n---\napiVersion: v1\nkind: Node\nmetadata: {name: n1}\n",
    );
    expect(result.diagnostics).toEqual([]);
    expect(result.objects.map((o) => [o.object.kind, o.object.metadata.namespace])).toEqual([
      ["Service", "default"],
      ["Node", undefined],
    ]);
  });

  it("names what it can of a document whose kind is unknown", () => {
    const result = parseYamlFile("k8s.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: reviews}\n");
    expect(result.diagnostics).toEqual([
      {
        code: "TRL1002",
        severity: "error",
        object: {
          kind: "Deployment",
          namespace: "default",
          name: "reviews",
          source: { file: "k8s.yaml", documentIndex: 0 },
        },
        field: "kind",
        message: expect.stringMatching(/^unknown kind "Deployment"; Trellis serves /),
      },
    ]);
  });

  it("reports a file that cannot be read", () => {
    expect(parseFileContent({ file: "x.yaml", text: "", hash: "", error: "EACCES: permission denied" })).toEqual({
      objects: [],
      diagnostics: [
        {
          code: "TRL1004",
          severity: "error",
          object: { kind: "<unknown kind>", source: { file: "x.yaml" } },
          message: "cannot read file: EACCES: permission denied",
        },
      ],
    });
  });

  it("fails when the directory itself does not exist", async () => {
    await expect(loadDirectory(join(dir, "missing"))).rejects.toThrow(/ENOENT/);
  });
});
