// The injected sidecar and the control plane agree on authenticated xDS: the
// proxy dials the TLS port and reads its root and its token from where the
// pod mounts them, which is where the root ConfigMap's SDS files point.
import { describe, expect, it } from "vitest";
import { DEFAULT_MESH_CONFIG } from "../../src/config/mesh-config.js";
import { XDS_CA_DIR, XDS_TOKEN_PATH, xdsAuthFiles } from "../../src/envoy/bootstrap.js";
import { ROOT_CERT_CONFIGMAP } from "../../src/security/sds/root-cert-publisher.js";
import { CA_CONFIGMAP, CA_DIR, PROXY_CONTAINER, TOKEN_DIR, TOKEN_FILE } from "./names.js";
import type { Container, Pod } from "./pod.js";
import { DEFAULT_TOKEN_AUDIENCE, defaultInjectionConfig, injectPod } from "./template.js";

// biome-ignore lint/suspicious/noExplicitAny: walking generated JSON in assertions
type Obj = Record<string, any>;

function injectedBootstrap(): Obj {
  const pod: Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "web-1", namespace: "shop", labels: { app: "web" } },
    spec: { serviceAccountName: "web", containers: [{ name: "web", image: "web:1" }] },
  };
  const injected = injectPod(pod, "shop", defaultInjectionConfig());
  const containers = (injected.spec?.containers ?? []) as Container[];
  const proxy = containers.find((c) => c.name === PROXY_CONTAINER) as Container;
  const args = proxy.args as string[];
  const yaml = args[args.indexOf("--config-yaml") + 1] as string;
  // What the kubelet does to args: $(VAR) from the env, $$ to $.
  return JSON.parse(yaml.replace(/\$\(([A-Z_]+)\)/g, "x").replaceAll("$$", "$"));
}

describe("the injected sidecar's authenticated xDS", () => {
  it("dials the control plane's TLS port by its Service name, and checks that name", () => {
    expect(DEFAULT_MESH_CONFIG.defaultConfig.discoveryAddress).toBe("trellis.trellis-system.svc:15012");
    const cluster = (injectedBootstrap().static_resources.clusters as Obj[]).find((c) => c.name === "xds-grpc") as Obj;
    expect(cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({
      address: "trellis.trellis-system.svc",
      port_value: 15012,
    });
    const tls = cluster.transport_socket.typed_config;
    expect(tls.sni).toBe("trellis.trellis-system.svc");
    expect(tls.common_tls_context.combined_validation_context.default_validation_context).toEqual({
      match_typed_subject_alt_names: [{ san_type: "DNS", matcher: { exact: "trellis.trellis-system.svc" } }],
    });
  });

  it("reads the root and the token where the pod mounts them, from the ConfigMap the control plane publishes", () => {
    expect(CA_DIR).toBe(XDS_CA_DIR);
    expect(`${TOKEN_DIR}/${TOKEN_FILE}`).toBe(XDS_TOKEN_PATH);
    expect(CA_CONFIGMAP).toBe(ROOT_CERT_CONFIGMAP);
    expect(DEFAULT_TOKEN_AUDIENCE).toBe("trellis");
    const text = JSON.stringify(injectedBootstrap());
    for (const file of Object.keys(xdsAuthFiles("PEM")).filter((f) => f.endsWith(".json"))) {
      expect(text).toContain(`${CA_DIR}/${file}`);
    }
    expect(xdsAuthFiles("PEM")["xds-token-sds.json"]).toContain(`${TOKEN_DIR}/${TOKEN_FILE}`);
  });
});
