// Behaviour of injectPod that golden files cannot show: the bootstrap in
// Envoy's args is a valid Envoy Bootstrap once the kubelet has expanded it,
// and Trellis reads the right proxy out of it; trellis-init's own parser
// accepts the init container's args; the webhook's patch, applied, gives
// injectPod's pod; injecting twice is injecting once; the hold hook works
// against a real HTTP server with a real bash.
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { proxyTargetOf } from "../../src/cli/views.js";
import { DEFAULT_MESH_CONFIG, parseMeshConfig } from "../../src/config/mesh-config.js";
import { validateEnvoyMessage } from "../../src/envoy/pgv.js";
import { checkProtoJson, toProtoJson } from "../../src/envoy/proto-json.js";
import { messageType } from "../../src/envoy/protos.js";
import { parseInitArgs } from "../init/args.js";
import { admissionPatch, applyPatch, type Container, injectionDecision, type Pod } from "./index.js";
import { holdScript, POD_ENV } from "./proxy-container.js";
import { defaultInjectionConfig, type InjectionConfig, InvalidInjectionError, injectPod } from "./template.js";

const BOOTSTRAP = "envoy.config.bootstrap.v3.Bootstrap";
const cfg = defaultInjectionConfig();

/** A Deployment's pod as the API server shows it to the webhook: no name yet, owned by its ReplicaSet. */
function reviewsPod(annotations: Record<string, string> = {}): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: "reviews-v1-7d5c9b8f6-",
      namespace: "bookinfo",
      labels: { app: "reviews", version: "v1", "pod-template-hash": "7d5c9b8f6" },
      annotations,
      ownerReferences: [
        { apiVersion: "apps/v1", kind: "ReplicaSet", name: "reviews-v1-7d5c9b8f6", controller: true, uid: "u1" },
      ],
    },
    spec: {
      serviceAccountName: "bookinfo-reviews",
      containers: [
        { name: "reviews", image: "reviews:1", ports: [{ name: "http", containerPort: 9080, protocol: "TCP" }] },
        { name: "log-shipper", image: "shipper:1" },
      ],
      initContainers: [{ name: "migrate", image: "migrate:1" }],
      volumes: [{ name: "data", emptyDir: {} }],
    },
  };
}

const byName = (list: Container[] | undefined, name: string): Container => {
  const found = list?.find((c) => c.name === name);
  if (!found) throw new Error(`no container ${name}`);
  return found;
};
const proxyOf = (p: Pod) =>
  p.spec?.containers?.find((c) => c.name === "trellis-proxy") ?? byName(p.spec?.initContainers, "trellis-proxy");
const argsOf = (c: Container) => c.args as string[];
const argAfter = (args: string[], flag: string): string => {
  const i = args.indexOf(flag);
  if (i < 0 || i + 1 >= args.length) throw new Error(`no ${flag}`);
  return args[i + 1] as string;
};

/** The kubelet's `$(VAR)` expansion of container args (k8s.io/kubernetes third_party/forked/golang/expansion). */
function kubeletExpand(text: string, env: Record<string, string>): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    if (text[i] === "$" && text[i + 1] === "$") {
      out += "$";
      i++;
    } else if (text[i] === "$" && text[i + 1] === "(") {
      const close = text.indexOf(")", i + 2);
      const name = close < 0 ? undefined : text.slice(i + 2, close);
      if (name !== undefined && env[name] !== undefined) {
        out += env[name];
        i = close;
      } else out += "$";
    } else out += text[i];
  }
  return out;
}

const RUNTIME = {
  POD_NAME: "reviews-v1-7d5c9b8f6-x2x9z",
  POD_NAMESPACE: "bookinfo",
  POD_IP: "10.244.1.17",
  INSTANCE_IPS: "10.244.1.17,fd00::17",
};

