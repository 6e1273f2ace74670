import { describe, expect, it } from "vitest";
import { JOB_WARNING } from "./annotations.js";
import type { Pod } from "./pod.js";
import { injectionDecision, type NamespaceInfo } from "./policy.js";
import { defaultInjectionConfig } from "./template.js";

const cfg = defaultInjectionConfig();

function pod(opts: { labels?: Record<string, string>; annotations?: Record<string, string>; spec?: object } = {}): Pod {
  return {
    metadata: { name: "web", labels: opts.labels ?? {}, annotations: opts.annotations ?? {} },
    spec: { containers: [{ name: "web", image: "web:1" }], ...opts.spec },
  };
}

const ns = (labels: Record<string, string> = {}, name = "shop"): NamespaceInfo => ({ name, labels });
const enabled = ns({ "istio-injection": "enabled" });
const disabled = ns({ "istio-injection": "disabled" });

describe("injectionDecision (webhook)", () => {
  const cases: [string, Pod, NamespaceInfo | undefined, boolean, string][] = [
    ["namespace enabled", pod(), enabled, true, "namespace label istio-injection=enabled"],
    ["unlabelled namespace", pod(), ns(), false, "neither namespace label istio-injection=enabled"],
    ["unknown namespace", pod(), undefined, false, "neither namespace label"],
    [
      "pod label true",
      pod({ labels: { "sidecar.istio.io/inject": "true" } }),
      ns(),
      true,
      "pod label sidecar.istio.io/inject=true",
    ],
    ["pod annotation true", pod({ annotations: { "sidecar.istio.io/inject": "true" } }), ns(), true, "pod annotation"],
    [
      "pod label false in enabled namespace",
      pod({ labels: { "sidecar.istio.io/inject": "false" } }),
      enabled,
      false,
      "pod label sidecar.istio.io/inject=false",
    ],
    [
      "pod annotation false in enabled namespace",
      pod({ annotations: { "sidecar.istio.io/inject": "false" } }),
      enabled,
      false,
      "pod annotation sidecar.istio.io/inject=false",
    ],
    ["YAML booleans: yes/on/Y", pod({ labels: { "sidecar.istio.io/inject": "On" } }), ns(), true, "=On"],
    ["anything else opts out", pod({ labels: { "sidecar.istio.io/inject": "maybe" } }), enabled, false, "=maybe"],
    [
      "label wins over annotation",
      pod({ labels: { "sidecar.istio.io/inject": "false" }, annotations: { "sidecar.istio.io/inject": "true" } }),
      ns(),
      false,
      "pod label",
    ],
    [
      "an empty label defers to the namespace, not to the annotation",
      pod({ labels: { "sidecar.istio.io/inject": "" }, annotations: { "sidecar.istio.io/inject": "false" } }),
      enabled,
      true,
      "namespace label",
    ],
    [
      "namespace disabled beats pod true",
      pod({ labels: { "sidecar.istio.io/inject": "true" } }),
      disabled,
      false,
      "namespace label istio-injection=disabled",
    ],
    [
      "any other namespace value blocks too",
      pod({ labels: { "sidecar.istio.io/inject": "true" } }),
      ns({ "istio-injection": "true" }),
      false,
      "istio-injection=true",
    ],
    [
      "kube-system",
      pod({ labels: { "sidecar.istio.io/inject": "true" } }),
      ns({ "istio-injection": "enabled" }, "kube-system"),
      false,
      "namespace kube-system is never injected",
    ],
    ["kube-public", pod(), ns({ "istio-injection": "enabled" }, "kube-public"), false, "never injected"],
    [
      "control plane namespace",
      pod({ labels: { "sidecar.istio.io/inject": "true" } }),
      ns({}, "trellis-system"),
      false,
      "namespace trellis-system is the control plane's",
    ],
    [
      "host network",
      pod({ labels: { "sidecar.istio.io/inject": "true" }, spec: { hostNetwork: true } }),
      enabled,
      false,
      "host-network pod",
    ],
    [
      "already injected (status)",
      pod({ annotations: { "sidecar.trellis.dev/status": "{}" } }),
      enabled,
      false,
      "already injected (annotation sidecar.trellis.dev/status present)",
    ],
    [
      "already injected (container)",
      pod({ spec: { containers: [{ name: "web" }, { name: "trellis-proxy" }] } }),
      enabled,
      false,
      "containers has trellis-proxy",
    ],
    [
      "already injected (native)",
      pod({ spec: { initContainers: [{ name: "trellis-init" }, { name: "trellis-proxy" }] } }),
      enabled,
      false,
      "initContainers has trellis-proxy",
    ],
  ];
  for (const [name, p, namespace, inject, reason] of cases) {
    it(`${name}: ${inject ? "injects" : "does not inject"}`, () => {
      const d = injectionDecision(p, namespace, cfg, "webhook");
      expect(d.inject).toBe(inject);
      expect(d.reason).toContain(reason);
      expect(d.errors).toBeUndefined();
    });
  }

  it("takes the namespace name from the pod when the Namespace is unknown", () => {
    const p = pod({ labels: { "sidecar.istio.io/inject": "true" } });
    p.metadata = { ...p.metadata, namespace: "kube-system" };
    expect(injectionDecision(p, undefined, cfg, "webhook").reason).toContain("kube-system");
  });

  it("honours a different control-plane namespace", () => {
    const d = injectionDecision(
      pod(),
      ns({ "istio-injection": "enabled" }, "mesh"),
      { ...cfg, controlPlaneNamespace: "mesh" },
      "webhook",
    );
    expect(d).toEqual({ inject: false, reason: "namespace mesh is the control plane's" });
  });

  it("refuses, with every problem, a selected pod whose annotations cannot be used", () => {
    const p = pod({
      annotations: {
        "traffic.sidecar.istio.io/includeInboundPorts": "80,http",
        "traffic.sidecar.istio.io/excludeOutboundIPRanges": "10.0.0.0/33",
        "sidecar.istio.io/proxyCPU": "lots",
      },
    });
    const d = injectionDecision(p, enabled, cfg, "webhook");
    expect(d.inject).toBe(false);
    expect(d.errors).toEqual([
      {
        field: 'metadata.annotations["traffic.sidecar.istio.io/includeInboundPorts"]',
        message: '"http" is not a port (1-65535)',
      },
      {
        field: 'metadata.annotations["traffic.sidecar.istio.io/excludeOutboundIPRanges"]',
        message: '"10.0.0.0/33" has a prefix length that is not 0-32',
      },
      {
        field: 'metadata.annotations["sidecar.istio.io/proxyCPU"]',
        message: '"lots" is not a Kubernetes quantity such as "100m" or "128Mi"',
      },
    ]);
    expect(d.reason).toMatch(/^namespace label istio-injection=enabled, but the sidecar cannot be added: /);
    // A pod that is not selected is not refused for its annotations: it is left alone.
    expect(injectionDecision(p, ns(), cfg, "webhook")).toEqual({
      inject: false,
      reason: expect.stringContaining("neither"),
    });
  });

  it("refuses a pod that clashes with the sidecar's names or ports", () => {
    const p = pod({
      spec: {
        containers: [{ name: "web", ports: [{ containerPort: 15090 }, { containerPort: 15021, protocol: "UDP" }] }],
        initContainers: [{ name: "trellis-init" }],
        volumes: [{ name: "trellis-certs", emptyDir: {} }],
      },
    });
    expect(injectionDecision(p, enabled, cfg, "webhook").errors).toEqual([
      { field: "spec.volumes[0].name", message: '"trellis-certs" is reserved for the injected sidecar' },
      { field: "spec.initContainers[0].name", message: '"trellis-init" is reserved for the injected init container' },
      {
        field: "spec.containers[0].ports[0].containerPort",
        message: "15090 is used by the sidecar (Envoy binds 15000, 15001, 15006, 15021, 15090)",
      },
    ]);
  });

  it("warns about Istio annotations Trellis ignores, and still injects", () => {
    const p = pod({
      annotations: {
        "traffic.sidecar.istio.io/includeOutboundPorts": "443",
        "proxy.istio.io/config": "{holdApplicationUntilProxyStarts: true, concurrency: 4}",
      },
    });
    const d = injectionDecision(p, enabled, cfg, "webhook");
    expect(d.inject).toBe(true);
    expect(d.warnings).toEqual([
      "annotation traffic.sidecar.istio.io/includeOutboundPorts is ignored: trellis-init has no port-based outbound include list",
      "annotation proxy.istio.io/config: field concurrency is ignored (Trellis reads holdApplicationUntilProxyStarts only)",
    ]);
  });

  it("warns that a Job's pod with a regular sidecar never completes", () => {
    const jobPod = (annotations: Record<string, string>): Pod => ({
      ...pod(),
      metadata: {
        generateName: "migrate-",
        annotations,
        ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: "migrate", controller: true }],
      },
    });
    expect(injectionDecision(jobPod({}), enabled, cfg, "webhook").warnings).toEqual([JOB_WARNING]);
    expect(
      injectionDecision(jobPod({ "sidecar.istio.io/nativeSidecar": "true" }), enabled, cfg, "webhook").warnings,
    ).toBeUndefined();
  });
});

describe("injectionDecision (manual, trellis inject)", () => {
  it("injects unless the pod opts out or cannot be injected", () => {
    expect(injectionDecision(pod(), undefined, cfg, "manual")).toEqual({
      inject: true,
      reason: "manual injection (trellis inject)",
    });
    // Namespace labels do not matter: the user asked for injection by running the command.
    expect(injectionDecision(pod(), disabled, cfg, "manual").inject).toBe(true);
    expect(
      injectionDecision(pod({ annotations: { "sidecar.istio.io/inject": "false" } }), undefined, cfg, "manual"),
    ).toEqual({
      inject: false,
      reason: "pod annotation sidecar.istio.io/inject=false",
    });
    expect(injectionDecision(pod({ spec: { hostNetwork: true } }), undefined, cfg, "manual").inject).toBe(false);
    expect(injectionDecision(pod(), ns({}, "kube-system"), cfg, "manual").inject).toBe(false);
    expect(
      injectionDecision(pod({ spec: { containers: [{ name: "trellis-proxy" }] } }), undefined, cfg, "manual").inject,
    ).toBe(false);
  });
});
