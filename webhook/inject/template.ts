// injectPod: a pod in, the same pod with the sidecar out. Pure (no I/O, no
// clock, the input is never mutated) and idempotent (an injected pod comes back
// unchanged), so the webhook's JSONPatch and `trellis inject` are the same
// function, and a re-invoked webhook adds nothing.
//
// What is added:
//   - init container trellis-init, first: iptables capture (init-container.ts);
//   - container trellis-proxy: stock Envoy with the bootstrap of `trellis
//     bootstrap` inline (proxy-container.ts) — last in `containers` by
//     default, first with holdApplicationUntilProxyStarts, or second in
//     `initContainers` with restartPolicy Always as a native sidecar;
//   - volumes: the projected service-account token, an in-memory certificate
//     directory and the mesh root CA ConfigMap (optional until it exists);
//   - labels security.istio.io/tlsMode and service.istio.io/canonical-*, and
//     annotations kubectl.kubernetes.io/default-container and
//     sidecar.trellis.dev/status, each only where the pod has none.
import { DEFAULT_MESH_CONFIG, type MeshConfig } from "../../src/config/mesh-config.js";
import { ANNOTATION, type InjectionProblem, podSettings } from "./annotations.js";
import { conflicts } from "./conflicts.js";
import { initContainer } from "./init-container.js";
import {
  CA_CONFIGMAP,
  INIT_CONTAINER,
  LABEL,
  PROXY_CONTAINER,
  TOKEN_EXPIRATION_SECONDS,
  TOKEN_FILE,
  VOLUME,
} from "./names.js";
import { type Container, containersOf, type JsonObject, labelsOf, type Pod } from "./pod.js";
import { alreadyInjected } from "./policy.js";
import { proxyContainer } from "./proxy-container.js";
import { canonicalName, canonicalRevision, workloadName } from "./workload.js";

export interface InjectionConfig {
  mesh: MeshConfig;
  /** Never injected into; e.g. "trellis-system". */
  controlPlaneNamespace: string;
  /** host:port of Trellis xDS as pods see it, e.g. trellis.trellis-system.svc:15010. */
  xdsAddress: string;
  /** Image of the trellis-init container. */
  initImage: string;
  /** Audience of the projected service-account token the proxy presents to the control plane. */
  tokenAudience: string;
  /** Node metadata CLUSTER_ID, Istio's name for the cluster (default "Kubernetes"). */
  clusterId: string;
}

export const DEFAULT_CONTROL_PLANE_NAMESPACE = "trellis-system";
export const DEFAULT_TOKEN_AUDIENCE = "trellis";
export const DEFAULT_CLUSTER_ID = "Kubernetes";

/** Everything from MeshConfig (DEFAULT_MESH_CONFIG if not given), the rest Trellis's defaults. */
export function defaultInjectionConfig(mesh: MeshConfig = DEFAULT_MESH_CONFIG): InjectionConfig {
  return {
    mesh,
    controlPlaneNamespace: DEFAULT_CONTROL_PLANE_NAMESPACE,
    xdsAddress: mesh.defaultConfig.discoveryAddress,
    initImage: mesh.injection.initImage,
    tokenAudience: DEFAULT_TOKEN_AUDIENCE,
    clusterId: DEFAULT_CLUSTER_ID,
  };
}

/** injectPod was given a pod whose annotations or names make a working sidecar impossible; injectionDecision reports the same problems as data. */
export class InvalidInjectionError extends Error {
  constructor(
    readonly problems: InjectionProblem[],
    where: string,
  ) {
    super(`cannot inject ${where}: ${problems.map((p) => `${p.field}: ${p.message}`).join("; ")}`);
    this.name = "InvalidInjectionError";
  }
}

/** What injection recorded in the pod's status annotation. */
export interface InjectionStatus {
  containers: string[];
  initContainers: string[];
  volumes: string[];
}

/**
 * The pod with the sidecar. `namespace` is the namespace it is created in; the
 * proxy reads it at run time from the downward API (so `trellis inject` output
 * can be applied to any namespace), here it only names the pod in errors.
 * Throws InvalidInjectionError if an injection annotation is invalid or the
 * pod clashes with the sidecar (injectionDecision reports both as `errors`
 * first; the webhook calls that).
 */