/** The bootstrap Envoy parses: the --config-yaml arg after the kubelet expanded it. */
function runtimeBootstrap(p: Pod): Record<string, unknown> {
  const proxy = proxyOf(p);
  // Every variable the args refer to must be in the container's env, or the kubelet leaves it as written.
  expect((proxy.env as { name: string }[]).map((e) => e.name)).toEqual(Object.keys(POD_ENV));
  return JSON.parse(kubeletExpand(argAfter(argsOf(proxy), "--config-yaml"), RUNTIME));
}

describe("injectPod: the proxy's bootstrap", () => {
  it("decodes with Envoy's Bootstrap proto and breaks none of its validation rules", () => {
    const bootstrap = runtimeBootstrap(injectPod(reviewsPod(), "bookinfo", cfg));
    const checked = checkProtoJson(BOOTSTRAP, bootstrap);
    expect(checked.ok ? [] : checked.errors).toEqual([]);
    if (!checked.ok) return;
    const bytes = messageType(BOOTSTRAP).encode(checked.message).finish();
    expect(validateEnvoyMessage(BOOTSTRAP, bytes)).toEqual([]);
    expect(toProtoJson(BOOTSTRAP, bytes)).toEqual(bootstrap);
  });

  it("names the pod once it runs, and carries what Trellis needs to pick its configuration", () => {
    const injected = injectPod(reviewsPod(), "bookinfo", cfg);
    const bootstrap = runtimeBootstrap(injected);
    const node = bootstrap.node as { id: string; cluster: string; metadata: Record<string, unknown> };
    expect(node.id).toBe("sidecar~10.244.1.17~reviews-v1-7d5c9b8f6-x2x9z.bookinfo~bookinfo.svc.cluster.local");
    expect(node.cluster).toBe("reviews.bookinfo");
    expect(node.metadata).toEqual({
      NAME: "reviews-v1-7d5c9b8f6-x2x9z",
      NAMESPACE: "bookinfo",
      INSTANCE_IPS: "10.244.1.17,fd00::17",
      LABELS: {
        app: "reviews",
        version: "v1",
        "pod-template-hash": "7d5c9b8f6",
        "security.istio.io/tlsMode": "istio",
        "service.istio.io/canonical-name": "reviews",
        "service.istio.io/canonical-revision": "v1",
      },
      SERVICE_ACCOUNT: "bookinfo-reviews",
      WORKLOAD_NAME: "reviews-v1",
      APP_CONTAINERS: "reviews,log-shipper",
      POD_PORTS: [{ name: "http", containerPort: 9080, protocol: "TCP" }],
      CLUSTER_ID: "Kubernetes",
      INTERCEPTION_MODE: "REDIRECT",
    });
    // The command line says the same, and wins over the bootstrap in Envoy.
    const args = argsOf(proxyOf(injected));
    expect(kubeletExpand(argAfter(args, "--service-node"), RUNTIME)).toBe(node.id);
    expect(kubeletExpand(argAfter(args, "--service-cluster"), RUNTIME)).toBe(node.cluster);
    // And the control plane maps that node to the pod's namespace and labels.
    const target = proxyTargetOf({
      id: node.id,
      cluster: node.cluster,
      metadata: node.metadata,
      locality: {},
      userAgentName: "envoy",
      userAgentVersion: "1.36.0",
      clientFeatures: [],
    });
    expect(target).toMatchObject({
      class: "sidecar",
      namespace: "bookinfo",
      labels: { app: "reviews", version: "v1" },
    });
  });

  it("dials the configured xDS address", () => {
    const bootstrap = runtimeBootstrap(injectPod(reviewsPod(), "bookinfo", { ...cfg, xdsAddress: "10.96.0.20:15012" }));
    const clusters = (bootstrap.static_resources as { clusters: Record<string, unknown>[] }).clusters;
    expect(JSON.stringify(clusters[0])).toContain('"address":"10.96.0.20","port_value":15012');
  });

  it("keeps a literal $ in pod data from being expanded by the kubelet", () => {
    const p = reviewsPod();
    (p.spec?.containers?.[0] as Container).name = "a$(POD_IP)b";
    const bootstrap = runtimeBootstrap(injectPod(p, "bookinfo", cfg));
    expect((bootstrap.node as { metadata: Record<string, unknown> }).metadata.APP_CONTAINERS).toBe(
      "a$(POD_IP)b,log-shipper",
    );
  });

  it("uses as many Envoy workers as the CPU limit allows (2 without a limit)", () => {
    const concurrency = (annotations: Record<string, string>, mesh = DEFAULT_MESH_CONFIG) =>
      argAfter(argsOf(proxyOf(injectPod(reviewsPod(annotations), "", { ...cfg, mesh }))), "--concurrency");
    expect(concurrency({})).toBe("2");
    expect(concurrency({ "sidecar.istio.io/proxyCPULimit": "500m" })).toBe("1");
    expect(concurrency({ "sidecar.istio.io/proxyCPULimit": "3.5" })).toBe("4");
    expect(concurrency({ "sidecar.istio.io/proxyCPU": "200m" })).toBe("2");
  });
});

