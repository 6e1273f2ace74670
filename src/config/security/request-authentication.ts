// RequestAuthentication: which JWTs a workload accepts (issuers, keys, where
// the token is read from, which claims are copied to headers).

import { z } from "zod";
import { SECURITY_API_VERSIONS } from "../api-groups.js";
import { meshObjectSchema } from "../object-meta.js";
import { Duration, StringList } from "../primitives.js";
import { PolicyTargetReference, WorkloadSelector } from "../selectors.js";

export const JWTHeader = z.strictObject({
  name: z.string(),
  prefix: z.string().optional(),
});

export const ClaimToHeader = z.strictObject({
  header: z.string(),
  claim: z.string(),
});

export const JWTRule = z.strictObject({
  issuer: z.string().optional(),
  audiences: StringList.optional(),
  jwksUri: z.string().optional(),
  /** An inline JSON Web Key Set, as a string. */
  jwks: z.string().optional(),
  fromHeaders: z.array(JWTHeader).optional(),
  fromParams: StringList.optional(),
  outputPayloadToHeader: z.string().optional(),
  fromCookies: StringList.optional(),
  forwardOriginalToken: z.boolean().optional(),
  outputClaimToHeaders: z.array(ClaimToHeader).optional(),
  timeout: Duration.optional(),
  spaceDelimitedClaims: StringList.optional(),
});
export type JWTRule = z.infer<typeof JWTRule>;

export const RequestAuthenticationSpec = z.strictObject({
  selector: WorkloadSelector.optional(),
  targetRef: PolicyTargetReference.optional(),
  targetRefs: z.array(PolicyTargetReference).optional(),
  jwtRules: z.array(JWTRule).optional(),
});
export type RequestAuthenticationSpec = z.infer<typeof RequestAuthenticationSpec>;

export const RequestAuthenticationSchema = meshObjectSchema(
  "RequestAuthentication",
  SECURITY_API_VERSIONS,
  RequestAuthenticationSpec,
  { specRequired: false },
);
export type RequestAuthentication = z.infer<typeof RequestAuthenticationSchema>;
