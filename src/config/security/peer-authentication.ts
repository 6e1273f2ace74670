// PeerAuthentication: whether a workload accepts plaintext, mTLS or both.

import { z } from "zod";
import { SECURITY_API_VERSIONS } from "../api-groups.js";
import { meshObjectSchema } from "../object-meta.js";
import { showValue } from "../primitives.js";
import { WorkloadSelector } from "../selectors.js";

export const MutualTLSMode = z.enum(["UNSET", "DISABLE", "PERMISSIVE", "STRICT"]);
export type MutualTLSMode = z.infer<typeof MutualTLSMode>;

export const MutualTLS = z.strictObject({
  mode: MutualTLSMode.optional(),
});

/** A port number written as a map key (`8080:`); YAML and JSON map keys are strings. */
const PortKey = z.string().regex(/^([1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d{2}|655[0-2]\d|6553[0-5])$/, {
  error: (issue) => `expected a port number between 1 and 65535 as the key, got ${showValue(issue.input)}`,
});

export const PeerAuthenticationSpec = z.strictObject({
  selector: WorkloadSelector.optional(),
  mtls: MutualTLS.optional(),
  /** Port → mTLS mode; Istio only honours it together with a selector. */
  portLevelMtls: z.record(PortKey, MutualTLS).optional(),
});
export type PeerAuthenticationSpec = z.infer<typeof PeerAuthenticationSpec>;

export const PeerAuthenticationSchema = meshObjectSchema(
  "PeerAuthentication",
  SECURITY_API_VERSIONS,
  PeerAuthenticationSpec,
  { specRequired: false },
);
export type PeerAuthentication = z.infer<typeof PeerAuthenticationSchema>;