describe("injectPod: trellis-init", () => {
  const initConfig = (annotations: Record<string, string>) => {
    const init = byName(injectPod(reviewsPod(annotations), "bookinfo", cfg).spec?.initContainers, "trellis-init");
    const parsed = parseInitArgs(argsOf(init), {});
    if (!parsed.ok) throw new Error(parsed.errors.join("; "));
    return parsed.value;
  };

  it("gets args that trellis-init's own parser accepts, with Istio's defaults", () => {
    expect(initConfig({})).toMatchObject({
      proxyUid: 1337,
      proxyGid: 1337,
      inboundCapturePort: 15006,
      outboundCapturePort: 15001,
      inboundPorts: "*",
      excludeInboundPorts: [15090, 15021, 15020],
      outboundIpRanges: "*",
      excludeOutboundIpRanges: [],
      excludeOutboundPorts: [],
      dryRun: false,
    });
  });

  it("follows the traffic annotations with Istio's semantics", () => {
    expect(
      initConfig({
        "traffic.sidecar.istio.io/includeInboundPorts": "9080, 9090",
        "traffic.sidecar.istio.io/excludeInboundPorts": "8081,15021",
        "traffic.sidecar.istio.io/includeOutboundIPRanges": "10.0.0.0/8,fd00::/8",
        "traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.96.0.1/32,169.254.169.254",
        "traffic.sidecar.istio.io/excludeOutboundPorts": "5432,6379",
      }),
    ).toMatchObject({
      inboundPorts: [9080, 9090],
      excludeInboundPorts: [8081, 15021, 15090, 15020],
      outboundIpRanges: [
        { family: 4, text: "10.0.0.0/8" },
        { family: 6, text: "fd00::/8" },
      ],
      excludeOutboundIpRanges: [
        { family: 4, text: "10.96.0.1/32" },
        { family: 4, text: "169.254.169.254/32" },
      ],
      excludeOutboundPorts: [5432, 6379],
    });
    // An empty include list switches that direction's capture off.
    expect(
      initConfig({
        "traffic.sidecar.istio.io/includeInboundPorts": "",
        "traffic.sidecar.istio.io/includeOutboundIPRanges": "",
      }),
    ).toMatchObject({ inboundPorts: [], outboundIpRanges: [] });
  });

  it("runs as root with NET_ADMIN and NET_RAW only", () => {
    const init = byName(injectPod(reviewsPod(), "bookinfo", cfg).spec?.initContainers, "trellis-init");
    expect(init.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsGroup: 0,
      runAsNonRoot: false,
      runAsUser: 0,
    });
    expect(init.image).toBe(DEFAULT_MESH_CONFIG.injection.initImage);
  });
});

