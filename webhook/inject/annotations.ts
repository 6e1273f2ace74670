// The per-pod switches of injection: Istio's annotations, read and validated
// once into PodSettings. An annotation with a value that cannot be used is a
// problem (the pod is refused with the message, as Istio's webhook does),
// never silently dropped: an ignored `excludeOutboundIPRanges` would send
// traffic through Envoy that the user meant to bypass it. Istio annotations
// Trellis does not act on are reported as warnings.
import { isIPv4, isIPv6 } from "node:net";
import YAML from "yaml";
import type { MeshConfig } from "../../src/config/mesh-config.js";
import { QUANTITY_PATTERN } from "../../src/config/primitives.js";
import { annotationsOf, isObject, type Pod } from "./pod.js";

export const ANNOTATION = {
  /** Pod opt-in/opt-out (the label of the same name wins over it). */
  inject: "sidecar.istio.io/inject",
  /** What Trellis injected (JSON); its presence makes injection idempotent. */
  status: "sidecar.trellis.dev/status",
  includeInboundPorts: "traffic.sidecar.istio.io/includeInboundPorts",
  excludeInboundPorts: "traffic.sidecar.istio.io/excludeInboundPorts",
  includeOutboundIPRanges: "traffic.sidecar.istio.io/includeOutboundIPRanges",
  excludeOutboundIPRanges: "traffic.sidecar.istio.io/excludeOutboundIPRanges",
  excludeOutboundPorts: "traffic.sidecar.istio.io/excludeOutboundPorts",
  proxyCPU: "sidecar.istio.io/proxyCPU",
  proxyMemory: "sidecar.istio.io/proxyMemory",
  proxyCPULimit: "sidecar.istio.io/proxyCPULimit",
  proxyMemoryLimit: "sidecar.istio.io/proxyMemoryLimit",
  nativeSidecar: "sidecar.istio.io/nativeSidecar",
  /** ProxyConfig overrides as JSON or YAML; Trellis reads `holdApplicationUntilProxyStarts`. */
  proxyConfig: "proxy.istio.io/config",
  /** Envoy's log level (Istio's default is warning). */
  logLevel: "sidecar.istio.io/logLevel",
  defaultContainer: "kubectl.kubernetes.io/default-container",
} as const;

/** Istio annotations that change injection in Istio but not (yet) in Trellis: a warning, not an error. */
const UNSUPPORTED_ANNOTATIONS: Readonly<Record<string, string>> = {
  "traffic.sidecar.istio.io/includeOutboundPorts": "trellis-init has no port-based outbound include list",
  "traffic.sidecar.istio.io/excludeInterfaces": "trellis-init captures on every interface",
  "traffic.sidecar.istio.io/kubevirtInterfaces": "trellis-init captures on every interface",
  "istio.io/reroute-virtual-interfaces": "trellis-init captures on every interface",
  "sidecar.istio.io/interceptionMode": "only REDIRECT capture is implemented",
  "status.sidecar.istio.io/port": "there is no agent status port (Envoy serves readiness on 15021)",
  "sidecar.istio.io/rewriteAppHTTPProbers": "application probes are not rewritten yet",
  "sidecar.istio.io/componentLogLevel": "set Envoy's component log levels through the admin API",
  "sidecar.istio.io/proxyImage": "the proxy image is set mesh-wide (defaultConfig.proxy.image)",
  "sidecar.istio.io/userVolume": "user volumes are not added to the proxy",
  "sidecar.istio.io/userVolumeMount": "user volumes are not added to the proxy",
  "inject.istio.io/templates": "Trellis has one injection template",
};

/** Inbound ports never captured, whatever the annotations say: Envoy's stats (15090), its readiness listener (15021) and Istio's status port (15020, kept so Istio users' expectations hold). */
export const ALWAYS_EXCLUDED_INBOUND_PORTS: readonly number[] = [15090, 15021, 15020];

