// `trellis analyze`: checks mesh configuration the way `istioctl analyze` does,
// from YAML files (`-f`, directories recursive, `-` for stdin) and/or a live
// cluster (`--kube`), without serving anything. It is the same pipeline as
// `serve` — file source or KubeSource → snapshot → prepare() — plus the
// cross-object checks of translate/analyze-mesh.ts, so what it reports is
// what `serve` would log. Exit codes: 0 nothing at or above the failure
// threshold, 2 problems found, 1 usage or I/O error. See docs/analyze.md.

import { readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { type Command, InvalidArgumentError, Option } from "commander";
import YAML, { parseAllDocuments } from "yaml";
import { isPlatformKind, MESH_KINDS, PLATFORM_KINDS } from "../config/index.js";
import type { MeshConfig } from "../config/mesh-config.js";
import { type Diagnostic, formatObjectRef, type ObjectRef, type Severity } from "../model/diagnostic.js";
import { buildSnapshot, objectKey, type SourcedObject } from "../model/snapshot.js";
import { FILE_SOURCE_CODES, type FileLoadResult, parseYamlFile } from "../sources/file/index.js";
import { combineFileResults, listYamlFiles } from "../sources/file/load-directory.js";
import { KubeHttp, type KubeLoadResult, KubeSource, loadKubeConfig } from "../sources/kube/index.js";
import { analyzeMesh } from "../translate/analyze-mesh.js";
import { prepare } from "../translate/index.js";
import { type CommandIo, processIo, readProcessStdin } from "./io.js";
import { loadMeshConfig } from "./serve.js";

/** Codes `trellis analyze` itself emits (TRL8001–TRL8099). Stable; documented in docs/diagnostics.md. */
export const ANALYZE_CLI_CODES = {
  /** A document of a kind Trellis neither serves nor reads (Deployment, ConfigMap, Gateway API, …): skipped. */
  skippedDocument: "TRL8001",
} as const;

export const EXIT = { ok: 0, usage: 1, problems: 2 } as const;

export type OutputFormat = "text" | "json" | "yaml";
const RANK: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** `CODE=Kind/namespace/name`, `CODE=Kind/name` (cluster-scoped) or `CODE=*`; `*` matches any run of characters. */
export interface Suppression {
  text: string;
  code: RegExp;
  kind?: RegExp;
  namespace?: RegExp;
  name?: RegExp;
}

export interface AnalyzeOptions {
  /** Files and directories (recursive); `-` is stdin. */
  files: string[];
  kube?: boolean;
  kubeconfig?: string;
  /** With `kube`: how long the initial lists may take. */
  timeoutMs?: number;
  meshConfig?: string;
  /** Report only objects in this namespace. */
  namespace?: string;
  failureThreshold?: Severity;
  suppress?: Suppression[];
}

/** One message of the report, as `-o json|yaml` prints it. */
export interface AnalyzeMessage {
  code: string;
  level: Severity;
  object: { kind: string; namespace?: string; name?: string; file?: string; documentIndex?: number };
  field?: string;
  message: string;
}

export interface AnalyzeSummary {
  /** Objects analyzed (in `namespace` when one is given). */
  objects: number;
  errors: number;
  warnings: number;
  infos: number;
  /** Messages left out by --suppress. */
  suppressed: number;
  failureThreshold: Severity;
  /** Whether a message is at or above the failure threshold (exit code 2). */
  failed: boolean;
}

export interface AnalyzeReport {
  messages: AnalyzeMessage[];
  summary: AnalyzeSummary;
}

/** A usage or I/O problem: exit code 1, no report. */
export class AnalyzeUsageError extends Error {}

// ------------------------------------------------------------------ inputs

interface InputFile {
  /** As shown in messages: the path given, joined with the path inside a given directory; `<stdin>` for `-`. */
  file: string;
  text: string;
}

async function readInputs(paths: readonly string[], readStdin: () => Promise<string>): Promise<InputFile[]> {
  const out: InputFile[] = [];
  const seen = new Set<string>();
  const read = async (file: string, shown: string) => {
    const key = resolve(file);
    if (seen.has(key)) return;
    seen.add(key);
    try {
      out.push({ file: shown, text: await readFile(file, "utf8") });
    } catch (err) {
      throw new AnalyzeUsageError(`${shown}: cannot read: ${(err as Error).message}`);
    }
  };
  for (const path of paths) {
    if (path === "") throw new AnalyzeUsageError("an empty path was given");
    if (path === "-") {
      if (seen.has("-")) continue;
      seen.add("-");
      out.push({ file: "<stdin>", text: await readStdin() });
      continue;
    }
    const st = await stat(path).catch(() => undefined);
    if (!st) throw new AnalyzeUsageError(`${path}: no such file or directory`);
    if (st.isDirectory()) {
      const files = await listYamlFiles(path).catch((err: Error) => {
        throw new AnalyzeUsageError(`${path}: cannot list: ${err.message}`);
      });
      for (const rel of files) await read(join(path, rel), join(path, rel));
    } else {
      await read(path, path);
    }
  }
  return out;
}

/** Groups and kinds whose documents Trellis reads; anything else in a file is not analyze's business. */
const MESH_GROUPS = new Set(Object.values(MESH_KINDS).map((k) => k.group));

/**
 * Whether a document that failed validation is simply not ours (a Deployment,
 * a ConfigMap, a Gateway API Gateway, a Knative Service): istioctl analyze
 * ignores those. A document in a mesh API group, or a platform kind in its own
 * apiVersion, keeps its errors: a misspelt kind or a broken Service is a real
 * problem. Returns a description of the skipped document, or undefined.
 */
function foreignDocument(doc: unknown): string | undefined {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return undefined;
  const { apiVersion, kind } = doc as { apiVersion?: unknown; kind?: unknown };
  // Without kind and apiVersion it is no Kubernetes object at all: an error, as in serve.
  if (typeof kind !== "string" || kind === "" || typeof apiVersion !== "string") return undefined;
  const group = apiVersion.includes("/") ? (apiVersion.split("/")[0] ?? "") : "";
  if (MESH_GROUPS.has(group)) return undefined;
  if (isPlatformKind(kind) && PLATFORM_KINDS[kind].apiVersion === apiVersion) return undefined;
  return `${kind} (${apiVersion})`;
}

/** Replaces the schema errors of foreign documents by one info message each. */
function skipForeignDocuments(input: InputFile, result: FileLoadResult): FileLoadResult {
  const failed = new Set<number>();
  for (const d of result.diagnostics) {
    const index = d.object?.source?.documentIndex;
    if (d.code === FILE_SOURCE_CODES.SCHEMA && index !== undefined) failed.add(index);
  }
  if (failed.size === 0) return result;
  const docs = parseAllDocuments(input.text);
  const skipped = new Map<number, string>();
  for (const index of failed) {
    let value: unknown;
    try {
      value = docs[index]?.toJS();
    } catch {
      continue;
    }
    const what = foreignDocument(value);
    if (what !== undefined) skipped.set(index, what);
  }
  if (skipped.size === 0) return result;
  const diagnostics: Diagnostic[] = [];
  const noted = new Set<number>();
  for (const d of result.diagnostics) {
    const index = d.object?.source?.documentIndex;
    const what = index === undefined ? undefined : skipped.get(index);
    if (index === undefined || what === undefined || d.code !== FILE_SOURCE_CODES.SCHEMA) {
      diagnostics.push(d);
      continue;
    }
    if (!noted.has(index)) {
      noted.add(index);
      diagnostics.push({
        code: ANALYZE_CLI_CODES.skippedDocument,
        severity: "info",
        object: d.object,
        message: `${what} is not a mesh kind nor one Trellis reads (Service, EndpointSlice, Pod, Namespace, Node): skipped`,
      });
    }
  }
  return { objects: result.objects, diagnostics };
}

function loadFiles(inputs: readonly InputFile[]): FileLoadResult {
  return combineFileResults(inputs.map((f) => skipForeignDocuments(f, parseYamlFile(f.file, f.text))));
}

async function loadCluster(kubeconfig: string | undefined, timeoutMs: number): Promise<KubeLoadResult> {
  let http: KubeHttp;
  try {
    http = new KubeHttp(loadKubeConfig(kubeconfig));
  } catch (err) {
    throw new AnalyzeUsageError((err as Error).message);
  }
  const source = new KubeSource({ http, onUpdate: () => {} });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new AnalyzeUsageError(
            `could not list everything from the Kubernetes API at ${http.server} within ${timeoutMs / 1000}s (--timeout): is it reachable, and may these credentials list Services, Pods and the mesh resources?`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([source.start(), timeout]);
  } finally {
    clearTimeout(timer);
    await source.stop();
  }
}

// ---------------------------------------------------------------- analysis

function toMessage(d: Diagnostic): AnalyzeMessage {
  const ref: ObjectRef = d.object ?? { kind: "<unknown kind>" };
  const object: AnalyzeMessage["object"] = { kind: ref.kind };
  if (ref.namespace !== undefined) object.namespace = ref.namespace;
  if (ref.name !== undefined) object.name = ref.name;
  if (ref.source?.file !== undefined) object.file = ref.source.file;
  if (ref.source?.documentIndex !== undefined) object.documentIndex = ref.source.documentIndex;
  return d.field === undefined
    ? { code: d.code, level: d.severity, object, message: d.message }
    : { code: d.code, level: d.severity, object, field: d.field, message: d.message };
}

const messageKey = (m: AnalyzeMessage) => JSON.stringify([m.code, m.level, m.object, m.field ?? null, m.message]);

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Groups by object (namespace, kind, name, file, document), then by level, code, field. */
function compareMessages(a: AnalyzeMessage, b: AnalyzeMessage): number {
  const oa = a.object;
  const ob = b.object;
  return (
    compareText(oa.namespace ?? "", ob.namespace ?? "") ||
    compareText(oa.kind, ob.kind) ||
    compareText(oa.name ?? "", ob.name ?? "") ||
    compareText(oa.file ?? "", ob.file ?? "") ||
    (oa.documentIndex ?? -1) - (ob.documentIndex ?? -1) ||
    RANK[a.level] - RANK[b.level] ||
    compareText(a.code, b.code) ||
    compareText(a.field ?? "", b.field ?? "") ||
    compareText(a.message, b.message)
  );
}

function matchesSuppression(s: Suppression, m: AnalyzeMessage): boolean {
  if (!s.code.test(m.code)) return false;
  if (!s.kind) return true;
  if (!s.kind.test(m.object.kind) || !s.name?.test(m.object.name ?? "")) return false;
  return s.namespace ? s.namespace.test(m.object.namespace ?? "") : m.object.namespace === undefined;
}

/**
 * Whether a message belongs to `namespace`: its object is in it, or it names
 * no object at all (a YAML syntax error, an unreadable document: it could be
 * anyone's, so it is never filtered away).
 */
function inNamespace(m: AnalyzeMessage, namespace: string): boolean {
  if (m.object.namespace !== undefined) return m.object.namespace === namespace;
  return m.object.name === undefined;
}

/** The report for already loaded objects and source diagnostics. Pure. */
export function analyzeObjects(
  objects: readonly SourcedObject[],
  sourceDiagnostics: readonly Diagnostic[],
  mesh: MeshConfig,
  opts: Pick<AnalyzeOptions, "namespace" | "failureThreshold" | "suppress"> & { liveCluster?: boolean },
): AnalyzeReport {
  const { snapshot } = buildSnapshot(undefined, objects, sourceDiagnostics);
  const { inputs, diagnostics } = prepare(snapshot, mesh);
  const all = [...sourceDiagnostics, ...diagnostics, ...analyzeMesh(inputs, { liveCluster: opts.liveCluster })];
  const unique = new Map<string, AnalyzeMessage>();
  for (const d of all) {
    const m = toMessage(d);
    unique.set(messageKey(m), m);
  }
  let messages = [...unique.values()];
  if (opts.namespace !== undefined) {
    const ns = opts.namespace;
    messages = messages.filter((m) => inNamespace(m, ns));
  }
  const suppress = opts.suppress ?? [];
  const kept = messages.filter((m) => !suppress.some((s) => matchesSuppression(s, m)));
  kept.sort(compareMessages);
  const threshold = opts.failureThreshold ?? "warning";
  const count = (level: Severity) => kept.filter((m) => m.level === level).length;
  const analyzed =
    opts.namespace === undefined
      ? objects.length
      : objects.filter((o) => o.object.metadata.namespace === opts.namespace).length;
  return {
    messages: kept,
    summary: {
      objects: analyzed,
      errors: count("error"),
      warnings: count("warning"),
      infos: count("info"),
      suppressed: messages.length - kept.length,
      failureThreshold: threshold,
      failed: kept.some((m) => RANK[m.level] <= RANK[threshold]),
    },
  };
}

/** Loads the inputs (files, cluster) and analyzes them. Throws AnalyzeUsageError on usage and I/O problems. */
export async function analyze(
  opts: AnalyzeOptions,
  readStdin: () => Promise<string> = readProcessStdin,
): Promise<AnalyzeReport> {
  if (opts.files.length === 0 && !opts.kube) {
    throw new AnalyzeUsageError("nothing to analyze: give files or directories with -f (- for stdin), or --kube");
  }
  let mesh: MeshConfig;
  try {
    mesh = loadMeshConfig(opts.meshConfig);
  } catch (err) {
    throw new AnalyzeUsageError((err as Error).message);
  }
  const files = loadFiles(await readInputs(opts.files, readStdin));
  let objects: SourcedObject[] = files.objects;
  let diagnostics: Diagnostic[] = files.diagnostics;
  if (opts.kube) {
    const cluster = await loadCluster(opts.kubeconfig, opts.timeoutMs ?? 30_000);
    // Files are overlaid on the cluster: a file's version of an object replaces the live one ("what if I apply this?").
    const byKey = new Map<string, SourcedObject>();
    for (const o of [...cluster.objects, ...files.objects]) byKey.set(objectKey(o.object), o);
    objects = [...byKey.values()];
    diagnostics = [...cluster.diagnostics, ...files.diagnostics];
  }
  return analyzeObjects(objects, diagnostics, mesh, { ...opts, liveCluster: opts.kube === true });
}

// ------------------------------------------------------------------ output

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export function summaryLine(s: AnalyzeSummary): string {
  const suppressed = s.suppressed > 0 ? `; ${s.suppressed} suppressed` : "";
  const objects = plural(s.objects, "object", "objects");
  if (s.errors + s.warnings + s.infos === 0) return `OK: no validation issues found in ${objects}${suppressed}`;
  const counts = `${plural(s.errors, "error", "errors")}, ${plural(s.warnings, "warning", "warnings")}, ${s.infos} info`;
  return `${s.failed ? "FAIL" : "OK"}: ${counts} in ${objects} (failure threshold: ${s.failureThreshold})${suppressed}`;
}

function objectRefOf(o: AnalyzeMessage["object"]): ObjectRef {
  const ref: ObjectRef = { kind: o.kind, namespace: o.namespace, name: o.name };
  if (o.file !== undefined) ref.source = { file: o.file, documentIndex: o.documentIndex };
  return ref;
}

/** One block per object, its messages indented below it, then the summary line. */
export function renderText(report: AnalyzeReport): string {
  const lines: string[] = [];
  let group = "";
  for (const m of report.messages) {
    const header = formatObjectRef(objectRefOf(m.object));
    if (header !== group) {
      if (group !== "") lines.push("");
      lines.push(header);
      group = header;
    }
    lines.push(`  ${m.level.padEnd(7)} ${m.code} ${m.field ? `${m.field}: ` : ""}${m.message}`);
  }
  if (lines.length > 0) lines.push("");
  lines.push(summaryLine(report.summary));
  return `${lines.join("\n")}\n`;
}

export function renderReport(report: AnalyzeReport, format: OutputFormat): string {
  if (format === "json") return `${JSON.stringify(report, null, 2)}\n`;
  if (format === "yaml") return YAML.stringify(report, { lineWidth: 0 });
  return renderText(report);
}

// --------------------------------------------------------------------- CLI

function glob(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`);
}

export function parseSuppression(value: string): Suppression {
  const eq = value.indexOf("=");
  const code = value.slice(0, eq);
  const target = value.slice(eq + 1);
  const parts = target.split("/");
  if (eq <= 0 || target === "" || parts.length > 3 || parts.some((p) => p === "")) {
    throw new InvalidArgumentError(
      `expected CODE=Kind/namespace/name, CODE=Kind/name (cluster-scoped) or CODE=* (* matches anything), got "${value}"`,
    );
  }
  if (target === "*") return { text: value, code: glob(code) };
  const [kind = "", a = "", b] = parts;
  if (parts.length === 1) {
    throw new InvalidArgumentError(`"${value}": name the object as Kind/namespace/name (or Kind/name), or use *`);
  }
  return b === undefined
    ? { text: value, code: glob(code), kind: glob(kind), name: glob(a) }
    : { text: value, code: glob(code), kind: glob(kind), namespace: glob(a), name: glob(b) };
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`expected a positive number of seconds, got "${value}"`);
  return n * 1000;
}

const collect =
  <T>(parse: (v: string) => T) =>
  (value: string, previous: T[] = []) => [...previous, parse(value)];

export function analyzeCommand(program: Command, io: CommandIo = processIo): void {
  program
    .command("analyze")
    .summary("check mesh configuration in files or a live cluster, like istioctl analyze")
    .description(
      "check mesh configuration in files and/or a live cluster, like istioctl analyze (exit 0: no problems at or above the failure threshold, 2: problems found, 1: usage or I/O error)",
    )
    .argument("[paths...]", "files or directories to analyze, like -f")
    .option("-f, --filename <path>", "YAML file or directory (recursive); - reads stdin; repeatable", collect(String))
    .option("--kube", "analyze the live cluster (Services, Pods, mesh custom resources); -f files are overlaid on it")
    .option("--kubeconfig <file>", "kubeconfig for --kube (default: $KUBECONFIG, ~/.kube/config, or in-cluster)")
    .option(
      "--timeout <seconds>",
      "with --kube: give up if the API server has not listed everything by then (default: 30)",
      seconds,
    )
    .option("--mesh-config <file>", "MeshConfig YAML (rootNamespace, clusterDomain, …), as for serve")
    .addOption(
      new Option("-n, --namespace <ns>", "report only problems of objects in this namespace").conflicts(
        "allNamespaces",
      ),
    )
    .addOption(new Option("-A, --all-namespaces", "report problems in every namespace (the default)"))
    .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json", "yaml"]).default("text"))
    .addOption(
      new Option("--failure-threshold <level>", "lowest level that makes the exit code 2")
        .choices(["error", "warning", "info"])
        .default("warning"),
    )
    .option(
      "-S, --suppress <CODE=Kind/ns/name>",
      "leave out matching messages (* matches anything, e.g. TRL3001=PeerAuthentication/*/*); repeatable",
      collect(parseSuppression),
    )
    .action(async (paths: string[], o) => {
      try {
        const report = await analyze(
          {
            files: [...(o.filename ?? []), ...paths],
            kube: o.kube === true,
            kubeconfig: o.kubeconfig,
            timeoutMs: o.timeout,
            meshConfig: o.meshConfig,
            namespace: o.namespace,
            failureThreshold: o.failureThreshold,
            suppress: o.suppress,
          },
          () => io.readStdin(),
        );
        io.stdout(renderReport(report, o.output));
        io.exit(report.summary.failed ? EXIT.problems : EXIT.ok);
      } catch (err) {
        if (!(err instanceof AnalyzeUsageError)) throw err;
        io.stderr(`trellis analyze: ${err.message}\n`);
        io.exit(EXIT.usage);
      }
    });
}