describe("injectPod: the pod", () => {
  it("is what the webhook's JSONPatch makes of the pod it received", () => {
    const variants: Record<string, string>[] = [
      {},
      { "sidecar.istio.io/nativeSidecar": "true" },
      { "proxy.istio.io/config": "holdApplicationUntilProxyStarts: true" },
    ];
    for (const annotations of variants) {
      const pod = reviewsPod(annotations);
      const { decision, patch } = admissionPatch(
        pod,
        { name: "bookinfo", labels: { "istio-injection": "enabled" } },
        cfg,
      );
      expect(decision.inject).toBe(true);
      expect(patch.every((op) => op.op === "add")).toBe(true);
      expect(applyPatch(pod, patch)).toEqual(injectPod(pod, "bookinfo", cfg));
    }
  });

  it("is injected once: injecting or admitting an injected pod changes nothing", () => {
    const once = injectPod(reviewsPod(), "bookinfo", cfg);
    expect(injectPod(once, "bookinfo", cfg)).toEqual(once);
    const again = admissionPatch(once, { name: "bookinfo", labels: { "istio-injection": "enabled" } }, cfg);
    expect(again).toEqual({
      decision: { inject: false, reason: "already injected (annotation sidecar.trellis.dev/status present)" },
      patch: [],
    });
  });

  it("never changes its input", () => {
    const pod = reviewsPod({ "sidecar.istio.io/nativeSidecar": "true" });
    const before = structuredClone(pod);
    injectPod(pod, "bookinfo", cfg);
    admissionPatch(pod, { name: "bookinfo", labels: { "istio-injection": "enabled" } }, cfg);
    expect(pod).toEqual(before);
  });

  it("keeps the pod's own containers, volumes, labels and annotations, adding ours after them", () => {
    const pod = reviewsPod({ "kubectl.kubernetes.io/default-container": "log-shipper" });
    (pod.metadata?.labels as Record<string, string>)["security.istio.io/tlsMode"] = "disabled";
    const out = injectPod(pod, "bookinfo", cfg);
    expect(out.spec?.containers?.map((c) => c.name)).toEqual(["reviews", "log-shipper", "trellis-proxy"]);
    expect(out.spec?.initContainers?.map((c) => c.name)).toEqual(["trellis-init", "migrate"]);
    expect(out.spec?.volumes?.map((v) => v.name)).toEqual([
      "data",
      "trellis-token",
      "trellis-certs",
      "trellis-ca-root-cert",
    ]);
    expect(out.metadata?.labels?.["security.istio.io/tlsMode"]).toBe("disabled");
    expect(out.metadata?.annotations?.["kubectl.kubernetes.io/default-container"]).toBe("log-shipper");
    expect(JSON.parse(out.metadata?.annotations?.["sidecar.trellis.dev/status"] ?? "")).toEqual({
      containers: ["trellis-proxy"],
      initContainers: ["trellis-init"],
      volumes: ["trellis-token", "trellis-certs", "trellis-ca-root-cert"],
    });
    expect(
      injectPod(reviewsPod(), "bookinfo", cfg).metadata?.annotations?.["kubectl.kubernetes.io/default-container"],
    ).toBe("reviews");
  });

  it("mounts the projected token with the control plane's audience, certificates in memory and the optional root CA", () => {
    const out = injectPod(reviewsPod(), "bookinfo", { ...cfg, tokenAudience: "trellis-xds" });
    expect(out.spec?.volumes?.slice(1)).toEqual([
      {
        name: "trellis-token",
        projected: {
          sources: [{ serviceAccountToken: { audience: "trellis-xds", expirationSeconds: 3600, path: "xds-token" } }],
        },
      },
      { name: "trellis-certs", emptyDir: { medium: "Memory" } },
      { name: "trellis-ca-root-cert", configMap: { name: "trellis-ca-root-cert", optional: true } },
    ]);
    expect(proxyOf(out).volumeMounts).toEqual([
      { name: "trellis-token", mountPath: "/var/run/secrets/trellis/tokens", readOnly: true },
      { name: "trellis-certs", mountPath: "/etc/trellis/certs" },
      { name: "trellis-ca-root-cert", mountPath: "/var/run/secrets/trellis/ca", readOnly: true },
    ]);
  });

  it("runs Envoy as 1337, non-root, read-only, with no capabilities, probed on 15021", () => {
    const proxy = proxyOf(injectPod(reviewsPod(), "bookinfo", cfg));
    expect(proxy.image).toBe(DEFAULT_MESH_CONFIG.defaultConfig.proxy.image);
    expect(proxy.command).toEqual(["/usr/local/bin/envoy"]);
    expect(proxy.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsGroup: 1337,
      runAsNonRoot: true,
      runAsUser: 1337,
    });
    expect(proxy.ports).toEqual([{ containerPort: 15090, name: "http-envoy-prom", protocol: "TCP" }]);
    expect(proxy.readinessProbe).toMatchObject({ httpGet: { path: "/healthz/ready", port: 15021 } });
    expect(proxy.startupProbe).toMatchObject({ httpGet: { path: "/healthz/ready", port: 15021 }, periodSeconds: 1 });
    const args = argsOf(proxy);
    for (const flag of ["--disable-hot-restart", "--drain-strategy", "--drain-time-s", "--local-address-ip-version"]) {
      expect(args).toContain(flag);
    }
  });

  it("takes the proxy's resources from MeshConfig, or from the annotations alone when any is set", () => {
    expect(proxyOf(injectPod(reviewsPod(), "", cfg)).resources).toEqual({
      requests: { cpu: "100m", memory: "128Mi" },
      limits: { cpu: "2000m", memory: "1024Mi" },
    });
    const mesh = parseMeshConfig({ defaultConfig: { proxy: { resources: { requests: { cpu: 0.5 } } } } });
    if (!mesh.ok) throw new Error("mesh");
    expect(proxyOf(injectPod(reviewsPod(), "", { ...cfg, mesh: mesh.value })).resources).toEqual({
      requests: { cpu: "0.5" },
    });
    const annotated = reviewsPod({
      "sidecar.istio.io/proxyMemory": "64Mi",
      "sidecar.istio.io/proxyMemoryLimit": "1Gi",
    });
    expect(proxyOf(injectPod(annotated, "", cfg)).resources).toEqual({
      requests: { memory: "64Mi" },
      limits: { memory: "1Gi" },
    });
  });

  it("refuses requests above limits and malformed quantities", () => {
    const pod = reviewsPod({ "sidecar.istio.io/proxyCPU": "3", "sidecar.istio.io/proxyCPULimit": "2000m" });
    expect(() => injectPod(pod, "bookinfo", cfg)).toThrow(InvalidInjectionError);
    expect(() => injectPod(pod, "bookinfo", cfg)).toThrow(
      'cannot inject pod bookinfo/reviews-v1-7d5c9b8f6-*: metadata.annotations["sidecar.istio.io/proxyCPU"]: 3 is more than the CPU limit 2000m (sidecar.istio.io/proxyCPULimit)',
    );
    const bad = reviewsPod({ "sidecar.istio.io/proxyMemoryLimit": "-1Gi" });
    expect(injectionDecision(bad, undefined, cfg, "manual").errors?.[0]?.message).toMatch(/not a Kubernetes quantity/);
  });
});

