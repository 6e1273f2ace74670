// AuthorizationPolicy semantics, checked by evaluating the generated RBAC with
// a real RBAC engine: @grpc/grpc-js-xds's (gRFC A41), the code an xDS-enabled
// gRPC server runs on every call. It evaluates permissions and principals the
// way Envoy does (headers, url_path, ports, source IPs, the peer
// certificate's URI SAN); JWT metadata it treats as never present, so JWT
// rules are checked on the config instead.
//
// The engine exists only with GRPC_XDS_EXPERIMENTAL_RBAC=true, read when the
// package loads; vitest runs each test file in its own process (pool forks),
// so setting it before the first require is enough.
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { DEFAULT_MESH_CONFIG } from "../../config/mesh-config.js";
import type { Rule } from "../../config/security/authorization-policy.js";
import { httpConnectionManager, router } from "../../envoy/any.js";
import type { Policy } from "../../envoy/generated/envoy/config/rbac/v3/Policy.js";
import type { HttpFilter } from "../../envoy/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter.js";
import { LISTENER } from "../../envoy/type-urls.js";
import { formatDiagnostic } from "../../model/diagnostic.js";
import { buildSnapshot } from "../../model/snapshot.js";
import { parseYamlFile } from "../../sources/file/parse-file.js";
import { encodeResource } from "../../xds/resource.js";
import { buildContext } from "../context.js";
import { httpRbacFilter, MATCH_NEVER, type RbacAction, rbacRules } from "../filters/rbac.js";
import { prepare } from "../index.js";
import {
  type CompileTarget,
  compileRule,
  httpAuthorizationFilters,
  type RuleIssue,
  tcpAuthorizationFilters,
} from "./authorization.js";
import { analyzeAuthorizationPolicies } from "./authorization-analyze.js";

process.env.GRPC_XDS_EXPERIMENTAL_RBAC = "true";
const require = createRequire(import.meta.url);
const grpc = require("@grpc/grpc-js") as typeof import("@grpc/grpc-js");
(require("@grpc/grpc-js-xds") as { register(): void }).register();
const env = require("@grpc/grpc-js-xds/build/src/environment.js") as { EXPERIMENTAL_RBAC: boolean };
type AnyMsg = { type_url: string; value: Uint8Array };
const resources = require("@grpc/grpc-js-xds/build/src/resources.js") as {
  // biome-ignore lint/suspicious/noExplicitAny: a decoded proto-loader message
  decodeSingleResource(url: string, bytes: Uint8Array): any;
  HTTP_CONNECTION_MANGER_TYPE_URL: string;
  LDS_TYPE_URL: string;
};
const httpFilter = require("@grpc/grpc-js-xds/build/src/http-filter.js") as {
  parseTopLevelFilterConfig(any: AnyMsg, client: boolean): { config: { apply(info: unknown): boolean } } | null;
};
const { ListenerResourceType } = require("@grpc/grpc-js-xds/build/src/xds-resource-type/listener-resource-type.js") as {
  ListenerResourceType: { get(): { decode(ctx: unknown, r: AnyMsg): { error?: string } } };
};

interface Request {
  path?: string;
  method?: string;
  authority?: string;
  headers?: Record<string, string>;
  sourceIp?: string;
  port?: number;
  /** The peer certificate's SPIFFE ID (mTLS); absent: plaintext. */
  peer?: string;
}

/**
 * Runs `filters` in order, as a server would: a request passes when every
 * RBAC filter accepts it. The filters are first sent through grpc-js's own
 * listener validation, so a config gRPC would reject fails here.
 */
