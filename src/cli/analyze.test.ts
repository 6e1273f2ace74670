// `trellis analyze` as a user runs it: the command parsed by commander with the
// process I/O swapped for buffers, over the fixtures in
// test/fixtures/analyze/<problem>/ (one directory per problem class). Plus one
// run of the built CLI (`npm run build` first, as `npm test` does).

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import YAML from "yaml";
import { type CommandRun, runCommand } from "../../test/support/run-command.js";
import { REPO, runTrellis } from "../../test/support/trellis-process.js";
import { type AnalyzeMessage, type AnalyzeReport, analyzeCommand } from "./analyze.js";

const FIXTURES = "test/fixtures/analyze";
const fixture = (name: string) => join(REPO, FIXTURES, name);

type Run = CommandRun;

const run = (args: string[], stdin = ""): Promise<Run> => runCommand(analyzeCommand, ["analyze", ...args], stdin);

async function report(args: string[], stdin?: string): Promise<{ code: number; report: AnalyzeReport }> {
  const r = await run([...args, "-o", "json"], stdin);
  expect(r.stderr).toBe("");
  return { code: r.code, report: JSON.parse(r.stdout) as AnalyzeReport };
}

const brief = (m: AnalyzeMessage) =>
  `${m.level} ${m.code} ${m.object.kind} ${m.object.namespace ?? ""}/${m.object.name ?? ""} ${m.field ?? ""}`.trim();

