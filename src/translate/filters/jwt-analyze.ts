// Diagnostics for RequestAuthentication: jwtRules the jwt_authn filter cannot
// honour as written (jwt-authn.ts), and what happens instead — always the
// direction that rejects more tokens, never one that accepts unverified ones.
import type { RequestAuthentication } from "../../config/security/request-authentication.js";
import type { Diagnostic } from "../../model/diagnostic.js";
import { refOf } from "../../model/services.js";
import { objectsOfKind } from "../../model/snapshot.js";
import type { TranslationInputs } from "../context.js";
import { hasTargetRefs } from "../policy/authorization.js";
import { AUTHZ_CODES } from "../policy/authorization-codes.js";
import { isHeaderName, isJwks, parseJwksUri } from "./jwt-authn.js";

export function analyzeRequestAuthentications(inputs: TranslationInputs): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const s of objectsOfKind<RequestAuthentication>(inputs.snapshot, "RequestAuthentication")) {
    const object = refOf(s);
    const spec = s.object.spec ?? {};
    const add = (code: string, severity: Diagnostic["severity"], field: string, message: string) =>
      out.push({ code, severity, object, field, message });
    if (hasTargetRefs(spec)) {
      add(
        AUTHZ_CODES.requestAuthnTargetRef,
        "warning",
        spec.targetRefs?.length ? "spec.targetRefs" : "spec.targetRef",
        "targetRef(s) attach a policy to gateways and waypoints, which Trellis does not program: it applies to no sidecar",
      );
    }
    for (const [i, rule] of (spec.jwtRules ?? []).entries()) {
      const at = `spec.jwtRules[${i}]`;
      if (!rule.issuer) {
        add(
          AUTHZ_CODES.jwtRuleWithoutIssuer,
          "error",
          `${at}.issuer`,
          "a jwtRule needs an issuer; the rule is left out, so tokens it was meant to accept are rejected",
        );
        continue;
      }
      const rejected = `every token from ${rule.issuer} is rejected`;
      if (rule.jwksUri) {
        const e = parseJwksUri(rule.jwksUri);
        if (!e) {
          add(AUTHZ_CODES.invalidJwksUri, "error", `${at}.jwksUri`, `not an http(s) URL with a host; ${rejected}`);
        } else if (!e.tls) {
          add(
            AUTHZ_CODES.plaintextJwksUri,
            "warning",
            `${at}.jwksUri`,
            "the keys are fetched over plain http, where anyone on the path can replace them; use https",
          );
        }
        if (rule.jwks) {
          add(AUTHZ_CODES.jwksAndJwksUri, "warning", `${at}.jwks`, "both jwks and jwksUri are set: jwksUri is used");
        }
      } else if (rule.jwks) {
        if (!isJwks(rule.jwks)) {
          add(
            AUTHZ_CODES.invalidJwks,
            "error",
            `${at}.jwks`,
            `not a JSON Web Key Set with at least one key; ${rejected}`,
          );
        }
      } else {
        add(
          AUTHZ_CODES.noJwksSource,
          "error",
          at,
          `neither jwks nor jwksUri is set (Trellis does not discover keys from the issuer: the control plane fetches no URLs); ${rejected}`,
        );
      }
      const location = (field: string, what: string) =>
        add(
          AUTHZ_CODES.invalidJwtLocation,
          "error",
          field,
          `${what}; left out (a token only found there is not verified, so it counts as no token)`,
        );
      for (const [j, h] of (rule.fromHeaders ?? []).entries()) {
        if (!isHeaderName(h.name)) location(`${at}.fromHeaders[${j}].name`, `"${h.name}" is not a header name`);
        else if (/[\0\r\n]/.test(h.prefix ?? ""))
          location(`${at}.fromHeaders[${j}].prefix`, "not a valid header value");
      }
      for (const [j, v] of (rule.fromParams ?? []).entries()) {
        if (v === "") location(`${at}.fromParams[${j}]`, "empty parameter name");
      }
      for (const [j, v] of (rule.fromCookies ?? []).entries()) {
        if (v === "") location(`${at}.fromCookies[${j}]`, "empty cookie name");
      }
      if (rule.outputPayloadToHeader !== undefined && !isHeaderName(rule.outputPayloadToHeader)) {
        add(
          AUTHZ_CODES.invalidJwtLocation,
          "error",
          `${at}.outputPayloadToHeader`,
          `"${rule.outputPayloadToHeader}" is not a header name; the payload is not forwarded`,
        );
      }
      for (const [j, c] of (rule.outputClaimToHeaders ?? []).entries()) {
        if (!isHeaderName(c.header) || c.claim === "") {
          add(
            AUTHZ_CODES.invalidJwtLocation,
            "error",
            `${at}.outputClaimToHeaders[${j}]`,
            "needs a header name and a claim; this claim is not copied",
          );
        }
      }
    }
  }
  return out;
}
