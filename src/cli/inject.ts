// `trellis inject -f FILE`: the webhook's injection, offline, for users who
// inject by hand (`trellis inject -f app.yaml | kubectl apply -f -`), as
// `istioctl kube-inject` does. Reads a multi-document YAML stream and writes
// it back in the same order with the sidecar added to the pod template of every
// Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController,
// Job and CronJob (also inside a `List`); anything else passes through. The
// same functions as the webhook decide and inject (webhook/inject/); the YAML
// is edited with the webhook's JSONPatch, so comments outside the changed
// nodes survive.

import { readFile, writeFile } from "node:fs/promises";
import { type Command, InvalidArgumentError } from "commander";
import { type Document, isMap, isSeq, parseAllDocuments } from "yaml";
import {
  defaultInjectionConfig,
  type InjectionConfig,
  injectionDecision,
  injectWorkloadPod,
  JOB_WARNING,
  type JsonPatchOp,
  jsonPatch,
  type Pod,
  PROXY_CONTAINER,
} from "../../webhook/inject/index.js";
import { parseHostPort } from "../envoy/bootstrap.js";
import { formatObjectRef } from "../model/diagnostic.js";
import { type CommandIo, processIo } from "./io.js";
import { loadMeshConfig } from "./serve.js";

/** Where each workload kind keeps its pod template, and the API groups it is served in. */
const POD_TEMPLATES: Readonly<Record<string, { groups: readonly string[]; path: readonly string[] }>> = {
  Pod: { groups: [""], path: [] },
  ReplicationController: { groups: [""], path: ["spec", "template"] },
  Deployment: { groups: ["apps", "extensions"], path: ["spec", "template"] },
  StatefulSet: { groups: ["apps"], path: ["spec", "template"] },
  DaemonSet: { groups: ["apps", "extensions"], path: ["spec", "template"] },
  ReplicaSet: { groups: ["apps", "extensions"], path: ["spec", "template"] },
  Job: { groups: ["batch"], path: ["spec", "template"] },
  CronJob: { groups: ["batch"], path: ["spec", "jobTemplate", "spec", "template"] },
};

export type InjectResult =
  | { ok: true; output: string; notes: string[] }
  | { ok: false; errors: string[]; notes: string[] };

type Path = (string | number)[];

/**
 * Injects every pod template in a YAML stream. `source` names the input in
 * messages. Notes are for stderr: workloads left alone and why, and Istio
 * annotations Trellis ignores. Errors (YAML that does not parse, invalid
 * injection annotations) fail the whole stream, so no half-injected output is
 * ever applied.
 */