function evaluator(filters: HttpFilter[]) {
  const listener = {
    name: "grpc/server?xds.resource.listening_address=0.0.0.0:8080",
    address: { socket_address: { address: "0.0.0.0", port_value: 8080 } },
    default_filter_chain: {
      filters: [
        {
          name: "envoy.filters.network.http_connection_manager",
          typed_config: httpConnectionManager({
            stat_prefix: "test",
            route_config: {
              name: "test",
              virtual_hosts: [
                { name: "test", domains: ["*"], routes: [{ match: { prefix: "/" }, non_forwarding_action: {} }] },
              ],
            },
            http_filters: [...filters, { name: "router", typed_config: router() }],
          }),
        },
      ],
    },
  };
  const enc = encodeResource(LISTENER, listener.name, listener);
  if (!enc.ok) throw new Error(enc.error);
  const bytes = Buffer.from(enc.value.bytes);
  const validated = ListenerResourceType.get().decode(
    { server: { serverUri: "trellis", serverFeatures: [] }, bootstrap: { certificateProviders: {} } },
    { type_url: resources.LDS_TYPE_URL, value: bytes },
  );
  if (validated.error) throw new Error(`grpc-js rejects the listener: ${validated.error}`);
  const decoded = resources.decodeSingleResource(resources.LDS_TYPE_URL, bytes);
  const hcm = resources.decodeSingleResource(
    resources.HTTP_CONNECTION_MANGER_TYPE_URL,
    decoded.default_filter_chain.filters[0].typed_config.value,
  );
  const engines = (hcm.http_filters as { typed_config: AnyMsg }[])
    .slice(0, -1)
    .map((f) => httpFilter.parseTopLevelFilterConfig(f.typed_config, false)?.config);
  return (r: Request): boolean => {
    const headers = new grpc.Metadata();
    headers.set(":method", r.method ?? "GET");
    headers.set(":path", r.path ?? "/");
    headers.set(":authority", r.authority ?? "httpbin.foo.svc.cluster.local");
    for (const [k, v] of Object.entries(r.headers ?? {})) headers.set(k, v);
    const info = {
      destinationIp: "10.1.2.3",
      destinationPort: r.port ?? 8080,
      sourceIp: r.sourceIp ?? "10.0.0.1",
      headers,
      tls: r.peer !== undefined,
      peerCertificate: r.peer ? { subjectaltname: `URI:${r.peer}`, subject: {} } : null,
      urlPath: r.path ?? "/",
    };
    return engines.every((e) => {
      if (!e) throw new Error("grpc-js could not parse an RBAC filter");
      return e.apply(info);
    });
  };
}

const target = (action: RbacAction, extra: Partial<CompileTarget> = {}): CompileTarget => ({
  action,
  tcp: false,
  proxyless: true,
  namespace: "foo",
  trustDomain: "cluster.local",
  ...extra,
});

/** One policy with `rules` for `action`, compiled and evaluated (rules that compile to nothing are left out). */
function policy(action: RbacAction, rules: Rule[], extra: Partial<CompileTarget> = {}) {
  const compiled = new Map<string, Policy>();
  const issues: RuleIssue[] = [];
  if (rules.length === 0) compiled.set("p-rule[0]", MATCH_NEVER);
  rules.forEach((r, i) => {
    const p = compileRule(r, `spec.rules[${i}]`, target(action, extra), issues);
    if (p) compiled.set(`p-rule[${i}]`, p);
  });
  return { allows: evaluator([httpRbacFilter("rbac", { rules: rbacRules(action, compiled) })]), issues };
}