/** A Job's pod completes when all its containers have exited; a regular sidecar never does. */
export const JOB_WARNING =
  'a Job\'s pod with a regular sidecar never completes (Envoy keeps running): set annotation sidecar.istio.io/nativeSidecar: "true" (Kubernetes >= 1.29)';

/** Envoy's log levels (`envoy --log-level`); Istio's "warning" is Envoy's name too. */
const LOG_LEVELS = ["trace", "debug", "info", "warning", "warn", "error", "critical", "off"] as const;
export const DEFAULT_LOG_LEVEL = "warning";

/** Where a problem is: the annotation's path in the pod (`metadata.annotations["…"]`), and what is wrong. */
export interface InjectionProblem {
  field: string;
  message: string;
}

/** The capture selection, as the comma-separated values trellis-init takes. `*` means all; "" means none. */
export interface CaptureSettings {
  inboundPorts: string;
  excludeInboundPorts: string;
  outboundIpRanges: string;
  excludeOutboundIpRanges: string;
  excludeOutboundPorts: string;
}

export interface ResourceList {
  cpu?: string;
  memory?: string;
}

export interface ProxyResources {
  requests?: ResourceList;
  limits?: ResourceList;
}

export interface PodSettings {
  capture: CaptureSettings;
  resources: ProxyResources;
  /** The proxy is a native sidecar (init container with restartPolicy Always). */
  native: boolean;
  /** Hold the application containers until the proxy is ready (ignored for native sidecars, which get that ordering from Kubernetes). */
  hold: boolean;
  logLevel: string;
}

export type SettingsResult =
  | { ok: true; value: PodSettings; warnings: string[] }
  | { ok: false; problems: InjectionProblem[]; warnings: string[] };

const field = (annotation: string) => `metadata.annotations[${JSON.stringify(annotation)}]`;

/** Reads and validates every injection annotation of `pod`; reports all problems, not just the first. */
export function podSettings(pod: Pod, mesh: MeshConfig): SettingsResult {
  const annotations = annotationsOf(pod);
  const problems: InjectionProblem[] = [];
  const warnings: string[] = [];
  const problem = (annotation: string, message: string) => problems.push({ field: field(annotation), message });

  for (const [name, why] of Object.entries(UNSUPPORTED_ANNOTATIONS)) {
    if (annotations[name] !== undefined) warnings.push(`annotation ${name} is ignored: ${why}`);
  }

  const list = (
    annotation: string,
    fallback: string,
    kind: "ports" | "cidrs",
    wildcard: boolean,
    extra: readonly number[] = [],
  ): string => {
    const raw = annotations[annotation];
    const text = raw ?? fallback;
    if (wildcard && text.trim() === "*") return "*";
    const out: string[] = [];
    for (const item of csv(text)) {
      const error =
        item === "*"
          ? wildcard
            ? 'is only valid as the whole value ("*" alone)'
            : "is not allowed in an exclude list"
          : kind === "ports"
            ? portError(item)
            : cidrError(item);
      if (error) problem(annotation, `${JSON.stringify(item)} ${error}`);
      else if (!out.includes(item)) out.push(item);
    }
    for (const port of extra) if (!out.includes(String(port))) out.push(String(port));
    return out.join(",");
  };

  const capture: CaptureSettings = {
    inboundPorts: list(ANNOTATION.includeInboundPorts, "*", "ports", true),
    excludeInboundPorts: list(ANNOTATION.excludeInboundPorts, "", "ports", false, ALWAYS_EXCLUDED_INBOUND_PORTS),
    outboundIpRanges: list(ANNOTATION.includeOutboundIPRanges, "*", "cidrs", true),
    excludeOutboundIpRanges: list(ANNOTATION.excludeOutboundIPRanges, "", "cidrs", false),
    excludeOutboundPorts: list(ANNOTATION.excludeOutboundPorts, "", "ports", false),
  };

  const resources = proxyResources(annotations, mesh, problem);

  let native = mesh.injection.nativeSidecars;
  const nativeText = annotations[ANNOTATION.nativeSidecar];
  if (nativeText !== undefined) {
    const parsed = parseBool(nativeText);
    if (parsed === undefined)
      problem(ANNOTATION.nativeSidecar, `${JSON.stringify(nativeText)} is not "true" or "false"`);
    else native = parsed;
  }

  let hold = mesh.defaultConfig.holdApplicationUntilProxyStarts;
  const proxyConfigText = annotations[ANNOTATION.proxyConfig];
  if (proxyConfigText !== undefined) {
    const parsed = proxyConfigOverrides(proxyConfigText);
    if ("error" in parsed) problem(ANNOTATION.proxyConfig, parsed.error);
    else {
      if (parsed.hold !== undefined) hold = parsed.hold;
      for (const key of parsed.ignored) {
        warnings.push(
          `annotation ${ANNOTATION.proxyConfig}: field ${key} is ignored (Trellis reads holdApplicationUntilProxyStarts only)`,
        );
      }
    }
  }

  let logLevel = DEFAULT_LOG_LEVEL;
  const logLevelText = annotations[ANNOTATION.logLevel];
  if (logLevelText !== undefined) {
    const v = logLevelText.trim().toLowerCase();
    if ((LOG_LEVELS as readonly string[]).includes(v)) logLevel = v;
    else problem(ANNOTATION.logLevel, `${JSON.stringify(logLevelText)} is not one of ${LOG_LEVELS.join(", ")}`);
  }

  const owner = (Array.isArray(pod.metadata?.ownerReferences) ? pod.metadata.ownerReferences : []).find(
    (r) => r?.controller === true,
  );
  if (!native && owner?.kind === "Job") warnings.push(JOB_WARNING);

  if (problems.length > 0) return { ok: false, problems, warnings };
  return { ok: true, value: { capture, resources, native, hold, logLevel }, warnings };
}