describe("trellis analyze: one fixture per problem class", () => {
  const classes: {
    problem: string;
    dir: string;
    expected: string[];
  }[] = [
    {
      problem: "unknown hosts (VirtualService, its destination, DestinationRule, Sidecar egress)",
      dir: "unknown-host",
      expected: [
        "warning TRL3114 VirtualService default/ratings spec.hosts[0]",
        "error TRL3101 VirtualService default/ratings spec.http[0].route[0].destination.host",
        "warning TRL3201 DestinationRule default/details spec.host",
        "warning TRL3501 Sidecar default/default spec.egress[0].hosts[1]",
      ],
    },
    {
      problem: "a subset no DestinationRule defines",
      dir: "missing-subset",
      expected: ["error TRL3102 VirtualService default/reviews spec.http[0].route[1].destination.subset"],
    },
    {
      problem: "VirtualServices Istio does not merge",
      dir: "conflicting-virtual-services",
      expected: [
        "warning TRL3107 VirtualService default/reviews-retries spec.hosts[0]",
        "warning TRL3107 VirtualService default/reviews-timeouts spec.hosts[0]",
      ],
    },
    {
      problem: "ports whose protocol is unknown (Kubernetes Service and ServiceEntry)",
      dir: "port-without-protocol",
      expected: [
        "warning TRL3322 Service default/legacy spec.ports[0]",
        "warning TRL3322 ServiceEntry default/billing spec.ports[0]",
      ],
    },
    {
      problem: "workload selectors that select nothing",
      dir: "selector-selects-nothing",
      expected: [
        "warning TRL3502 AuthorizationPolicy shop/allow-carts spec.selector.matchLabels",
        "warning TRL3502 Sidecar shop/cart spec.workloadSelector.labels",
      ],
    },
    {
      problem: "deprecated fields and API versions",
      dir: "deprecated",
      expected: [
        "warning TRL3503 VirtualService default/reviews spec.http[0].mirrorPercent",
        "warning TRL3503 DestinationRule default/reviews spec.trafficPolicy.loadBalancer.simple",
        "info TRL3504 VirtualService default/reviews apiVersion",
        "info TRL3504 DestinationRule default/reviews apiVersion",
      ],
    },
    {
      problem: "invalid documents (unknown field, misspelt mesh kind)",
      dir: "invalid-field",
      expected: [
        "error TRL1002 VirtualService default/reviews spec.http[0].rout",
        "error TRL1002 DestinationRul default/reviews kind",
      ],
    },
  ];

  // analyze is a CI gate: every problem class fails a run at the default
  // threshold (warning), whether its messages are errors or warnings.
  for (const c of classes) {
    it(`reports ${c.problem} and exits 2 at the default threshold (warning)`, async () => {
      const { code, report: r } = await report(["-f", fixture(c.dir)]);
      const found = r.messages.map(brief);
      for (const e of c.expected) expect(found).toContain(e);
      expect(code).toBe(2);
      expect(r.summary).toMatchObject({ failureThreshold: "warning", failed: true });
    });
  }

  it("passes at --failure-threshold error when the problems are only warnings or info, and fails on an error", async () => {
    for (const dir of [
      "conflicting-virtual-services",
      "port-without-protocol",
      "selector-selects-nothing",
      "deprecated",
    ]) {
      const { code, report: r } = await report(["-f", fixture(dir), "--failure-threshold", "error"]);
      expect(r.summary.errors, dir).toBe(0);
      expect(r.summary.warnings, dir).toBeGreaterThan(0);
      expect(code, dir).toBe(0);
    }
    expect((await report(["-f", fixture("missing-subset"), "--failure-threshold", "error"])).code).toBe(2);
  });

  it("does not fail on info at the default threshold, only at --failure-threshold info", async () => {
    // The deprecated fixture without its TRL3503 warnings: only TRL3504 info is left.
    const args = ["-f", fixture("deprecated"), "-S", "TRL3503=*"];
    const { code, report: r } = await report(args);
    expect(r.summary).toMatchObject({ errors: 0, warnings: 0, failureThreshold: "warning", failed: false });
    expect(r.summary.infos).toBeGreaterThan(0);
    expect(code).toBe(0);
    expect((await report([...args, "--failure-threshold", "info"])).code).toBe(2);
  });

  it("does not check selectors in a namespace the input holds no workloads for", async () => {
    const { report: r } = await report(["-f", fixture("selector-selects-nothing")]);
    expect(r.messages.filter((m) => m.code === "TRL3502" && m.object.namespace === "empty")).toEqual([]);
    expect(r.messages.map(brief)).not.toContain(
      "warning TRL3502 PeerAuthentication shop/cart spec.selector.matchLabels",
    );
  });

  it("reports a YAML syntax error with its file and line, and exits 2", async () => {
    const r = await run(["-f", `${FIXTURES}/syntax-error`]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain(`(${FIXTURES}/syntax-error/mesh.yaml document 0)`);
    expect(r.stdout).toMatch(/error {3}TRL1001 .*at line 9, column 3/);
  });

  it("finds nothing in a clean input and exits 0", async () => {
    const r = await run(["-f", fixture("clean")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("OK: no validation issues found in 7 objects\n");
  });

  it("skips documents that are not mesh configuration with an info note, unlike a misspelt mesh kind", async () => {
    const { code, report: r } = await report(["-f", fixture("non-mesh")]);
    expect(code).toBe(0);
    expect(r.messages.map(brief).sort()).toEqual([
      "info TRL8001 ConfigMap default/web-config",
      "info TRL8001 Deployment default/web",
      "info TRL8001 Gateway default/edge",
      "info TRL8001 Service default/hello",
    ]);
    expect(r.summary.objects).toBe(1);
  });
});

describe("trellis analyze: the founding document's examples and examples/mesh", () => {
  it("analyzes examples/mesh without errors; the warnings and notes are these", async () => {
    const { code, report: r } = await report(["-f", join(REPO, "examples/mesh")]);
    // No errors, but exit 2 at the default threshold (warning): TRL3503 for
    // the founding document's deprecated consecutiveErrors, which the example
    // must keep verbatim (test/examples.test.ts), is a warning.
    expect(r.summary.errors).toBe(0);
    expect(code).toBe(2);
    expect(r.messages.map(brief)).toEqual([
      "warning TRL3503 DestinationRule default/reviews spec.trafficPolicy.outlierDetection.consecutiveErrors",
      "info TRL3504 DestinationRule default/reviews apiVersion",
      "info TRL3504 VirtualService default/reviews apiVersion",
      "info TRL3504 PeerAuthentication istio-system/default apiVersion",
    ]);
  });

  it("reports that the seed's canary routes to subsets its DestinationRule does not define", async () => {
    // Alone, the seed has no reviews service at all (TRL3101); with the example
    // services it still routes to subsets v1 and v2, which only examples/mesh's
    // second DestinationRule adds. The seed's Deployment is skipped.
    const alone = await report(["-f", join(REPO, "src/config/testdata/seed")]);
    expect(alone.code).toBe(2);
    expect(alone.report.messages.filter((m) => m.level === "error").map(brief)).toEqual([
      "error TRL3101 VirtualService default/reviews spec.http[0].route[0].destination.host",
      "error TRL3101 VirtualService default/reviews spec.http[0].route[1].destination.host",
    ]);
    expect(alone.report.messages.map(brief)).toContain("info TRL8001 Deployment default/my-service");

    const withServices = await report([
      "-f",
      join(REPO, "src/config/testdata/seed"),
      "-f",
      join(REPO, "examples/mesh/services.yaml"),
    ]);
    expect(withServices.report.messages.filter((m) => m.level === "error").map(brief)).toEqual([
      "error TRL3102 VirtualService default/reviews spec.http[0].route[0].destination.subset",
      "error TRL3102 VirtualService default/reviews spec.http[0].route[1].destination.subset",
    ]);
  });
});

describe("trellis analyze: output and options", () => {
  it("prints JSON with each message's code, level, object (with file and document), field and message, and a summary", async () => {
    const { report: r } = await report(["-f", fixture("missing-subset")]);
    expect(r.messages).toEqual([
      {
        code: "TRL3102",
        level: "error",
        object: {
          kind: "VirtualService",
          namespace: "default",
          name: "reviews",
          file: join(REPO, FIXTURES, "missing-subset/mesh.yaml"),
          documentIndex: 2,
        },
        field: "spec.http[0].route[1].destination.subset",
        message: expect.stringContaining("defines no subset v3"),
      },
    ]);
    expect(r.summary).toEqual({
      objects: 3,
      errors: 1,
      warnings: 0,
      infos: 0,
      suppressed: 0,
      failureThreshold: "warning",
      failed: true,
    });
  });

  it("prints the same report as YAML", async () => {
    const args = ["-f", fixture("unknown-host")];
    const json = JSON.parse((await run([...args, "-o", "json"])).stdout);
    expect(YAML.parse((await run([...args, "-o", "yaml"])).stdout)).toEqual(json);
  });

  it("groups text output by object, sorted, and ends with a one-line summary", async () => {
    const r = await run(["-f", `${FIXTURES}/unknown-host`]);
    const lines = r.stdout.trimEnd().split("\n");
    const headers = lines.filter((l) => l !== "" && !l.startsWith(" "));
    expect(headers).toEqual([
      `DestinationRule default/details (${FIXTURES}/unknown-host/mesh.yaml document 2)`,
      `Sidecar default/default (${FIXTURES}/unknown-host/mesh.yaml document 3)`,
      `VirtualService default/ratings (${FIXTURES}/unknown-host/mesh.yaml document 1)`,
      "FAIL: 1 error, 3 warnings, 0 info in 4 objects (failure threshold: warning)",
    ]);
    // Within an object: errors before warnings.
    const vs = lines.slice(lines.indexOf(headers[2] ?? "") + 1);
    expect(vs[0]).toMatch(/^ {2}error {3}TRL3101 /);
    expect(vs[1]).toMatch(/^ {2}warning TRL3114 /);
    // Deterministic: the same input gives the same bytes.
    expect((await run(["-f", `${FIXTURES}/unknown-host`])).stdout).toBe(r.stdout);
  });

  it("reports only objects in the namespace given with -n", async () => {
    const args = ["-f", fixture("unknown-host"), "-f", fixture("selector-selects-nothing")];
    const all = await report(args);
    expect(new Set(all.report.messages.map((m) => m.object.namespace))).toEqual(new Set(["default", "shop", "empty"]));
    const shop = await report([...args, "-n", "shop"]);
    expect(shop.report.messages.length).toBeGreaterThan(0);
    expect(shop.report.messages.every((m) => m.object.namespace === "shop")).toBe(true);
    // The errors are in default: in shop there are only warnings, which fail
    // the run at the default threshold but not at --failure-threshold error.
    expect(shop.report.summary.errors).toBe(0);
    expect(shop.code).toBe(2);
    expect((await report([...args, "-n", "shop", "--failure-threshold", "error"])).code).toBe(0);
    expect(shop.report.summary.objects).toBe(4); // the Pod, AuthorizationPolicy, PeerAuthentication and Sidecar of shop
  });

  it("leaves out messages matching --suppress and counts them", async () => {
    const { code, report: r } = await report([
      "-f",
      fixture("unknown-host"),
      "-S",
      "TRL3101=VirtualService/default/rat*",
      "-S",
      "TRL3501=*",
      "--failure-threshold",
      "error",
    ]);
    expect(r.messages.map((m) => m.code).sort()).toEqual(["TRL3114", "TRL3201"]);
    expect(r.summary.suppressed).toBe(2);
    // Suppressed messages do not count: without the error, nothing reaches the threshold.
    expect(code).toBe(0);
  });

  it("reads documents from stdin with -f -", async () => {
    const { code, report: r } = await report(
      ["-f", "-"],
      "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: api}\nspec: {host: api.example.com}\n",
    );
    expect(code).toBe(2); // the warning fails the run at the default threshold
    expect(r.messages.map(brief)).toEqual(["warning TRL3201 DestinationRule default/api spec.host"]);
    expect(r.messages[0]?.object.file).toBe("<stdin>");
  });

  it("applies --mesh-config (here a cluster domain under which the Sidecar's egress host names nothing)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "trellis-analyze-"));
    const meshConfig = join(dir, "mesh.yaml");
    writeFileSync(meshConfig, "clusterDomain: corp.internal\n");
    const { report: r } = await report(["-f", fixture("clean"), "--mesh-config", meshConfig]);
    expect(r.messages.map(brief)).toContain("warning TRL3501 Sidecar bookinfo/reviews spec.egress[0].hosts[1]");
  });

  it("exits 1 on usage and I/O errors, naming the problem", async () => {
    const missing = await run(["-f", "/nonexistent/mesh"]);
    expect(missing).toMatchObject({ code: 1, stdout: "" });
    expect(missing.stderr).toContain("/nonexistent/mesh: no such file or directory");
    expect((await run([])).stderr).toContain("nothing to analyze");
    expect((await run(["-f", fixture("clean"), "-S", "TRL3001"])).code).toBe(1);
    expect((await run(["-f", fixture("clean"), "-n", "a", "-A"])).code).toBe(1);
    expect((await run(["-f", fixture("clean"), "--failure-threshold", "fatal"])).code).toBe(1);
    const badMesh = await run(["-f", fixture("clean"), "--mesh-config", "/nonexistent/mesh-config.yaml"]);
    expect(badMesh.code).toBe(1);
    expect(badMesh.stderr).toContain("--mesh-config /nonexistent/mesh-config.yaml");
  });
});

describe("trellis analyze: the built CLI", () => {
  it("exits 2 and prints the problem for a fixture with an error, 0 for the clean one", async () => {
    const bad = await runTrellis(["analyze", "-f", `${FIXTURES}/missing-subset`]);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toContain("error   TRL3102 spec.http[0].route[1].destination.subset:");
    const good = await runTrellis(["analyze", `${FIXTURES}/clean`]);
    expect(good).toMatchObject({ code: 0, stderr: "" });
  });

  it("exits 1 when the API server does not answer within --timeout", async () => {
    const kubeconfig = join(mkdtempSync(join(tmpdir(), "trellis-analyze-")), "kubeconfig");
    writeFileSync(
      kubeconfig,
      YAML.stringify({
        apiVersion: "v1",
        kind: "Config",
        // Port 1 on loopback: nothing listens there.
        clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:1", "insecure-skip-tls-verify": true } }],
        users: [{ name: "u", user: { token: "t" } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
        "current-context": "x",
      }),
    );
    const r = await runTrellis(["analyze", "--kube", "--kubeconfig", kubeconfig, "--timeout", "0.5"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("could not list everything from the Kubernetes API at https://127.0.0.1:1 within 0.5s");
  });
});
