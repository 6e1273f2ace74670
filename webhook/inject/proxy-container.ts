// The trellis-proxy container: stock Envoy, no agent. Its bootstrap is made by
// envoyBootstrap() — the generator behind `trellis bootstrap` — and handed to
// Envoy inline with `--config-yaml` (Envoy reads JSON there: YAML is a
// superset), so nothing has to write a file into the pod. What only exists once
// the pod does (its name, namespace and IPs) reaches the bootstrap through the
// kubelet: it expands `$(VAR)` in a container's args from the container's env,
// which the downward API fills. Every other `$` is written `$$` so the kubelet
// leaves it alone.
//
// The bootstrap dials the control plane over TLS (15012), verifies it against
// the mesh root from ConfigMap trellis-ca-root-cert (mounted at CA_DIR), and
// authenticates with the pod's projected token (TOKEN_DIR/TOKEN_FILE), which
// Envoy re-reads as the kubelet rotates it (docs/security.md).
import type { MeshConfig } from "../../src/config/mesh-config.js";
import { envoyBootstrap, READINESS_PATH } from "../../src/envoy/bootstrap.js";
import { type PodSettings, quantityValue } from "./annotations.js";
import {
  CA_DIR,
  CERTS_DIR,
  ENVOY_READINESS_PORT,
  ENVOY_STATS_PORT,
  PROXY_CONTAINER,
  PROXY_GID,
  PROXY_UID,
  TOKEN_DIR,
  TOKEN_FILE,
  VOLUME,
} from "./names.js";
import type { Container, JsonObject } from "./pod.js";

/** The downward-API variables the proxy's args refer to, and the pod field each comes from. */
export const POD_ENV = {
  POD_NAME: "metadata.name",
  POD_NAMESPACE: "metadata.namespace",
  POD_IP: "status.podIP",
  INSTANCE_IPS: "status.podIPs",
} as const;
type PodVar = keyof typeof POD_ENV;

/** Where Envoy lives in both envoyproxy/envoy images (Ubuntu-based and distroless). */
export const ENVOY_BINARY = "/usr/local/bin/envoy";

/** What the proxy container needs to know about the pod. */
export interface ProxyInput {
  mesh: MeshConfig;
  xdsAddress: string;
  clusterId: string;
  settings: PodSettings;
  /** The pod's labels at admission, including the ones injection adds. */
  labels: Record<string, string>;
  serviceAccount: string;
  workloadName: string;
  /** `--service-cluster` is `<canonicalName>.<namespace>`. */
  canonicalName: string;
  /** The application containers (before injection), for APP_CONTAINERS and POD_PORTS. */
  appContainers: Container[];
}

export function proxyContainer(input: ProxyInput, role: "sidecar" | "native" | "held"): Container {
  const { mesh, settings } = input;
  const readiness = () => ({ httpGet: { path: READINESS_PATH, port: ENVOY_READINESS_PORT } });
  const container: Container = {
    name: PROXY_CONTAINER,
    image: mesh.defaultConfig.proxy.image,
    // Set explicitly, so the image's entrypoint script does not matter (the distroless image has none).
    command: [ENVOY_BINARY],
    args: proxyArgs(input),
    env: Object.entries(POD_ENV).map(([name, fieldPath]) => ({ name, valueFrom: { fieldRef: { fieldPath } } })),
    ports: [{ containerPort: ENVOY_STATS_PORT, name: "http-envoy-prom", protocol: "TCP" }],
    // Istio's probes: readiness every 15 s; startup every second for up to 10 minutes
    // (Envoy is LIVE once it has its first listeners and clusters from the control plane).
    readinessProbe: { ...readiness(), periodSeconds: 15, timeoutSeconds: 3, failureThreshold: 4 },
    startupProbe: { ...readiness(), periodSeconds: 1, timeoutSeconds: 3, failureThreshold: 600 },
    resources: settings.resources,
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsGroup: PROXY_GID,
      runAsNonRoot: true,
      runAsUser: PROXY_UID,
    },
    volumeMounts: [
      { name: VOLUME.token, mountPath: TOKEN_DIR, readOnly: true },
      { name: VOLUME.certs, mountPath: CERTS_DIR },
      { name: VOLUME.caRootCert, mountPath: CA_DIR, readOnly: true },
    ],
  };
  if (role === "native") {
    // A native sidecar: Kubernetes starts the app containers only once its startupProbe passes,
    // and stops it after them.
    container.restartPolicy = "Always";
  }
  if (role === "held") {
    // The kubelet starts containers in order and runs the next one only after this hook returns.
    container.lifecycle = { postStart: { exec: { command: ["/bin/bash", "-c", holdScript(ENVOY_READINESS_PORT)] } } };
  }
  return container;
}

