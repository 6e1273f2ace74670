// Which workload a pod belongs to, from what is known at admission (before the
// pod has a name, for pods created by controllers): Istio's heuristics
// (pkg/kube/util.go GetDeployMetaFromPod) and canonical service labels.
import { labelsOf, type Pod } from "./pod.js";

/** A CronJob's Job is named `<cronjob>-<scheduled time in minutes>` (8 to 10 digits). */
const CRONJOB_JOB = /^(.+)-\d{8,10}$/;

/**
 * The workload's name: a Deployment's name for its ReplicaSets' pods, a
 * CronJob's for its Jobs' pods, else the controller's name, else the pod's
 * name (or its generateName prefix).
 */
export function workloadName(pod: Pod): string {
  const meta = pod.metadata ?? {};
  const owner = (Array.isArray(meta.ownerReferences) ? meta.ownerReferences : []).find((r) => r?.controller === true);
  if (meta.generateName && owner?.name) {
    const hash = labelsOf(pod)["pod-template-hash"];
    if (owner.kind === "ReplicaSet" && hash && owner.name.endsWith(`-${hash}`)) {
      return owner.name.slice(0, -(hash.length + 1));
    }
    if (owner.kind === "Job") {
      const m = CRONJOB_JOB.exec(owner.name);
      if (m?.[1]) return m[1];
    }
    return owner.name;
  }
  if (meta.name) return meta.name;
  return (meta.generateName ?? "").replace(/-$/, "");
}

/** Istio's canonical service name: its label, else app.kubernetes.io/name, else app, else the workload name. */
export function canonicalName(labels: Record<string, string>, workload: string): string {
  return (
    labels["service.istio.io/canonical-name"] || labels["app.kubernetes.io/name"] || labels.app || workload || "unknown"
  );
}

/** Istio's canonical revision: its label, else app.kubernetes.io/version, else version, else "latest". */
export function canonicalRevision(labels: Record<string, string>): string {
  return (
    labels["service.istio.io/canonical-revision"] || labels["app.kubernetes.io/version"] || labels.version || "latest"
  );
}