export function injectManifests(text: string, source: string, cfg: InjectionConfig): InjectResult {
  const docs = parseAllDocuments(text);
  const errors: string[] = [];
  const notes: string[] = [];
  const out: string[] = [];
  for (const [index, doc] of docs.entries()) {
    const where = `${source} document ${index}`;
    if (doc.errors.length > 0) {
      for (const e of doc.errors) errors.push(`${where}: ${(e.message.split("\n")[0] ?? e.message).replace(/:$/, "")}`);
      continue;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (err) {
      errors.push(`${where}: ${(err as Error).message}`);
      continue;
    }
    for (const target of workloads(value, [])) {
      const ref = formatObjectRef({
        kind: target.kind,
        name: target.name,
        namespace: target.namespace,
        source: { file: source, documentIndex: index },
      });
      const namespace = target.namespace === undefined ? undefined : { name: target.namespace, labels: {} };
      const decision = injectionDecision(target.pod, namespace, cfg, "manual");
      for (const w of decision.warnings ?? []) notes.push(`${ref}: warning: ${w}`);
      if (decision.errors) {
        const prefix = target.path.length > 0 ? `${target.path.join(".")}.` : "";
        for (const e of decision.errors) errors.push(`${ref} ${prefix}${e.field}: ${e.message}`);
        continue;
      }
      if (!decision.inject) {
        notes.push(`${ref}: not injected: ${decision.reason}`);
        continue;
      }
      const injected = injectWorkloadPod(target.pod, target.namespace ?? "", cfg, target.name ?? "");
      const regularSidecar = injected.spec?.containers?.some((c) => c.name === PROXY_CONTAINER) === true;
      if ((target.kind === "Job" || target.kind === "CronJob") && regularSidecar) {
        notes.push(`${ref}: warning: ${JOB_WARNING}`);
      }
      editYaml(doc, target.path, jsonPatch(target.pod, injected), injected);
    }
    const rendered = doc.toString({ lineWidth: 0, flowCollectionPadding: false });
    out.push(index > 0 && !rendered.startsWith("---") ? `---\n${rendered}` : rendered);
  }
  if (errors.length > 0) return { ok: false, errors, notes };
  return { ok: true, output: out.join(""), notes };
}

interface Workload {
  kind: string;
  name?: string;
  namespace?: string;
  /** Path of the pod (template) inside the document. */
  path: Path;
  pod: Pod;
}

function* workloads(value: unknown, at: Path): Iterable<Workload> {
  if (!isObject(value)) return;
  const kind = typeof value.kind === "string" ? value.kind : "";
  const apiVersion = typeof value.apiVersion === "string" ? value.apiVersion : "";
  const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "";
  if (kind === "List" && group === "" && Array.isArray(value.items)) {
    for (const [i, item] of value.items.entries()) yield* workloads(item, [...at, "items", i]);
    return;
  }
  const spec = POD_TEMPLATES[kind];
  if (!spec?.groups.includes(group)) return;
  let pod: unknown = value;
  for (const key of spec.path) pod = isObject(pod) ? pod[key] : undefined;
  if (!isObject(pod)) return;
  const meta = isObject(value.metadata) ? value.metadata : {};
  yield {
    kind,
    name: typeof meta.name === "string" ? meta.name : undefined,
    namespace: typeof meta.namespace === "string" ? meta.namespace : undefined,
    path: [...at, ...spec.path],
    pod: pod as Pod,
  };
}

/**
 * Applies the patch to the YAML nodes, so everything it does not touch keeps
 * its comments and style. If the document's structure gets in the way (an
 * alias on the path), the pod template is replaced as a whole instead.
 */
function editYaml(doc: Document, base: Path, ops: JsonPatchOp[], injected: Pod): void {
  try {
    for (const op of ops) {
      const path = [...base, ...pointer(op.path)];
      blockStyle(doc, path);
      if (op.op === "add") {
        const last = path.pop();
        const parent = path.length === 0 ? doc.contents : doc.getIn(path, true);
        const node = doc.createNode(op.value, { aliasDuplicateObjects: false });
        if (isSeq(parent)) parent.items.splice(last === "-" ? parent.items.length : Number(last), 0, node);
        else if (isMap(parent) && last !== undefined) parent.set(last, node);
        else throw new Error(`cannot add at ${op.path}`);
      } else if (op.op === "remove") doc.deleteIn(path);
      else if (op.op === "replace") doc.setIn(path, doc.createNode(op.value, { aliasDuplicateObjects: false }));
      else throw new Error(`unexpected ${op.op}`);
    }
    let edited: unknown = doc.toJS();
    for (const key of base) edited = (edited as Record<string | number, unknown>)[key];
    if (jsonPatch(edited, injected).length === 0) return;
  } catch {
    // fall through to the whole-template replacement
  }
  const node = doc.createNode(injected, { aliasDuplicateObjects: false });
  if (base.length === 0) doc.contents = node;
  else doc.setIn(base, node);
}

/**
 * Turns the flow collections (`{a: 1}`, `[x]`) on the way to `path` into block
 * style: whatever is inserted below would otherwise be printed inline too, the
 * whole sidecar on one line.
 */
function blockStyle(doc: Document, path: Path): void {
  let node: unknown = doc.contents;
  for (const key of path) {
    if (!isMap(node) && !isSeq(node)) return;
    node.flow = false;
    node = node.get(key, true);
  }
}

function pointer(path: string): Path {
  if (path === "") return [];
  return path
    .slice(1)
    .split("/")
    .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"))
    .map((t) => (t !== "-" && /^\d+$/.test(t) ? Number(t) : t));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// ------------------------------------------------------------------ command

function address(value: string): string {
  const parsed = parseHostPort(value);
  if (!parsed.ok) throw new InvalidArgumentError(parsed.errors.join("; "));
  return value;
}

export function injectCommand(program: Command, io: CommandIo = processIo): void {
  program
    .command("inject")
    .description(
      "add the Envoy sidecar and trellis-init to the pod templates in Kubernetes YAML, like istioctl kube-inject (exit 0: written, 1: errors)",
    )
    .requiredOption("-f, --filename <file>", "YAML file to inject (multi-document; - reads stdin)")
    .option("-o, --output <file>", "write the result here instead of stdout")
    .option("--mesh-config <file>", "MeshConfig YAML (proxy image, resources, injection settings), as for serve")
    .option(
      "--xds-address <host:port>",
      "the control plane's xDS address as pods see it (default: MeshConfig defaultConfig.discoveryAddress)",
      address,
    )
    .option("--control-plane-namespace <ns>", "namespace of the control plane, never injected", "trellis-system")
    .action(async (o) => {
      try {
        const cfg = defaultInjectionConfig(loadMeshConfig(o.meshConfig));
        if (o.xdsAddress) cfg.xdsAddress = o.xdsAddress;
        cfg.controlPlaneNamespace = o.controlPlaneNamespace;
        const source = o.filename === "-" ? "<stdin>" : o.filename;
        let text: string;
        try {
          text = o.filename === "-" ? await io.readStdin() : await readFile(o.filename, "utf8");
        } catch (err) {
          throw new Error(
            `-f ${o.filename}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`,
          );
        }
        const result = injectManifests(text, source, cfg);
        for (const note of result.notes) io.stderr(`trellis inject: ${note}\n`);
        if (!result.ok) {
          for (const e of result.errors) io.stderr(`trellis inject: error: ${e}\n`);
          io.exit(1);
          return;
        }
        if (o.output) await writeFile(o.output, result.output);
        else io.stdout(result.output);
        io.exit(0);
      } catch (err) {
        io.stderr(`trellis inject: ${(err as Error).message}\n`);
        io.exit(1);
      }
    });
}