export function injectPod(pod: Pod, namespace: string, cfg: InjectionConfig): Pod {
  return injectWorkloadPod(pod, namespace, cfg, workloadName(pod));
}

/** injectPod for a pod template, whose workload name cannot be derived from the pod (it has none yet). */
export function injectWorkloadPod(pod: Pod, namespace: string, cfg: InjectionConfig, workload: string): Pod {
  const out = structuredClone(pod);
  if (alreadyInjected(pod)) return out;
  const settings = podSettings(pod, cfg.mesh);
  const problems = [...(settings.ok ? [] : settings.problems), ...conflicts(pod)];
  if (!settings.ok || problems.length > 0) {
    const name = pod.metadata?.name ?? (pod.metadata?.generateName ? `${pod.metadata.generateName}*` : workload);
    throw new InvalidInjectionError(problems, `pod ${namespace ? `${namespace}/` : ""}${name}`);
  }
  const { native } = settings.value;
  const hold = settings.value.hold && !native;

  out.metadata ??= {};
  out.spec ??= {};
  const meta = out.metadata;
  const spec = out.spec;

  const before = labelsOf(pod);
  const added: Record<string, string> = {
    [LABEL.tlsMode]: "istio",
    [LABEL.canonicalName]: canonicalName(before, workload),
    [LABEL.canonicalRevision]: canonicalRevision(before),
  };
  meta.labels = { ...(meta.labels ?? {}) };
  for (const [k, v] of Object.entries(added)) if (before[k] === undefined) meta.labels[k] = v;

  const containers: unknown[] = Array.isArray(spec.containers) ? spec.containers : [];
  const initContainers: unknown[] = Array.isArray(spec.initContainers) ? spec.initContainers : [];
  const apps = containersOf(containers);
  const proxy = proxyContainer(
    {
      mesh: cfg.mesh,
      xdsAddress: cfg.xdsAddress,
      clusterId: cfg.clusterId,
      settings: settings.value,
      labels: labelsOf(out),
      serviceAccount: serviceAccountOf(pod),
      workloadName: workload,
      canonicalName: labelsOf(out)[LABEL.canonicalName] ?? workload,
      appContainers: apps,
    },
    native ? "native" : hold ? "held" : "sidecar",
  );
  const init = initContainer(cfg.initImage, settings.value.capture);

  spec.initContainers = [init, ...(native ? [proxy] : []), ...initContainers] as Container[];
  spec.containers = (hold ? [proxy, ...containers] : native ? containers : [...containers, proxy]) as Container[];
  spec.volumes = [...(Array.isArray(spec.volumes) ? spec.volumes : []), ...volumes(cfg)];

  const status: InjectionStatus = {
    containers: native ? [] : [PROXY_CONTAINER],
    initContainers: native ? [INIT_CONTAINER, PROXY_CONTAINER] : [INIT_CONTAINER],
    volumes: Object.values(VOLUME),
  };
  meta.annotations = { ...(meta.annotations ?? {}) };
  const firstApp = apps[0]?.name;
  if (meta.annotations[ANNOTATION.defaultContainer] === undefined && firstApp) {
    meta.annotations[ANNOTATION.defaultContainer] = firstApp;
  }
  meta.annotations[ANNOTATION.status] = JSON.stringify(status);
  return out;
}

function serviceAccountOf(pod: Pod): string {
  const spec = pod.spec ?? {};
  // The ServiceAccount admission plugin has set serviceAccountName by the time webhooks run;
  // a template read by `trellis inject` may leave it out, which means "default".
  if (typeof spec.serviceAccountName === "string" && spec.serviceAccountName) return spec.serviceAccountName;
  if (typeof spec.serviceAccount === "string" && spec.serviceAccount) return spec.serviceAccount;
  return "default";
}

function volumes(cfg: InjectionConfig): JsonObject[] {
  return [
    {
      name: VOLUME.token,
      projected: {
        sources: [
          {
            serviceAccountToken: {
              audience: cfg.tokenAudience,
              expirationSeconds: TOKEN_EXPIRATION_SECONDS,
              path: TOKEN_FILE,
            },
          },
        ],
      },
    },
    { name: VOLUME.certs, emptyDir: { medium: "Memory" } },
    { name: VOLUME.caRootCert, configMap: { name: CA_CONFIGMAP, optional: true } },
  ];
}
