// SPIFFE IDs (github.com/spiffe/spiffe standards/SPIFFE-ID.md §2): the
// grammar, checked when an ID is built from a workload identity and when one
// is read back. The identity itself always comes from the authenticated
// caller (the TokenReview result), never from anything a proxy sends.

export interface WorkloadIdentity {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export type SpiffeIdResult =
  | { ok: true; value: { trustDomain: string; path: string; segments: string[] } }
  | { ok: false; error: string };

/** SPIFFE-ID.md §2.3: implementations must handle IDs up to 2048 bytes; longer ones are refused. */
export const MAX_SPIFFE_ID_LENGTH = 2048;
/** SPIFFE-ID.md §2.1: a trust domain name is at most 255 characters. */
export const MAX_TRUST_DOMAIN_LENGTH = 255;

const TRUST_DOMAIN_CHARS = /^[a-z0-9._-]+$/;
const PATH_SEGMENT_CHARS = /^[a-zA-Z0-9._-]+$/;

export class InvalidSpiffeIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "InvalidSpiffeIdError";
  }
}

/** Why `td` is not a valid trust domain name, or undefined when it is. */
export function trustDomainError(td: string): string | undefined {
  if (td.length === 0) return "trust domain is empty";
  if (td.length > MAX_TRUST_DOMAIN_LENGTH) return `trust domain is longer than ${MAX_TRUST_DOMAIN_LENGTH} characters`;
  if (!TRUST_DOMAIN_CHARS.test(td)) {
    return `trust domain ${JSON.stringify(td)} may only contain lowercase letters, digits, ".", "-" and "_"`;
  }
  return undefined;
}

/** Why `segment` is not a valid path segment, or undefined when it is. */
export function pathSegmentError(segment: string): string | undefined {
  if (segment.length === 0) return "path segment is empty";
  if (segment === "." || segment === "..") return `path segment ${JSON.stringify(segment)} is not allowed`;
  if (!PATH_SEGMENT_CHARS.test(segment)) {
    return `path segment ${JSON.stringify(segment)} may only contain letters, digits, ".", "-" and "_"`;
  }
  return undefined;
}

/** Parses and validates a SPIFFE ID (scheme, trust domain, path; no query, fragment, port, userinfo, %-escapes). */
export function parseSpiffeId(id: string): SpiffeIdResult {
  const fail = (error: string): SpiffeIdResult => ({
    ok: false,
    error: `invalid SPIFFE ID ${JSON.stringify(id)}: ${error}`,
  });
  if (Buffer.byteLength(id, "utf8") > MAX_SPIFFE_ID_LENGTH) return fail(`longer than ${MAX_SPIFFE_ID_LENGTH} bytes`);
  // The scheme is compared case-sensitively: SPIFFE-ID.md §2 says it is "spiffe", lowercase.
  if (!id.startsWith("spiffe://")) return fail('scheme must be "spiffe://"');
  const rest = id.slice("spiffe://".length);
  const slash = rest.indexOf("/");
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  const tdError = trustDomainError(trustDomain);
  if (tdError) return fail(tdError);
  if (slash === -1) return { ok: true, value: { trustDomain, path: "", segments: [] } };
  const path = rest.slice(slash);
  const segments = path.slice(1).split("/");
  for (const segment of segments) {
    const error = pathSegmentError(segment);
    if (error) return fail(error);
  }
  return { ok: true, value: { trustDomain, path, segments } };
}

/**
 * `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>`, the Kubernetes convention Istio uses.
 * Throws InvalidSpiffeIdError when any part breaks the grammar: the callers pass identities from
 * TokenReview, so a bad one is a bug or an attack, never something to repair.
 */
export function spiffeIdOf(id: WorkloadIdentity): string {
  const parts: [string, string | undefined][] = [
    ["trust domain", trustDomainError(id.trustDomain)],
    ["namespace", pathSegmentError(id.namespace)],
    ["service account", pathSegmentError(id.serviceAccount)],
  ];
  for (const [what, error] of parts) {
    if (error) throw new InvalidSpiffeIdError(`invalid ${what} for a SPIFFE ID: ${error}`);
  }
  const spiffeId = `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
  if (spiffeId.length > MAX_SPIFFE_ID_LENGTH) {
    throw new InvalidSpiffeIdError(`SPIFFE ID longer than ${MAX_SPIFFE_ID_LENGTH} bytes`);
  }
  return spiffeId;
}