/** Envoy's command line. */
export function proxyArgs(input: ProxyInput): string[] {
  const { mesh, settings } = input;
  const nodeId = `sidecar~${ref("POD_IP")}~${ref("POD_NAME")}.${ref("POD_NAMESPACE")}~${ref("POD_NAMESPACE")}.svc.${mesh.clusterDomain}`;
  const cluster = `${input.canonicalName}.${ref("POD_NAMESPACE")}`;
  const bootstrap = envoyBootstrap({
    nodeId,
    cluster,
    xdsAddress: input.xdsAddress,
    tls: { caDir: CA_DIR, tokenPath: `${TOKEN_DIR}/${TOKEN_FILE}` },
    metadata: {
      NAME: ref("POD_NAME"),
      NAMESPACE: ref("POD_NAMESPACE"),
      INSTANCE_IPS: ref("INSTANCE_IPS"),
      LABELS: input.labels,
      SERVICE_ACCOUNT: input.serviceAccount,
      WORKLOAD_NAME: input.workloadName,
      APP_CONTAINERS: input.appContainers.map((c) => c.name ?? "").join(","),
      POD_PORTS: podPorts(input.appContainers),
      CLUSTER_ID: input.clusterId,
      INTERCEPTION_MODE: "REDIRECT",
    },
  });
  return [
    "--config-yaml",
    kubeArg(JSON.stringify(bootstrap)),
    // The same values as the bootstrap's node.id and node.cluster; on the command line they
    // win over the bootstrap, and `ps` shows which proxy this is.
    "--service-node",
    kubeArg(nodeId),
    "--service-cluster",
    kubeArg(cluster),
    // Istio's Envoy flags (pkg/envoy/proxy.go): drain 45 s on listener changes, no hot restart
    // (one Envoy per container, which also needs no shared memory).
    "--drain-time-s",
    "45",
    "--drain-strategy",
    "immediate",
    "--disable-hot-restart",
    "--local-address-ip-version",
    "v4",
    "--concurrency",
    String(concurrency(settings)),
    "--log-level",
    settings.logLevel,
  ];
}

/** Worker threads: the CPU limit rounded up (Envoy would otherwise start one per node core), else 2 as Istio. */
function concurrency(settings: PodSettings): number {
  const limit = settings.resources.limits?.cpu;
  const cores = limit === undefined ? Number.NaN : quantityValue(limit);
  return Number.isFinite(cores) && cores > 0 ? Math.max(1, Math.ceil(cores)) : 2;
}

function podPorts(containers: Container[]): JsonObject[] {
  const out: JsonObject[] = [];
  for (const c of containers) {
    for (const p of Array.isArray(c.ports) ? c.ports : []) {
      if (typeof p?.containerPort !== "number") continue;
      out.push({
        ...(typeof p.name === "string" ? { name: p.name } : {}),
        containerPort: p.containerPort,
        protocol: typeof p.protocol === "string" ? p.protocol : "TCP",
      });
    }
  }
  return out;
}

// A placeholder no JSON text can contain by accident: JSON.stringify writes NUL as \u0000.
const MARK = "\u0000";
const ref = (name: PodVar) => `${MARK}${name}${MARK}`;
const PLACEHOLDER = new RegExp(
  String.raw`(?:\u0000|\\u0000)(${Object.keys(POD_ENV).join("|")})(?:\u0000|\\u0000)`,
  "g",
);

/**
 * Text as a container arg: every `$` doubled (the kubelet turns `$$` back into
 * `$`), then the placeholders made into `$(VAR)` references. The placeholder
 * is matched both raw and as JSON.stringify escapes it.
 */
export function kubeArg(text: string): string {
  return text.replaceAll("$", "$$$$").replace(PLACEHOLDER, (_, name: string) => `$(${name})`);
}

/**
 * The postStart hook of holdApplicationUntilProxyStarts: poll Envoy's
 * readiness listener until it answers 200, every 0.5 s for up to 60 s (Istio's
 * `pilot-agent wait` does the same). Stock Envoy has no agent to run, so it is
 * bash with its /dev/tcp redirection: the Ubuntu-based envoyproxy/envoy image
 * has bash and coreutils but no curl or wget; the distroless image has no
 * shell at all (use native sidecars there). HTTP/1.1, because Envoy refuses
 * HTTP/1.0 by default.
 */
export function holdScript(port: number, attempts = 120): string {
  return [
    `for attempt in {1..${attempts}}; do`,
    `  if (exec 3<>/dev/tcp/127.0.0.1/${port} && printf 'GET ${READINESS_PATH} HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nConnection: close\\r\\n\\r\\n' >&3 && read -r -t 2 status <&3 && [[ "$status" == "HTTP/1.1 200"* ]]) 2>/dev/null; then exit 0; fi`,
    "  sleep 0.5",
    "done",
    `echo "${PROXY_CONTAINER}: Envoy not ready on :${port}${READINESS_PATH} after ${attempts / 2}s" >&2`,
    "exit 1",
  ].join("\n");
}
