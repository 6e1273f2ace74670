// The Kubernetes envelope every mesh kind shares: apiVersion, kind, metadata,
// spec and an ignored status. Metadata is strict like everything else, but the
// fields the API server and tools write (uid, resourceVersion, managedFields …)
// are allowed explicitly so `kubectl get -o yaml` output loads unchanged.

import { z } from "zod";
import { NamespaceName, ObjectName, StringList, StringMap } from "./primitives.js";

const OwnerReference = z.strictObject({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.boolean().optional(),
  blockOwnerDeletion: z.boolean().optional(),
});

const ManagedFieldsEntry = z.strictObject({
  manager: z.string().optional(),
  operation: z.string().optional(),
  apiVersion: z.string().optional(),
  time: z.string().optional(),
  fieldsType: z.string().optional(),
  fieldsV1: z.record(z.string(), z.unknown()).optional(),
  subresource: z.string().optional(),
});

export const ObjectMeta = z.strictObject({
  name: ObjectName,
  /** Optional here; the source that loads the object fills in its default. */
  namespace: NamespaceName.optional(),
  labels: StringMap.optional(),
  annotations: StringMap.optional(),
  // Written by the API server or by tools; accepted and otherwise ignored.
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.int().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  deletionGracePeriodSeconds: z.int().optional(),
  generateName: z.string().optional(),
  selfLink: z.string().optional(),
  finalizers: StringList.optional(),
  ownerReferences: z.array(OwnerReference).optional(),
  managedFields: z.array(ManagedFieldsEntry).optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMeta>;

/**
 * A full Kubernetes-style object of one mesh kind. `spec` is required where
 * Istio's CRD requires it; elsewhere a missing spec is validated as `{}` (so
 * required fields inside it are still reported, under `spec.<field>`).
 */
export function meshObjectSchema<
  const Kind extends string,
  const ApiVersion extends string,
  Spec extends z.ZodType<Record<string, unknown>>,
>(kind: Kind, apiVersions: readonly [ApiVersion, ...ApiVersion[]], spec: Spec, options: { specRequired: boolean }) {
  return z.strictObject({
    apiVersion: z.enum(apiVersions),
    kind: z.literal(kind),
    metadata: ObjectMeta,
    // prefault: the `{}` goes through the spec schema, so its required fields are still reported.
    spec: options.specRequired ? spec : spec.prefault({} as z.input<Spec>),
    /** Written by controllers; ignored. */
    status: z.unknown().optional(),
  });
}
