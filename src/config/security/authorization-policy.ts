// AuthorizationPolicy: which requests a workload allows, denies, audits or
// hands to an external authorizer.

import { z } from "zod";
import { SECURITY_API_VERSIONS } from "../api-groups.js";
import { meshObjectSchema } from "../object-meta.js";
import { StringList } from "../primitives.js";
import { PolicyTargetReference, WorkloadSelector } from "../selectors.js";

export const Source = z.strictObject({
  principals: StringList.optional(),
  notPrincipals: StringList.optional(),
  requestPrincipals: StringList.optional(),
  notRequestPrincipals: StringList.optional(),
  namespaces: StringList.optional(),
  notNamespaces: StringList.optional(),
  serviceAccounts: StringList.optional(),
  notServiceAccounts: StringList.optional(),
  ipBlocks: StringList.optional(),
  notIpBlocks: StringList.optional(),
  remoteIpBlocks: StringList.optional(),
  notRemoteIpBlocks: StringList.optional(),
  trustDomains: StringList.optional(),
  notTrustDomains: StringList.optional(),
});
export type Source = z.infer<typeof Source>;

export const Operation = z.strictObject({
  hosts: StringList.optional(),
  notHosts: StringList.optional(),
  ports: StringList.optional(),
  notPorts: StringList.optional(),
  methods: StringList.optional(),
  notMethods: StringList.optional(),
  paths: StringList.optional(),
  notPaths: StringList.optional(),
});
export type Operation = z.infer<typeof Operation>;

export const Condition = z.strictObject({
  key: z.string(),
  values: StringList.optional(),
  notValues: StringList.optional(),
});
export type Condition = z.infer<typeof Condition>;

export const Rule = z.strictObject({
  from: z.array(z.strictObject({ source: Source.optional() })).optional(),
  to: z.array(z.strictObject({ operation: Operation.optional() })).optional(),
  when: z.array(Condition).optional(),
});
export type Rule = z.infer<typeof Rule>;

export const AuthorizationAction = z.enum(["ALLOW", "DENY", "AUDIT", "CUSTOM"]);

export const AuthorizationPolicySpec = z.strictObject({
  selector: WorkloadSelector.optional(),
  targetRef: PolicyTargetReference.optional(),
  targetRefs: z.array(PolicyTargetReference).optional(),
  rules: z.array(Rule).optional(),
  action: AuthorizationAction.optional(),
  /** The extension provider for action CUSTOM. */
  provider: z.strictObject({ name: z.string().optional() }).optional(),
});
export type AuthorizationPolicySpec = z.infer<typeof AuthorizationPolicySpec>;

export const AuthorizationPolicySchema = meshObjectSchema(
  "AuthorizationPolicy",
  SECURITY_API_VERSIONS,
  AuthorizationPolicySpec,
  { specRequired: false },
);
export type AuthorizationPolicy = z.infer<typeof AuthorizationPolicySchema>;
