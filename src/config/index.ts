// config/ — the zod schemas of the mesh API: Istio's kinds (networking/,
// security/, telemetry/) and Trellis's MeshConfig. They are the one source of
// truth: sources validate with them and the CRD OpenAPI schemas in manifests/
// are generated from them. This module imports nothing but zod.
//
// Every object is strict: a field Trellis does not know is an error naming its
// path, never silently dropped.

import type { z } from "zod";
import {
  NETWORKING_API_VERSIONS,
  POLICY_API_VERSIONS,
  SECURITY_API_VERSIONS,
  TELEMETRY_API_VERSIONS,
} from "./api-groups.js";
import { type FieldError, type ParseResult, toFieldErrors } from "./errors.js";
import { DestinationRuleSchema, DestinationRuleSpec } from "./networking/destination-rule.js";
import { GatewaySchema, GatewaySpec } from "./networking/gateway.js";
import { ServiceEntrySchema, ServiceEntrySpec } from "./networking/service-entry.js";
import { SidecarSchema, SidecarSpec } from "./networking/sidecar.js";
import { VirtualServiceSchema, VirtualServiceSpec } from "./networking/virtual-service.js";
import { WorkloadEntrySchema, WorkloadEntrySpec } from "./networking/workload-entry.js";
import { WorkloadGroupSchema, WorkloadGroupSpec } from "./networking/workload-group.js";
import { isPlatformKind, PLATFORM_KINDS, type PlatformObject } from "./platform.js";
import { RateLimitSchema, RateLimitSpec } from "./policy/rate-limit.js";
import { showValue } from "./primitives.js";
import { AuthorizationPolicySchema, AuthorizationPolicySpec } from "./security/authorization-policy.js";
import { PeerAuthenticationSchema, PeerAuthenticationSpec } from "./security/peer-authentication.js";
import { RequestAuthenticationSchema, RequestAuthenticationSpec } from "./security/request-authentication.js";
import { TelemetrySchema, TelemetrySpec } from "./telemetry/telemetry.js";

export * from "./api-groups.js";
export * from "./errors.js";
export * from "./mesh-config.js";
export * from "./networking/destination-rule.js";
export * from "./networking/gateway.js";
export * from "./networking/service-entry.js";
export * from "./networking/sidecar.js";
export * from "./networking/virtual-service.js";
export * from "./networking/workload-entry.js";
export * from "./networking/workload-group.js";
export * from "./object-meta.js";
export * from "./platform.js";
export * from "./policy/rate-limit.js";
export * from "./primitives.js";
export * from "./security/authorization-policy.js";
export * from "./security/peer-authentication.js";
export * from "./security/request-authentication.js";
export * from "./selectors.js";
export * from "./telemetry/telemetry.js";

function kindInfo<const ApiVersion extends string, Schema extends z.ZodType, Spec extends z.ZodType>(
  apiVersions: readonly ApiVersion[],
  plural: string,
  schema: Schema,
  spec: Spec,
) {
  const group = apiVersions[0]?.split("/")[0] ?? "";
  return {
    group,
    versions: apiVersions.map((v) => v.slice(group.length + 1)),
    apiVersions,
    /** Lower-case plural resource name, as in the CRD and the Kubernetes API path. */
    plural,
    namespaced: true as const,
    /** The whole object: apiVersion, kind, metadata, spec, status. */
    schema,
    /** The spec alone, for CRD OpenAPI generation. */
    spec,
  };
}

