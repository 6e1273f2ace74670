// What in a pod would clash with the sidecar: a volume or init container that
// already uses one of our names, or an application container listening on a
// port Envoy binds in the shared network namespace. Each would give a pod that
// the API server refuses or whose proxy cannot start, so injection refuses it
// up front with a message that says what to rename.
import type { InjectionProblem } from "./annotations.js";
import { INIT_CONTAINER, PROXY_PORTS, VOLUME } from "./names.js";
import { containersOf, isObject, type Pod } from "./pod.js";

export function conflicts(pod: Pod): InjectionProblem[] {
  const problems: InjectionProblem[] = [];
  const ours: readonly string[] = Object.values(VOLUME);
  (Array.isArray(pod.spec?.volumes) ? pod.spec.volumes : []).forEach((v, i) => {
    if (isObject(v) && typeof v.name === "string" && ours.includes(v.name)) {
      problems.push({ field: `spec.volumes[${i}].name`, message: `"${v.name}" is reserved for the injected sidecar` });
    }
  });
  (Array.isArray(pod.spec?.initContainers) ? pod.spec.initContainers : []).forEach((c, i) => {
    if (isObject(c) && c.name === INIT_CONTAINER) {
      problems.push({
        field: `spec.initContainers[${i}].name`,
        message: `"${INIT_CONTAINER}" is reserved for the injected init container`,
      });
    }
  });
  for (const list of ["initContainers", "containers"] as const) {
    containersOf(pod.spec?.[list]).forEach((c, i) => {
      (Array.isArray(c.ports) ? c.ports : []).forEach((p, j) => {
        if (!isObject(p)) return;
        const protocol = typeof p.protocol === "string" ? p.protocol : "TCP";
        if (protocol === "TCP" && typeof p.containerPort === "number" && PROXY_PORTS.includes(p.containerPort)) {
          problems.push({
            field: `spec.${list}[${i}].ports[${j}].containerPort`,
            message: `${p.containerPort} is used by the sidecar (Envoy binds ${PROXY_PORTS.join(", ")})`,
          });
        }
      });
    });
  }
  return problems;
}
