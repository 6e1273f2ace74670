import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { type FieldError, MESH_KINDS, type MeshObject, parseMeshObject } from "./index.js";

const testdata = join(import.meta.dirname, "testdata");

function documentsOf(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, "utf8")).map((doc) => {
    expect(doc.errors).toEqual([]);
    return doc.toJS();
  });
}

function parseYaml(text: string): ReturnType<typeof parseMeshObject> {
  const docs = parseAllDocuments(text);
  expect(docs).toHaveLength(1);
  return parseMeshObject(docs[0]?.toJS());
}

function expectValid(text: string): MeshObject {
  const result = parseYaml(text);
  if (!result.ok) throw new Error(`expected valid, got ${JSON.stringify(result.errors, null, 2)}`);
  return result.value;
}

function expectErrors(text: string): FieldError[] {
  const result = parseYaml(text);
  if (result.ok) throw new Error("expected errors, got a valid object");
  return result.errors;
}

describe("examples from the seed document (verbatim)", () => {
  const dir = join(testdata, "seed");

  it("parses the weighted-canary VirtualService", () => {
    const [doc] = documentsOf(join(dir, "virtual-service-reviews-canary.yaml"));
    const result = parseMeshObject(doc);
    expect(result.ok).toBe(true);
    if (!result.ok || result.value.kind !== "VirtualService") return;
    expect(result.value.apiVersion).toBe("networking.istio.io/v1alpha3");
    expect(result.value.spec.http?.[0]?.route?.map((r) => [r.destination.subset, r.weight])).toEqual([
      ["v1", 80],
      ["v2", 20],
    ]);
  });

  it("parses the circuit-breaking DestinationRule with the deprecated consecutiveErrors", () => {
    const [doc] = documentsOf(join(dir, "destination-rule-reviews-circuit-breaker.yaml"));
    const result = parseMeshObject(doc);
    expect(result.ok).toBe(true);
    if (!result.ok || result.value.kind !== "DestinationRule") return;
    expect(result.value.spec.trafficPolicy?.outlierDetection).toEqual({
      consecutiveErrors: 5,
      interval: "30s",
      baseEjectionTime: "30s",
    });
    expect(result.value.spec.trafficPolicy?.connectionPool?.http?.http1MaxPendingRequests).toBe(10);
  });

  it("parses the STRICT PeerAuthentication in istio-system", () => {
    const [doc] = documentsOf(join(dir, "peer-authentication-strict.yaml"));
    const result = parseMeshObject(doc);
    expect(result.ok).toBe(true);
    if (!result.ok || result.value.kind !== "PeerAuthentication") return;
    expect(result.value.metadata.namespace).toBe("istio-system");
    expect(result.value.spec.mtls?.mode).toBe("STRICT");
  });

  it("rejects the Deployment example as a kind Trellis does not serve", () => {
    const [doc] = documentsOf(join(dir, "deployment-sidecar-inject.yaml"));
    const result = parseMeshObject(doc);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]?.field).toBe("kind");
    expect(result.errors[0]?.message).toMatch(/^unknown kind "Deployment"; Trellis serves AuthorizationPolicy, /);
  });
});

describe("examples as written in Istio's documentation", () => {
  const dir = join(testdata, "istio-docs");
  const files = readdirSync(dir).filter((f) => f.endsWith(".yaml"));

  it("has example files", () => {
    expect(files.length).toBeGreaterThanOrEqual(5);
  });

  for (const file of files) {
    it(`parses every document of ${file}`, () => {
      const docs = documentsOf(join(dir, file));
      expect(docs.length).toBeGreaterThan(0);
      for (const [index, doc] of docs.entries()) {
        const result = parseMeshObject(doc);
        expect(result, `${file} document ${index}`).toMatchObject({ ok: true });
      }
    });
  }

  it("covers every kind", () => {
    const kinds = new Set<string>();
    for (const file of files) {
      for (const doc of documentsOf(join(dir, file))) {
        const result = parseMeshObject(doc);
        if (result.ok) kinds.add(result.value.kind);
      }
    }
    expect([...kinds].sort()).toEqual(Object.keys(MESH_KINDS).sort());
  });

  it("types the spec by kind", () => {
    const se = expectValid(readFileSync(join(dir, "service-entry.yaml"), "utf8").split("\n---\n")[0] ?? "");
    expect(se.kind).toBe("ServiceEntry");
    if (se.kind !== "ServiceEntry") return;
    expect(se.spec.resolution).toBe("STATIC");
    expect(se.spec.endpoints?.map((e) => e.address)).toEqual(["2.2.2.2", "3.3.3.3"]);
    expect(se.spec.ports?.[0]).toEqual({ number: 27018, name: "mongodb", protocol: "MONGO" });
  });
});