// ---------------------------------------------------------------------------

/** Comma-separated items, trimmed; blanks (`a,,b`, a trailing comma) are skipped, as trellis-init does. */
function csv(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function portError(item: string): string | undefined {
  const n = /^\d{1,5}$/.test(item) ? Number(item) : Number.NaN;
  return n >= 1 && n <= 65535 ? undefined : "is not a port (1-65535)";
}

/** A CIDR (`10.0.0.0/8`, `fd00::/8`) or a single address, as trellis-init accepts. */
function cidrError(item: string): string | undefined {
  const slash = item.indexOf("/");
  const address = slash < 0 ? item : item.slice(0, slash);
  const max = isIPv4(address) ? 32 : isIPv6(address) && !address.includes("%") ? 128 : 0;
  if (max === 0) return "is not a CIDR (like 10.0.0.0/8 or fd00::/8)";
  if (slash < 0) return undefined;
  const len = item.slice(slash + 1);
  return /^\d{1,3}$/.test(len) && Number(len) <= max ? undefined : `has a prefix length that is not 0-${max}`;
}

/** `"true"` / `"false"` in any case, as Kubernetes annotations spell booleans. */
function parseBool(text: string): boolean | undefined {
  const v = text.trim().toLowerCase();
  return v === "true" ? true : v === "false" ? false : undefined;
}

function proxyConfigOverrides(text: string): { hold?: boolean; ignored: string[] } | { error: string } {
  let doc: unknown;
  try {
    // YAML is a superset of JSON: Istio accepts either here.
    doc = YAML.parse(text);
  } catch (err) {
    return { error: `is not JSON or YAML: ${(err as Error).message.split("\n")[0]}` };
  }
  if (doc === null || doc === undefined) return { ignored: [] };
  if (!isObject(doc)) return { error: 'must be a ProxyConfig object, like {"holdApplicationUntilProxyStarts": true}' };
  const hold = doc.holdApplicationUntilProxyStarts;
  if (hold !== undefined && typeof hold !== "boolean") {
    return { error: `holdApplicationUntilProxyStarts must be true or false, got ${JSON.stringify(hold)}` };
  }
  return { hold, ignored: Object.keys(doc).filter((k) => k !== "holdApplicationUntilProxyStarts") };
}

/**
 * The proxy's resources. As in Istio's template, if any of the four resource
 * annotations is set, the annotations alone define the resources (unset ones
 * stay unset); otherwise MeshConfig's `defaultConfig.proxy.resources` apply.
 * A request above its limit is refused here, not by the API server later.
 */
function proxyResources(
  annotations: Record<string, string>,
  mesh: MeshConfig,
  problem: (annotation: string, message: string) => void,
): ProxyResources {
  const keys = [ANNOTATION.proxyCPU, ANNOTATION.proxyMemory, ANNOTATION.proxyCPULimit, ANNOTATION.proxyMemoryLimit];
  if (!keys.some((k) => annotations[k] !== undefined)) {
    const d = mesh.defaultConfig.proxy.resources;
    const copy = (l: { cpu?: string | number; memory?: string | number } | undefined): ResourceList | undefined => {
      if (!l) return undefined;
      const out: ResourceList = {};
      if (l.cpu !== undefined) out.cpu = String(l.cpu);
      if (l.memory !== undefined) out.memory = String(l.memory);
      return out;
    };
    const out: ProxyResources = {};
    const requests = copy(d.requests);
    const limits = copy(d.limits);
    if (requests) out.requests = requests;
    if (limits) out.limits = limits;
    return out;
  }
  const quantity = (annotation: string): string | undefined => {
    const raw = annotations[annotation];
    if (raw === undefined) return undefined;
    const v = raw.trim();
    if (!QUANTITY_PATTERN.test(v) || v.startsWith("-")) {
      problem(annotation, `${JSON.stringify(raw)} is not a Kubernetes quantity such as "100m" or "128Mi"`);
      return undefined;
    }
    return v;
  };
  const requests: ResourceList = {};
  const limits: ResourceList = {};
  const cpu = quantity(ANNOTATION.proxyCPU);
  const memory = quantity(ANNOTATION.proxyMemory);
  const cpuLimit = quantity(ANNOTATION.proxyCPULimit);
  const memoryLimit = quantity(ANNOTATION.proxyMemoryLimit);
  if (cpu !== undefined) requests.cpu = cpu;
  if (memory !== undefined) requests.memory = memory;
  if (cpuLimit !== undefined) limits.cpu = cpuLimit;
  if (memoryLimit !== undefined) limits.memory = memoryLimit;
  if (cpu !== undefined && cpuLimit !== undefined && quantityValue(cpu) > quantityValue(cpuLimit)) {
    problem(ANNOTATION.proxyCPU, `${cpu} is more than the CPU limit ${cpuLimit} (${ANNOTATION.proxyCPULimit})`);
  }
  if (memory !== undefined && memoryLimit !== undefined && quantityValue(memory) > quantityValue(memoryLimit)) {
    problem(
      ANNOTATION.proxyMemory,
      `${memory} is more than the memory limit ${memoryLimit} (${ANNOTATION.proxyMemoryLimit})`,
    );
  }
  const out: ProxyResources = {};
  if (Object.keys(requests).length > 0) out.requests = requests;
  if (Object.keys(limits).length > 0) out.limits = limits;
  return out;
}

const SUFFIX: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The numeric value of a Kubernetes quantity that matched QUANTITY_PATTERN (for comparisons only). */
export function quantityValue(q: string): number {
  const m = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:[eE]([+-]?\d+)|([KMGTPE]i|[numkMGTPE]))?$/.exec(q);
  if (!m) return Number.NaN;
  const base = Number(m[1]);
  if (m[2] !== undefined) return base * 10 ** Number(m[2]);
  return base * (SUFFIX[m[3] ?? ""] ?? Number.NaN);
}