describe("injectPod: start-up ordering", () => {
  const native: InjectionConfig = {
    ...cfg,
    mesh: { ...cfg.mesh, injection: { ...cfg.mesh.injection, nativeSidecars: true } },
  };
  const hold: InjectionConfig = {
    ...cfg,
    mesh: { ...cfg.mesh, defaultConfig: { ...cfg.mesh.defaultConfig, holdApplicationUntilProxyStarts: true } },
  };

  it("makes the proxy a native sidecar, right after trellis-init, when MeshConfig or the pod asks", () => {
    for (const [config, annotations] of [
      [native, {}],
      [cfg, { "sidecar.istio.io/nativeSidecar": "true" }],
    ] as const) {
      const out = injectPod(reviewsPod(annotations), "bookinfo", config);
      expect(out.spec?.initContainers?.map((c) => c.name)).toEqual(["trellis-init", "trellis-proxy", "migrate"]);
      expect(out.spec?.containers?.map((c) => c.name)).toEqual(["reviews", "log-shipper"]);
      const proxy = proxyOf(out);
      expect(proxy.restartPolicy).toBe("Always");
      expect(proxy.startupProbe).toMatchObject({ httpGet: { port: 15021, path: "/healthz/ready" } });
      expect(proxy.lifecycle).toBeUndefined();
      expect(JSON.parse(out.metadata?.annotations?.["sidecar.trellis.dev/status"] ?? "")).toMatchObject({
        containers: [],
        initContainers: ["trellis-init", "trellis-proxy"],
      });
    }
    const optedOut = injectPod(reviewsPod({ "sidecar.istio.io/nativeSidecar": "false" }), "bookinfo", native);
    expect(optedOut.spec?.containers?.map((c) => c.name)).toContain("trellis-proxy");
  });

  it("puts a held proxy first, with a postStart hook, when MeshConfig or proxy.istio.io/config asks", () => {
    for (const [config, annotations] of [
      [hold, {}],
      [cfg, { "proxy.istio.io/config": '{"holdApplicationUntilProxyStarts": true}' }],
    ] as const) {
      const out = injectPod(reviewsPod(annotations), "bookinfo", config);
      expect(out.spec?.containers?.map((c) => c.name)).toEqual(["trellis-proxy", "reviews", "log-shipper"]);
      expect(proxyOf(out).lifecycle).toEqual({
        postStart: { exec: { command: ["/bin/bash", "-c", holdScript(15021)] } },
      });
    }
    // The pod can turn it off again; and native sidecars need no hook.
    const off = injectPod(reviewsPod({ "proxy.istio.io/config": "holdApplicationUntilProxyStarts: false" }), "", hold);
    expect(off.spec?.containers?.map((c) => c.name)).toEqual(["reviews", "log-shipper", "trellis-proxy"]);
    const both = injectPod(reviewsPod({ "sidecar.istio.io/nativeSidecar": "true" }), "", hold);
    expect(proxyOf(both).lifecycle).toBeUndefined();
  });

  it("refuses an unreadable proxy.istio.io/config or nativeSidecar value", () => {
    const d = injectionDecision(
      reviewsPod({
        "proxy.istio.io/config": "holdApplicationUntilProxyStarts: yes please",
        "sidecar.istio.io/nativeSidecar": "on",
      }),
      undefined,
      cfg,
      "manual",
    );
    expect(d.errors?.map((e) => e.message)).toEqual([
      '"on" is not "true" or "false"',
      'holdApplicationUntilProxyStarts must be true or false, got "yes please"',
    ]);
  });
});

describe("the hold hook, run by bash", () => {
  const runHook = (port: number, attempts: number) =>
    new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile("/bin/bash", ["-c", holdScript(port, attempts)], (err, _stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr });
      });
    });

  it("returns once Envoy's readiness listener answers 200, not before", async () => {
    let requests = 0;
    const seen: string[] = [];
    const server = createServer((req, res) => {
      requests++;
      seen.push(`${req.method} ${req.url} HTTP/${req.httpVersion}`);
      res.statusCode = requests < 3 ? 503 : 200;
      res.end(requests < 3 ? "PRE_INITIALIZING" : "LIVE");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    try {
      const result = await runHook(port, 20);
      expect(result).toEqual({ code: 0, stderr: "" });
      expect(requests).toBe(3);
      expect(seen[0]).toBe("GET /healthz/ready HTTP/1.1");
    } finally {
      server.close();
    }
  });

  it("fails, saying why, when Envoy never gets ready", async () => {
    const server = createServer((_req, res) => {
      res.statusCode = 503;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    server.close(); // nothing listens any more: connection refused on every attempt
    const result = await runHook(port, 2);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`trellis-proxy: Envoy not ready on :${port}/healthz/ready after 1s\n`);
  });
});