describe("Kubernetes envelope", () => {
  it("lists each kind's API group, served versions and resource name", () => {
    expect(MESH_KINDS.VirtualService).toMatchObject({
      group: "networking.istio.io",
      versions: ["v1alpha3", "v1beta1", "v1"],
      plural: "virtualservices",
      namespaced: true,
    });
    expect(MESH_KINDS.PeerAuthentication).toMatchObject({ group: "security.istio.io", versions: ["v1beta1", "v1"] });
    expect(MESH_KINDS.Telemetry).toMatchObject({ group: "telemetry.istio.io", versions: ["v1alpha1", "v1"] });
  });

  it("accepts every served apiVersion of a group", () => {
    for (const apiVersion of [
      "networking.istio.io/v1alpha3",
      "networking.istio.io/v1beta1",
      "networking.istio.io/v1",
    ]) {
      expectValid(`apiVersion: ${apiVersion}\nkind: Gateway\nmetadata: {name: gw}\nspec: {}\n`);
    }
    for (const apiVersion of ["telemetry.istio.io/v1alpha1", "telemetry.istio.io/v1"]) {
      expectValid(`apiVersion: ${apiVersion}\nkind: Telemetry\nmetadata: {name: t}\nspec: {}\n`);
    }
  });

  it("accepts what `kubectl get -o yaml` writes: server metadata and status", () => {
    const obj = expectValid(`
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{}'
  creationTimestamp: "2024-05-01T10:00:00Z"
  generation: 3
  labels:
    app.kubernetes.io/name: reviews
  managedFields:
  - apiVersion: networking.istio.io/v1
    fieldsType: FieldsV1
    fieldsV1:
      f:spec:
        f:host: {}
    manager: kubectl-client-side-apply
    operation: Update
    time: "2024-05-01T10:00:00Z"
  name: reviews
  namespace: default
  resourceVersion: "12345"
  uid: 5f1b2c3d-0000-4000-8000-000000000000
spec:
  host: reviews
status:
  observedGeneration: 3
`);
    expect(obj.metadata).toMatchObject({ name: "reviews", namespace: "default", generation: 3 });
  });

  it("treats fields left empty (null) as unset, as the Kubernetes API server does", () => {
    const obj = expectValid(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  labels:
spec:
  hosts:
  - reviews
  exportTo:
`);
    expect(obj.metadata.labels).toBeUndefined();
    expect(obj.kind === "VirtualService" && obj.spec.exportTo).toBeUndefined();
  });

  it("validates a missing spec as empty, so required spec fields are still reported", () => {
    expectValid("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: allow-nothing}\n");
    expect(expectErrors("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: r}\n")).toEqual([
      { field: "spec.host", message: 'missing required field "host"' },
    ]);
    expect(expectErrors("apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: s}\n")).toEqual([
      { field: "spec", message: 'missing required field "spec"' },
    ]);
  });
});

describe("errors name the field and say what is wrong", () => {
  it("reports a misspelt field with its path and the field it probably meant", () => {
    const errors = expectErrors(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: external
spec:
  hosts: [db.example.com]
  resolution: STATIC
  endpoints:
  - address: 10.0.0.1
  - adress: 10.0.0.2
`);
    expect(errors).toEqual([
      { field: "spec.endpoints[1].adress", message: 'unknown field "adress" (did you mean "address"?)' },
    ]);
  });

  it("suggests the camelCase field for a snake_case spelling", () => {
    const errors = expectErrors(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  export_to: ["."]
`);
    expect(errors).toEqual([
      { field: "spec.export_to", message: 'unknown field "export_to" (did you mean "exportTo"?)' },
    ]);
  });

  it("reports an unknown field without a suggestion when nothing is close", () => {
    const errors = expectErrors(`
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
      stickiness: true
`);
    expect(errors).toEqual([
      { field: "spec.trafficPolicy.loadBalancer.stickiness", message: 'unknown field "stickiness"' },
    ]);
  });

  it("reports unknown top-level and metadata fields", () => {
    const errors = expectErrors(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: gw
  namepsace: default
spec: {}
extra: 1
`);
    expect(errors).toEqual([
      { field: "metadata.namepsace", message: 'unknown field "namepsace" (did you mean "namespace"?)' },
      { field: "extra", message: 'unknown field "extra"' },
    ]);
  });

  it("reports a wrong enum value with the allowed values", () => {
    const errors = expectErrors(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external}
spec:
  hosts: [db.example.com]
  location: INTERNAL
`);
    expect(errors).toEqual([
      { field: "spec.location", message: 'expected one of MESH_INTERNAL, MESH_EXTERNAL, got "INTERNAL"' },
    ]);
  });

  it("reports a malformed duration", () => {
    const errors = expectErrors(`
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    outlierDetection:
      interval: 30 seconds
      baseEjectionTime: 1.5s
`);
    expect(errors).toEqual([
      {
        field: "spec.trafficPolicy.outlierDetection.interval",
        message: 'expected a duration such as "30s", "1.5s" or "100ms", got "30 seconds"',
      },
    ]);
  });

  it("accepts the duration forms Istio accepts and rejects the rest", () => {
    const vs = (timeout: string) =>
      parseMeshObject({
        apiVersion: "networking.istio.io/v1",
        kind: "VirtualService",
        metadata: { name: "r" },
        spec: { http: [{ timeout, route: [{ destination: { host: "r" } }] }] },
      }).ok;
    for (const good of ["30s", "1.5s", "100ms", "1h30m", "0.5s", "250us", "10ns", "0s"])
      expect(vs(good), good).toBe(true);
    for (const bad of ["30", "s", "1.5", "-1s", "1 s", "1d", "PT30S", ""]) expect(vs(bad), bad).toBe(false);
  });

  it("reports a missing required field", () => {
    const errors = expectErrors(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts: [reviews]
  http:
  - route:
    - destination:
        subset: v1
`);
    expect(errors).toEqual([
      { field: "spec.http[0].route[0].destination.host", message: 'missing required field "host"' },
    ]);
  });

  it("reports a missing or invalid object name", () => {
    expect(expectErrors("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {}\nspec: {}\n")).toEqual([
      { field: "metadata.name", message: 'missing required field "name"' },
    ]);
    const [error] = expectErrors(
      "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: My_GW}\nspec: {}\n",
    );
    expect(error?.field).toBe("metadata.name");
    expect(error?.message).toMatch(/^name must be a DNS-1123 subdomain .*, got "My_GW"$/);
  });

  it("reports a wrong type with what was written", () => {
    const errors = expectErrors(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: reviews
  http:
  - route:
    - destination: {host: reviews}
      weight: "80"
`);
    expect(errors).toEqual([
      { field: "spec.hosts", message: 'expected a list, got "reviews"' },
      { field: "spec.http[0].route[0].weight", message: 'expected a number, got "80"' },
    ]);
  });

  it("reports out-of-range ports and non-integer numbers", () => {
    const errors = expectErrors(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external}
spec:
  hosts: [db.example.com]
  ports:
  - number: 70000
    name: tcp
  - number: 80.5
    name: http
`);
    expect(errors).toEqual([
      { field: "spec.ports[0].number", message: "port must be between 1 and 65535, got 70000" },
      { field: "spec.ports[1].number", message: "expected an integer, got 80.5" },
    ]);
  });

  it("quotes map keys that are not identifiers in the path", () => {
    const errors = expectErrors(`
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: finance}
spec:
  selector:
    matchLabels: {app: finance}
  portLevelMtls:
    8080:
      mode: STRICTER
    http:
      mode: DISABLE
`);
    expect(errors).toEqual([
      {
        field: 'spec.portLevelMtls["8080"].mode',
        message: 'expected one of UNSET, DISABLE, PERMISSIVE, STRICT, got "STRICTER"',
      },
      {
        field: "spec.portLevelMtls.http",
        message: 'expected a port number between 1 and 65535 as the key, got "http"',
      },
    ]);
  });

  it("reports an unknown kind, an unserved apiVersion and a document that is not an object", () => {
    expect(parseMeshObject({ apiVersion: "networking.istio.io/v1alpha3", kind: "EnvoyFilter" })).toMatchObject({
      ok: false,
      errors: [{ field: "kind", message: expect.stringMatching(/^unknown kind "EnvoyFilter"; Trellis serves /) }],
    });
    expect(parseMeshObject({ apiVersion: "v1", metadata: { name: "x" } })).toEqual({
      ok: false,
      errors: [{ field: "kind", message: 'missing required field "kind"' }],
    });
    expect(
      parseMeshObject({ apiVersion: "networking.istio.io/v2", kind: "Gateway", metadata: { name: "gw" }, spec: {} }),
    ).toEqual({
      ok: false,
      errors: [
        {
          field: "apiVersion",
          message:
            'expected one of networking.istio.io/v1alpha3, networking.istio.io/v1beta1, networking.istio.io/v1, got "networking.istio.io/v2"',
        },
      ],
    });
    expect(
      parseMeshObject({ apiVersion: "security.istio.io/v1", kind: "Gateway", metadata: { name: "gw" }, spec: {} }),
    ).toMatchObject({ ok: false, errors: [{ field: "apiVersion" }] });
    expect(parseMeshObject(["a"])).toEqual({
      ok: false,
      errors: [
        {
          field: "",
          message: "expected a Kubernetes-style object with apiVersion, kind, metadata and spec, got a list",
        },
      ],
    });
  });

  it("reports every problem of a document, not just the first", () => {
    const errors = expectErrors(`
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  trafficPolicy:
    loadBalancer: {simple: FASTEST}
    tls: {mode: STRICT}
  subsets:
  - labels: {version: v1}
`);
    expect(errors.map((e) => e.field)).toEqual([
      "spec.host",
      "spec.trafficPolicy.loadBalancer.simple",
      "spec.trafficPolicy.tls.mode",
      "spec.subsets[0].name",
    ]);
  });
});
