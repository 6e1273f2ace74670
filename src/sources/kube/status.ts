// Writes each mesh custom resource's status from the diagnostics that name it:
// an `Accepted` condition (reason and message) plus Istio-style
// `validationMessages`, and `observedGeneration`. Only the leader writes, only
// when the status would change (lastTransitionTime aside), with bounded
// concurrency; our own writes come back as watch events and cause no further
// writes because the desired status is then equal to the stored one.
import type { Diagnostic, Severity } from "../../model/diagnostic.js";
import { errorOf, type KubeHttp } from "./http.js";
import type { MeshResourceInfo, SourceLogger } from "./kube-source.js";
import { objectPath } from "./resources.js";

export interface Condition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime?: string;
}

export interface ValidationMessage {
  type: { code: string };
  level: "ERROR" | "WARNING" | "INFO";
  message: string;
}

export interface MeshStatus {
  observedGeneration?: number;
  conditions: Condition[];
  validationMessages?: ValidationMessage[];
}

const LEVEL: Record<Severity, ValidationMessage["level"]> = { error: "ERROR", warning: "WARNING", info: "INFO" };

/** Source codes meaning "the object itself failed validation and is not served as written". */
const INVALID_CODES = new Set(["TRL1101", "TRL1102"]);

function line(d: Diagnostic): string {
  return `${d.code}${d.field ? ` ${d.field}` : ""}: ${d.message}`;
}

/** The status Trellis wants on one object, given the diagnostics that name it. Pure. */
export function desiredStatus(info: MeshResourceInfo, diagnostics: readonly Diagnostic[], now: string): MeshStatus {
  const errors = diagnostics.filter((d) => d.severity === "error");
  const warnings = diagnostics.filter((d) => d.severity === "warning");
  const invalid = diagnostics.some((d) => INVALID_CODES.has(d.code));
  let condition: Omit<Condition, "lastTransitionTime">;
  if (invalid) {
    condition = {
      type: "Accepted",
      status: "False",
      reason: "Invalid",
      message: `${errors
        .filter((d) => INVALID_CODES.has(d.code))
        .map(line)
        .join("; ")}`,
    };
  } else if (errors.length > 0) {
    condition = {
      type: "Accepted",
      status: "False",
      reason: "ConfigErrors",
      message: `served, but with errors: ${errors.map(line).join("; ")}`,
    };
  } else if (warnings.length > 0) {
    condition = {
      type: "Accepted",
      status: "True",
      reason: "AcceptedWithWarnings",
      message: warnings.map(line).join("; "),
    };
  } else {
    condition = { type: "Accepted", status: "True", reason: "Accepted", message: "valid and served" };
  }
  // Kubernetes caps condition messages at 32 KiB.
  if (condition.message.length > 4096) condition.message = `${condition.message.slice(0, 4093)}...`;
  const previous = currentConditions(info.status).find((c) => c.type === "Accepted");
  const status: MeshStatus = {
    ...(info.generation !== undefined ? { observedGeneration: info.generation } : {}),
    conditions: [
      {
        ...condition,
        ...(info.generation !== undefined ? { observedGeneration: info.generation } : {}),
        lastTransitionTime:
          previous && previous.status === condition.status && previous.lastTransitionTime
            ? previous.lastTransitionTime
            : now,
      },
    ],
  };
  if (diagnostics.length > 0) {
    status.validationMessages = diagnostics.map((d) => ({
      type: { code: d.code },
      level: LEVEL[d.severity],
      message: d.field ? `${d.field}: ${d.message}` : d.message,
    }));
  }
  return status;
}

function currentConditions(status: unknown): Condition[] {
  const c = (status as { conditions?: unknown } | undefined)?.conditions;
  return Array.isArray(c) ? (c as Condition[]) : [];
}

/** Equal for our purposes: everything but lastTransitionTime. */
export function sameStatus(current: unknown, desired: MeshStatus): boolean {
  const strip = (s: unknown) =>
    JSON.stringify(s, (k, v) => (k === "lastTransitionTime" ? undefined : v === null ? undefined : v));
  const cur = (current ?? {}) as Record<string, unknown>;
  return (
    strip(cur.observedGeneration) === strip(desired.observedGeneration) &&
    strip(cur.conditions) === strip(desired.conditions) &&
    strip(cur.validationMessages ?? []) === strip(desired.validationMessages ?? [])
  );
}

export interface StatusWriterOptions {
  http: KubeHttp;
  resources: () => MeshResourceInfo[];
  diagnostics: () => readonly Diagnostic[];
  isLeader: () => boolean;
  logger?: SourceLogger;
  /** Quiet time before a pass, so bursts of changes cause one pass (default 250 ms). */
  delayMs?: number;
  concurrency?: number;
  onWrite?: (info: MeshResourceInfo, ok: boolean) => void;
}

export class StatusWriter {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(private readonly opts: StatusWriterOptions) {}

  /** Asks for a pass soon; cheap to call after every snapshot. */
  schedule(): void {
    if (this.stopped || !this.opts.isLeader()) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.pass().then(
        () => undefined,
        () => undefined,
      );
      this.running.finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.schedule();
        }
      });
    }, this.opts.delayMs ?? 250);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass over every mesh resource; returns how many statuses were written. */
  async pass(): Promise<number> {
    if (!this.opts.isLeader()) return 0;
    const byObject = new Map<string, Diagnostic[]>();
    for (const d of this.opts.diagnostics()) {
      if (!d.object?.name) continue;
      const key = `${d.object.kind}/${d.object.namespace ?? ""}/${d.object.name}`;
      const list = byObject.get(key);
      if (list) list.push(d);
      else byObject.set(key, [d]);
    }
    const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    const todo: { info: MeshResourceInfo; status: MeshStatus }[] = [];
    for (const info of this.opts.resources()) {
      const status = desiredStatus(info, byObject.get(`${info.kind}/${info.namespace}/${info.name}`) ?? [], now);
      if (!sameStatus(info.status, status)) todo.push({ info, status });
    }
    let written = 0;
    const workers = Array.from({ length: Math.min(this.opts.concurrency ?? 4, todo.length) }, async () => {
      for (let item = todo.shift(); item; item = todo.shift()) {
        // Leadership can end mid-pass: stop writing at once.
        if (this.stopped || !this.opts.isLeader()) return;
        if (await this.write(item.info, item.status)) written++;
      }
    });
    await Promise.all(workers);
    return written;
  }

  private async write(info: MeshResourceInfo, status: MeshStatus): Promise<boolean> {
    const path = `${objectPath(info.resource, info.namespace, info.name)}/status`;
    try {
      // Merge patch: lists (conditions, validationMessages) are replaced whole; other controllers' status fields stay.
      const res = await this.opts.http.request("PATCH", path, { status }, "application/merge-patch+json");
      if (res.status === 404) return false; // deleted meanwhile
      if (res.status < 200 || res.status >= 300) throw errorOf("PATCH", path, res);
      this.opts.onWrite?.(info, true);
      return true;
    } catch (err) {
      this.opts.logger?.warn(
        { err: (err as Error).message, object: `${info.kind}/${info.namespace}/${info.name}` },
        "writing status failed; will retry on the next change",
      );
      this.opts.onWrite?.(info, false);
      return false;
    }
  }
}
