import { describe, expect, it } from "vitest";
import { DEFAULT_MESH_CONFIG } from "../../config/mesh-config.js";
import { checkProtoObject } from "../../envoy/proto-object.js";
import { formatDiagnostic } from "../../model/diagnostic.js";
import { buildSnapshot } from "../../model/snapshot.js";
import { parseYamlFile } from "../../sources/file/parse-file.js";
import { buildContext } from "../context.js";
import { inboundPorts } from "../inbound.js";
import { prepare } from "../index.js";
import { analyzeRateLimits } from "./analyze.js";
import { inboundRateLimit } from "./rate-limit.js";

const mesh = (limits: string) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: productpage, namespace: default }
spec:
  hosts: [productpage.default.svc.cluster.local]
  resolution: STATIC
  ports:
  - { number: 9080, name: http, protocol: HTTP, targetPort: 8080 }
  - { number: 9090, name: tcp-admin, protocol: TCP }
  workloadSelector: { labels: { app: productpage } }
---
apiVersion: policy.trellis.dev/v1alpha1
kind: RateLimit
metadata: { name: productpage, namespace: default }
spec:
  host: productpage
${limits}
`;

function setup(limits: string) {
  const loaded = parseYamlFile("mesh.yaml", mesh(limits));
  expect(loaded.diagnostics.map(formatDiagnostic)).toEqual([]);
  const { inputs } = prepare(buildSnapshot(undefined, loaded.objects).snapshot, DEFAULT_MESH_CONFIG);
  const ctx = buildContext(inputs, { class: "sidecar", namespace: "default", labels: { app: "productpage" } });
  return { inputs, ctx, ports: inboundPorts(ctx) };
}

describe("RateLimit", () => {
  it("limits each rule with its own bucket on the workload's inbound HTTP port, first match first", () => {
    const { ctx, ports, inputs } = setup(`  statusCode: 503
  responseHeaders: { x-limited: "yes" }
  limits:
  - name: login
    match: { pathPrefixes: [/login, /auth/], methods: [post] }
    tokenBucket: { maxTokens: 5, fillInterval: 1m }
  - tokenBucket: { maxTokens: 100, tokensPerFill: 50, fillInterval: 500ms }`);
    expect(analyzeRateLimits(inputs)).toEqual([]);
    expect(ports.map((p) => [p.port, p.protocol])).toEqual([
      [8080, "HTTP"],
      [9090, "TCP"],
    ]);
    const http = ports.find((p) => p.port === 8080);
    const tcp = ports.find((p) => p.port === 9090);
    expect(inboundRateLimit(ctx, tcp as NonNullable<typeof tcp>)).toBeUndefined();
    const rl = inboundRateLimit(ctx, http as NonNullable<typeof http>);
    const routes = rl?.routes({ cluster: "inbound|8080||" }) ?? [];
    expect(routes.map((r) => r.name)).toEqual([
      "ratelimit/default/productpage/login",
      "ratelimit/default/productpage/1",
    ]);
    expect(routes[0]?.match).toEqual({
      safe_regex: { regex: "(?:/login.*|/auth/.*)" },
      headers: [{ name: ":method", string_match: { safe_regex: { regex: "(?:POST)" } } }],
    });
    expect(routes[1]?.match).toEqual({ prefix: "/" });
    for (const r of routes) expect(checkProtoObject("envoy.config.route.v3.Route", r)).toEqual([]);
    expect(
      checkProtoObject("envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter", rl?.filter),
    ).toEqual([]);
    const second = routes[1]?.typed_per_filter_config?.["envoy.filters.http.local_ratelimit"] as Record<
      string,
      unknown
    >;
    expect(second).toMatchObject({
      token_bucket: {
        max_tokens: 100,
        tokens_per_fill: { value: 50 },
        fill_interval: { seconds: "0", nanos: 500_000_000 },
      },
      status: { code: 503 },
    });
  });

  it("reports unknown hosts, non-HTTP ports and buckets Envoy would reject, and leaves those buckets out", () => {
    const { ctx, ports, inputs } = setup(`  ports: [9090, 1234]
  limits:
  - tokenBucket: { maxTokens: 1, fillInterval: 10ms }`);
    const texts = analyzeRateLimits(inputs).map(formatDiagnostic);
    expect(texts).toEqual([
      "error TRL3402 RateLimit default/productpage (mesh.yaml document 1) spec.ports[0]: port 9090 of productpage.default.svc.cluster.local is TCP; local rate limits apply to HTTP ports only",
      "error TRL3402 RateLimit default/productpage (mesh.yaml document 1) spec.ports[1]: productpage.default.svc.cluster.local has no port 1234",
      "error TRL3403 RateLimit default/productpage (mesh.yaml document 1) spec.limits[0].tokenBucket.fillInterval: Envoy requires a fill interval of at least 50ms, got 10ms",
    ]);
    for (const p of ports) expect(inboundRateLimit(ctx, p)?.routes({ cluster: "x" }) ?? []).toEqual([]);
  });
});