describe("AuthorizationPolicy on a real RBAC engine (grpc-js)", () => {
  it("runs with the RBAC filter enabled", () => {
    expect(env.EXPERIMENTAL_RBAC).toBe(true);
  });

  it("an ALLOW policy without rules denies everything; one empty rule allows everything", () => {
    expect(policy("ALLOW", []).allows({})).toBe(false);
    expect(policy("ALLOW", [{}]).allows({ path: "/anything", method: "DELETE" })).toBe(true);
    // DENY without rules denies nothing; DENY with an empty rule denies everything.
    expect(policy("DENY", []).allows({})).toBe(true);
    expect(policy("DENY", [{}]).allows({})).toBe(false);
  });

  it("matches paths exactly, by prefix, by suffix and by template, on the path without the query", () => {
    const { allows } = policy("DENY", [
      { to: [{ operation: { paths: ["/admin", "/api/*", "*.php", "/v1/{*}/secrets/{**}"] } }] },
    ]);
    for (const denied of ["/admin", "/api/x", "/api/", "/x/index.php", "/v1/u/secrets/", "/v1/u/secrets/a/b"]) {
      expect(allows({ path: denied }), denied).toBe(false);
    }
    for (const allowed of ["/admin/", "/Admin", "/apix", "/index.php5", "/v1/u/v/secrets/a", "/v1//secrets/a"]) {
      expect(allows({ path: allowed }), allowed).toBe(true);
    }
  });

  it("negates notPaths, notMethods and notPorts as NOT(any of them)", () => {
    const { allows } = policy("ALLOW", [
      { to: [{ operation: { notPaths: ["/private/*"], notMethods: ["DELETE"], notPorts: ["9000"] } }] },
    ]);
    expect(allows({ path: "/public", method: "GET" })).toBe(true);
    expect(allows({ path: "/private/x", method: "GET" })).toBe(false);
    expect(allows({ path: "/public", method: "DELETE" })).toBe(false);
    expect(allows({ path: "/public", port: 9000 })).toBe(false);
  });

  it("compares hosts case-insensitively, and in a DENY also with any port (CVE-2021-39155)", () => {
    const deny = policy("DENY", [{ to: [{ operation: { hosts: ["admin.example.com", "*.internal"] } }] }]).allows;
    for (const h of [
      "admin.example.com",
      "ADMIN.Example.COM",
      "admin.example.com:8080",
      "db.internal",
      "DB.INTERNAL:443",
    ]) {
      expect(deny({ authority: h }), h).toBe(false);
    }
    expect(deny({ authority: "other.example.com" })).toBe(true);
    // ALLOW keeps Istio's comparison of the whole header: the port form is not allowed by "a.com".
    const allow = policy("ALLOW", [{ to: [{ operation: { hosts: ["admin.example.com"] } }] }]).allows;
    expect(allow({ authority: "Admin.Example.com" })).toBe(true);
    expect(allow({ authority: "admin.example.com:8080" })).toBe(false);
    // notHosts in an ALLOW: the excluded host stays excluded with a port.
    const notHosts = policy("ALLOW", [{ to: [{ operation: { notHosts: ["admin.example.com"] } }] }]).allows;
    expect(notHosts({ authority: "admin.example.com:80" })).toBe(false);
    expect(notHosts({ authority: "www.example.com" })).toBe(true);
  });

  it("matches peer identities against the certificate's SPIFFE ID, wildcards included (CVE-2020-16844)", () => {
    const deny = policy("DENY", [
      { from: [{ source: { principals: ["*/ns/foo/sa/admin", "cluster.local/ns/ops/*"] } }] },
    ]).allows;
    expect(deny({ peer: "spiffe://cluster.local/ns/foo/sa/admin" })).toBe(false);
    expect(deny({ peer: "spiffe://other.td/ns/foo/sa/admin" })).toBe(false);
    expect(deny({ peer: "spiffe://cluster.local/ns/ops/sa/anyone" })).toBe(false);
    expect(deny({ peer: "spiffe://cluster.local/ns/foo/sa/admin2" })).toBe(true);
    expect(deny({})).toBe(true); // plaintext has no principal
    // `*` means "any authenticated peer": plaintext does not match it.
    const anyPeer = policy("ALLOW", [{ from: [{ source: { principals: ["*"] } }] }]).allows;
    expect(anyPeer({ peer: "spiffe://cluster.local/ns/a/sa/b" })).toBe(true);
    expect(anyPeer({})).toBe(false);
  });

  it("never reads a dot in a namespace or service account as a regex wildcard (CVE-2026-39350)", () => {
    const { allows } = policy("ALLOW", [
      { from: [{ source: { namespaces: ["cert-manager.io"] } }] },
      { from: [{ source: { serviceAccounts: ["web/front.end"] } }] },
    ]);
    expect(allows({ peer: "spiffe://cluster.local/ns/cert-manager.io/sa/x" })).toBe(true);
    expect(allows({ peer: "spiffe://cluster.local/ns/cert-managerXio/sa/x" })).toBe(false);
    expect(allows({ peer: "spiffe://cluster.local/ns/web/sa/front.end" })).toBe(true);
    expect(allows({ peer: "spiffe://cluster.local/ns/web/sa/frontXend" })).toBe(false);
    expect(allows({ peer: "spiffe://cluster.local/ns/web/sa/front.end2" })).toBe(false);
  });

  it("replaces cluster.local in principals with the mesh trust domain", () => {
    const { allows } = policy("ALLOW", [{ from: [{ source: { principals: ["cluster.local/ns/a/sa/b"] } }] }], {
      trustDomain: "corp.example",
    });
    expect(allows({ peer: "spiffe://corp.example/ns/a/sa/b" })).toBe(true);
    expect(allows({ peer: "spiffe://cluster.local/ns/a/sa/b" })).toBe(false);
  });

  it("matches source IP blocks and request headers from `when`", () => {
    const { allows } = policy(
      "ALLOW",
      [
        {
          from: [{ source: { ipBlocks: ["10.0.0.0/8"], notIpBlocks: ["10.9.0.0/16"] } }],
          when: [{ key: "request.headers[X-Tenant]", values: ["acme", "beta-*"], notValues: ["beta-bad"] }],
        },
      ],
      { proxyless: false },
    );
    expect(allows({ sourceIp: "10.1.1.1", headers: { "x-tenant": "acme" } })).toBe(true);
    expect(allows({ sourceIp: "10.1.1.1", headers: { "x-tenant": "beta-2" } })).toBe(true);
    expect(allows({ sourceIp: "10.1.1.1", headers: { "x-tenant": "beta-bad" } })).toBe(false);
    expect(allows({ sourceIp: "10.9.1.1", headers: { "x-tenant": "acme" } })).toBe(false);
    expect(allows({ sourceIp: "192.168.0.1", headers: { "x-tenant": "acme" } })).toBe(false);
    expect(allows({ sourceIp: "10.1.1.1" })).toBe(false);
  });

  it("fails closed on what it cannot honour: ALLOW rules are left out, DENY rules match more", () => {
    const bad: Rule = {
      from: [{ source: { ipBlocks: ["not-an-ip"] } }],
      to: [{ operation: { paths: ["/admin"] } }],
    };
    const allow = policy("ALLOW", [bad]);
    expect(allow.allows({ path: "/admin" })).toBe(false);
    expect(allow.issues.map((i) => [i.kind, i.field])).toEqual([
      ["invalid", "spec.rules[0].from[0].source.ipBlocks[0]"],
    ]);
    const deny = policy("DENY", [bad]);
    expect(deny.allows({ path: "/admin", sourceIp: "192.0.2.1" })).toBe(false);
    expect(deny.allows({ path: "/public" })).toBe(true);
  });

  it("on proxyless servers treats JWT conditions as unsatisfiable: ALLOW matches nothing, DENY matches without them", () => {
    const jwt: Rule = {
      from: [{ source: { requestPrincipals: ["*"] } }],
      to: [{ operation: { paths: ["/admin"] } }],
    };
    expect(policy("ALLOW", [jwt]).allows({ path: "/admin" })).toBe(false);
    expect(
      policy("DENY", [{ ...jwt, from: [{ source: { notRequestPrincipals: ["*"] } }] }]).allows({ path: "/admin" }),
    ).toBe(false);
  });

  it("on proxyless servers cannot match IPv4 peers (grpc-js sees ::ffff:a.b.c.d), so IPv4 blocks fail closed", () => {
    const rule: Rule = { from: [{ source: { ipBlocks: ["192.0.2.0/24"] } }] };
    const allow = policy("ALLOW", [rule]);
    expect(allow.allows({ sourceIp: "192.0.2.1" })).toBe(false);
    expect(allow.issues.map((i) => i.kind)).toEqual(["proxyless"]);
    // A DENY by IPv4 block would never deny there: it denies everyone instead.
    expect(policy("DENY", [rule]).allows({ sourceIp: "::ffff:198.51.100.1" })).toBe(false);
    // IPv6 blocks work as written.
    const v6 = policy("DENY", [{ from: [{ source: { ipBlocks: ["2001:db8::/32"] } }] }]).allows;
    expect(v6({ sourceIp: "2001:db8::1" })).toBe(false);
    expect(v6({ sourceIp: "2001:db9::1" })).toBe(true);
  });

  it("on TCP drops an ALLOW rule with HTTP-only fields and widens a DENY rule without them (Istio's rule)", () => {
    const rule: Rule = {
      from: [{ source: { namespaces: ["bar"] } }],
      to: [{ operation: { methods: ["GET"], ports: ["5432"] } }],
    };
    const tcp = { tcp: true, proxyless: false };
    const allow = policy("ALLOW", [rule], tcp);
    expect(allow.allows({ peer: "spiffe://cluster.local/ns/bar/sa/x", port: 5432 })).toBe(false);
    expect(allow.issues.map((i) => i.kind)).toEqual(["http-only"]);
    const deny = policy("DENY", [rule], tcp);
    expect(deny.allows({ peer: "spiffe://cluster.local/ns/bar/sa/x", port: 5432 })).toBe(false);
    expect(deny.allows({ peer: "spiffe://cluster.local/ns/bar/sa/x", port: 5433 })).toBe(true);
    expect(deny.allows({ peer: "spiffe://cluster.local/ns/other/sa/x", port: 5432 })).toBe(true);
  });
});