/** Every kind Trellis serves: kind → API group and versions, schemas, scope. */
export const MESH_KINDS = {
  ServiceEntry: kindInfo(NETWORKING_API_VERSIONS, "serviceentries", ServiceEntrySchema, ServiceEntrySpec),
  WorkloadEntry: kindInfo(NETWORKING_API_VERSIONS, "workloadentries", WorkloadEntrySchema, WorkloadEntrySpec),
  WorkloadGroup: kindInfo(NETWORKING_API_VERSIONS, "workloadgroups", WorkloadGroupSchema, WorkloadGroupSpec),
  VirtualService: kindInfo(NETWORKING_API_VERSIONS, "virtualservices", VirtualServiceSchema, VirtualServiceSpec),
  DestinationRule: kindInfo(NETWORKING_API_VERSIONS, "destinationrules", DestinationRuleSchema, DestinationRuleSpec),
  Gateway: kindInfo(NETWORKING_API_VERSIONS, "gateways", GatewaySchema, GatewaySpec),
  Sidecar: kindInfo(NETWORKING_API_VERSIONS, "sidecars", SidecarSchema, SidecarSpec),
  PeerAuthentication: kindInfo(
    SECURITY_API_VERSIONS,
    "peerauthentications",
    PeerAuthenticationSchema,
    PeerAuthenticationSpec,
  ),
  AuthorizationPolicy: kindInfo(
    SECURITY_API_VERSIONS,
    "authorizationpolicies",
    AuthorizationPolicySchema,
    AuthorizationPolicySpec,
  ),
  RequestAuthentication: kindInfo(
    SECURITY_API_VERSIONS,
    "requestauthentications",
    RequestAuthenticationSchema,
    RequestAuthenticationSpec,
  ),
  Telemetry: kindInfo(TELEMETRY_API_VERSIONS, "telemetries", TelemetrySchema, TelemetrySpec),
  RateLimit: kindInfo(POLICY_API_VERSIONS, "ratelimits", RateLimitSchema, RateLimitSpec),
};

export type MeshKind = keyof typeof MESH_KINDS;

/** The parsed object of one kind, e.g. `MeshObjectOf<"VirtualService">`. */
export type MeshObjectOf<K extends MeshKind> = z.output<(typeof MESH_KINDS)[K]["schema"]>;

/** Any mesh object; `kind` discriminates and types `spec`. */
export type MeshObject = { [K in MeshKind]: MeshObjectOf<K> }[MeshKind];

export function isMeshKind(kind: unknown): kind is MeshKind {
  return typeof kind === "string" && Object.hasOwn(MESH_KINDS, kind);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Drops object fields whose value is null, recursively, as the Kubernetes API
 * server prunes them for CRDs: `exportTo:` with nothing after it means "not
 * set", not "invalid". Nulls inside lists stay and are reported.
 */
function pruneNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(pruneNulls);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (field !== null) out[key] = pruneNulls(field);
  }
  return out;
}

function fail(field: string, message: string): { ok: false; errors: FieldError[] } {
  return { ok: false, errors: [{ field, message }] };
}

/**
 * Validates one decoded YAML/JSON document as a mesh object. Never throws on
 * user input: failures come back as field errors with dotted paths.
 */
export function parseMeshObject(doc: unknown): ParseResult<MeshObject> {
  if (!isPlainObject(doc)) {
    return fail(
      "",
      `expected a Kubernetes-style object with apiVersion, kind, metadata and spec, got ${showValue(doc)}`,
    );
  }
  const input = pruneNulls(doc) as Record<string, unknown>;
  const kind = input.kind;
  if (kind === undefined) return fail("kind", 'missing required field "kind"');
  if (!isMeshKind(kind)) {
    return fail("kind", `unknown kind ${showValue(kind)}; Trellis serves ${Object.keys(MESH_KINDS).sort().join(", ")}`);
  }
  const schema: z.ZodType = MESH_KINDS[kind].schema;
  const result = schema.safeParse(input, { reportInput: true });
  if (!result.success) return { ok: false, errors: toFieldErrors(result.error, schema) };
  return { ok: true, value: result.data as MeshObject };
}

/** A mesh object or one of the Kubernetes objects the model reads (Service, EndpointSlice, Pod, Namespace, Node). */
export type SourceObject = MeshObject | PlatformObject;

/**
 * Like parseMeshObject, but also accepts the platform kinds, validated
 * leniently (see platform.ts): what a Kubernetes source or a directory of
 * `kubectl get -o yaml` output holds.
 */
export function parseSourceObject(doc: unknown): ParseResult<SourceObject> {
  if (isPlainObject(doc) && isPlatformKind(doc.kind)) {
    const info = PLATFORM_KINDS[doc.kind];
    const schema: z.ZodType = info.schema;
    const result = schema.safeParse(pruneNulls(doc), { reportInput: true });
    if (!result.success) return { ok: false, errors: toFieldErrors(result.error, schema) };
    return { ok: true, value: result.data as PlatformObject };
  }
  return parseMeshObject(doc);
}
