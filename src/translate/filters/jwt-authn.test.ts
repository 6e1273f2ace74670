// RequestAuthentication → jwt_authn: where the filter goes, how providers are
// required, where the keys come from, and that the fail-closed stand-ins are
// what they claim. Every generated listener and cluster is checked against
// Envoy's PGV rules (envoy/pgv.ts), as Envoy would on receipt.
import { createPublicKey } from "node:crypto";
import { describe, expect, it } from "vitest";
import { DEFAULT_MESH_CONFIG } from "../../config/mesh-config.js";
import { validateEnvoyMessage } from "../../envoy/pgv.js";
import { CLUSTER, LISTENER, messageNameOf } from "../../envoy/type-urls.js";
import { formatDiagnostic } from "../../model/diagnostic.js";
import { buildSnapshot } from "../../model/snapshot.js";
import { parseYamlFile } from "../../sources/file/parse-file.js";
import { encodeResource } from "../../xds/resource.js";
import { buildContext } from "../context.js";
import { prepare, translateProxy } from "../index.js";
import { inboundSecurity } from "../policy/authorization-inbound.js";
import { isJwks, jwtAuthnFilter, NO_KEY_JWKS, parseJwksUri } from "./jwt-authn.js";

const SERVICE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: httpbin, namespace: foo }
spec:
  hosts: [httpbin.foo.svc.cluster.local]
  resolution: STATIC
  ports: [{ number: 8000, name: http, protocol: HTTP, targetPort: 80 }, { number: 9000, name: tcp, protocol: TCP }]
  workloadSelector: { labels: { app: httpbin } }
`;

function setup(objects: string, proxyClass: "sidecar" | "proxyless-grpc" = "sidecar") {
  const loaded = parseYamlFile("mesh.yaml", `${SERVICE}---\n${objects}`);
  expect(loaded.diagnostics.map(formatDiagnostic)).toEqual([]);
  const { inputs, diagnostics } = prepare(buildSnapshot(undefined, loaded.objects).snapshot, DEFAULT_MESH_CONFIG);
  const proxy = { class: proxyClass, namespace: "foo", labels: { app: "httpbin" } } as const;
  return { inputs, diagnostics, proxy, ctx: buildContext(inputs, proxy) };
}

const RA = (rules: string) => `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: foo }
spec:
  jwtRules:
${rules}
`;

describe("RequestAuthentication", () => {
  it("puts jwt_authn first in every inbound HTTP chain, before the RBAC filters, and nowhere on TCP", () => {
    const { ctx } = setup(`${RA(`  - issuer: https://accounts.example.com
    jwksUri: https://accounts.example.com/keys`)}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: require-jwt, namespace: foo }
spec:
  rules: [{ from: [{ source: { requestPrincipals: ["*"] } }] }]
`);
    const security = inboundSecurity(ctx);
    expect(security.http.map((f) => f.name)).toEqual(["envoy.filters.http.jwt_authn", "rbac-allow"]);
    expect(security.network.map((f) => f.name)).toEqual(["rbac-allow"]);
  });

  it("accepts a request without a token and requires a valid one when present: {provider OR allow_missing}", () => {
    const { ctx } = setup(
      RA(`  - issuer: a
    jwks: '${NO_KEY_JWKS}'`),
    );
    expect(jwtAuthnFilter(ctx)?.typed_config).toMatchObject({
      rules: [
        {
          match: { prefix: "/" },
          requires: { requires_any: { requirements: [{ provider_name: "origins-0" }, { allow_missing: {} }] } },
        },
      ],
      bypass_cors_preflight: true,
    });
  });

  it("has no filter and no clusters for proxyless gRPC, which verifies no JWT", () => {
    const { inputs, proxy } = setup(
      RA(`  - issuer: a
    jwksUri: https://idp.example.com/keys`),
      "proxyless-grpc",
    );
    const t = translateProxy(inputs, proxy);
    expect(JSON.stringify(t)).not.toContain("jwt_authn");
    expect(t.clusters.map((c) => c.name).filter((n) => n?.startsWith("jwks"))).toEqual([]);
  });

  it("produces listeners and JWKS clusters Envoy's validators accept", () => {
    const { inputs, proxy, diagnostics } = setup(
      RA(`  - issuer: https://a.example.com
    jwksUri: https://a.example.com:8443/keys
    fromHeaders: [{ name: x-jwt, prefix: "Bearer " }]
    outputPayloadToHeader: x-payload
    outputClaimToHeaders: [{ header: x-sub, claim: sub }]
  - issuer: b
    jwksUri: http://10.0.0.9/keys
  - issuer: c
    jwksUri: https://[2001:db8::1]/keys`),
    );
    expect(diagnostics.map((d) => d.code)).toEqual(["TRL3725"]);
    const t = translateProxy(inputs, proxy);
    const jwks = t.clusters.filter((c) => c.name?.startsWith("jwks|"));
    expect(jwks.map((c) => [c.name, c.type])).toEqual([
      ["jwks|http|10.0.0.9|80", "STATIC"],
      ["jwks|https|2001:db8::1|443", "STATIC"],
      ["jwks|https|a.example.com|8443", "LOGICAL_DNS"],
    ]);
    for (const [typeUrl, items] of [
      [LISTENER, t.listeners],
      [CLUSTER, jwks],
    ] as const) {
      for (const item of items) {
        const enc = encodeResource(typeUrl, item.name ?? "", item);
        if (!enc.ok) throw new Error(enc.error);
        expect(validateEnvoyMessage(messageNameOf(typeUrl), enc.value.bytes), item.name).toEqual([]);
      }
    }
  });

  it("parses JWKS URIs as Istio does (http/https with a host, default ports)", () => {
    expect(parseJwksUri("https://idp.example.com/jwks")).toMatchObject({
      tls: true,
      host: "idp.example.com",
      port: 443,
    });
    expect(parseJwksUri("http://IdP.example.com:8080/jwks")).toMatchObject({
      tls: false,
      host: "idp.example.com",
      port: 8080,
    });
    for (const bad of ["ftp://x/jwks", "idp.example.com/jwks", "https://user:pw@idp/jwks", "file:///etc/passwd"]) {
      expect(parseJwksUri(bad), bad).toBeUndefined();
    }
  });

  it("fails closed with a key set whose private key does not exist", () => {
    expect(isJwks(NO_KEY_JWKS)).toBe(true);
    const [key] = (JSON.parse(NO_KEY_JWKS) as { keys: Record<string, string>[] }).keys;
    // A public RSA key, and nothing that could sign: no private exponent or primes.
    expect(Object.keys(key ?? {}).sort()).toEqual(["alg", "e", "kid", "kty", "n", "use"]);
    expect(createPublicKey({ key: key as never, format: "jwk" }).asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(isJwks('{"keys":[]}')).toBe(false);
    expect(isJwks("not json")).toBe(false);
  });
});