const SERVICE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: httpbin, namespace: foo }
spec:
  hosts: [httpbin.foo.svc.cluster.local]
  resolution: STATIC
  ports:
  - { number: 8000, name: http, protocol: HTTP, targetPort: 80 }
  workloadSelector: { labels: { app: httpbin } }
`;

function workload(policies: string, labels: Record<string, string> = { app: "httpbin" }) {
  const loaded = parseYamlFile("mesh.yaml", `${SERVICE}---\n${policies}`);
  expect(loaded.diagnostics.map(formatDiagnostic)).toEqual([]);
  const { inputs, diagnostics } = prepare(buildSnapshot(undefined, loaded.objects).snapshot, DEFAULT_MESH_CONFIG);
  const ctx = buildContext(inputs, { class: "sidecar", namespace: "foo", labels });
  return { ctx, inputs, diagnostics };
}

describe("AuthorizationPolicy evaluation order", () => {
  it("is CUSTOM (as DENY), AUDIT, DENY, ALLOW, and a request must pass every filter", () => {
    const { ctx } = workload(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-get, namespace: foo }
spec:
  rules: [{ to: [{ operation: { methods: [GET] } }] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: deny-admin, namespace: foo }
spec:
  action: DENY
  rules: [{ to: [{ operation: { paths: [/admin] } }] }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: custom, namespace: foo }
spec:
  action: CUSTOM
  provider: { name: ext }
  rules: [{ to: [{ operation: { paths: [/ext/*] } }] }]
`);
    const filters = httpAuthorizationFilters(ctx, true);
    expect(filters.map((f) => f.name)).toEqual(["rbac-custom-deny", "rbac-deny", "rbac-allow"]);
    const allows = evaluator(filters);
    expect(allows({ path: "/data", method: "GET" })).toBe(true);
    expect(allows({ path: "/data", method: "POST" })).toBe(false); // no ALLOW matches
    expect(allows({ path: "/admin", method: "GET" })).toBe(false); // DENY wins over ALLOW
    expect(allows({ path: "/ext/x", method: "GET" })).toBe(false); // CUSTOM without a provider fails closed
    expect(httpAuthorizationFilters(workload("", { app: "other" }).ctx)).toEqual([]);
  });

  it("denies on TCP and on undeclared ports what an HTTP-only ALLOW would have allowed", () => {
    const { ctx, diagnostics } = workload(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: allow-get, namespace: foo }
spec:
  rules: [{ to: [{ operation: { methods: [GET] } }] }]
`);
    const [allow] = tcpAuthorizationFilters(ctx);
    expect(allow?.typed_config).toMatchObject({ rules: { action: "ALLOW", policies: {} } });
    expect(diagnostics.map((d) => d.code)).toEqual(["TRL3706"]);
  });

  it("reports every problem once, with the field and what happens instead", () => {
    const { inputs } = workload(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: broken, namespace: foo, annotations: { istio.io/dry-run: "yes" } }
spec:
  action: DENY
  rules:
  - from: [{ source: { ipBlocks: [300.1.1.1, 10.0.0.0/8], principals: ["a*b"] } }]
    when: [{ key: source.labels, values: [x] }, { key: "request.headers[x-a]" }]
`);
    expect(analyzeAuthorizationPolicies(inputs).map(formatDiagnostic)).toEqual([
      `warning TRL3710 AuthorizationPolicy foo/broken (mesh.yaml document 1) metadata.annotations[istio.io/dry-run]: "yes" is neither "true" nor "false": the policy is enforced`,
      `error TRL3711 AuthorizationPolicy foo/broken (mesh.yaml document 1) spec.rules[0].when[1]: condition "request.headers[x-a]" has neither values nor notValues; the rule is applied without this value, so it matches more`,
      `error TRL3701 AuthorizationPolicy foo/broken (mesh.yaml document 1) spec.rules[0].from[0].source.principals[0]: "a*b": a wildcard * is only allowed once, at the start or the end; the rule is applied without this value, so it matches more`,
      `error TRL3701 AuthorizationPolicy foo/broken (mesh.yaml document 1) spec.rules[0].from[0].source.ipBlocks[0]: "300.1.1.1" is not an IP address or CIDR range; the rule is applied without this value, so it matches more`,
      `error TRL3702 AuthorizationPolicy foo/broken (mesh.yaml document 1) spec.rules[0].when[0].key: unknown condition key "source.labels"; the rule is applied without this value, so it matches more`,
      `info TRL3707 AuthorizationPolicy foo/broken (mesh.yaml document 1) spec.rules[0]: proxyless gRPC servers cannot evaluate ipBlocks (grpc-js verifies no JWT, sees no SNI, and sees IPv4 peers as IPv4-mapped IPv6 addresses): there this rule applies without them`,
    ]);
  });
});
