// Reading a JWT's claims WITHOUT verifying it. Used only for scheduling (how
// long a TokenReview answer may be cached, when to close the stream), never
// for identity: who the caller is comes from the TokenReview answer alone.

/** A compact JWS: three base64url segments. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function looksLikeJwt(token: string): boolean {
  return COMPACT_JWS.test(token);
}

/** The `exp` claim in ms since the epoch, or undefined when the token has none or cannot be read. */
export function unverifiedExpiry(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { exp?: unknown };
    return typeof claims.exp === "number" && Number.isFinite(claims.exp) ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
