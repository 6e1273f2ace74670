// Diagnostics for AuthorizationPolicy: everything a policy says that the
// generated RBAC cannot honour as written, and what happens instead. The
// rules are compiled with the same code the translator uses
// (authorization.ts), once per situation that changes the outcome:
// a sidecar HTTP port (mistakes in the policy itself), a TCP port (HTTP-only
// fields) and a proxyless gRPC server (what gRPC cannot evaluate).
import type { AuthorizationPolicy } from "../../config/security/authorization-policy.js";
import type { Diagnostic } from "../../model/diagnostic.js";
import { refOf } from "../../model/services.js";
import { objectsOfKind } from "../../model/snapshot.js";
import type { TranslationInputs } from "../context.js";
import type { RbacAction } from "../filters/rbac.js";
import {
  actionOf,
  type CompileTarget,
  compileRule,
  DRY_RUN_ANNOTATION,
  hasTargetRefs,
  type IssueKind,
  type RuleIssue,
} from "./authorization.js";
import { AUTHZ_CODES } from "./authorization-codes.js";

const RBAC_ACTION: Record<string, RbacAction> = { ALLOW: "ALLOW", DENY: "DENY", AUDIT: "LOG", CUSTOM: "DENY" };

const CODE_OF: Partial<Record<IssueKind, string>> = {
  invalid: AUTHZ_CODES.invalidValue,
  "no-values": AUTHZ_CODES.conditionWithoutValues,
  "unknown-key": AUTHZ_CODES.unknownConditionKey,
  "unsupported-key": AUTHZ_CODES.unsupportedConditionKey,
};

export function analyzeAuthorizationPolicies(inputs: TranslationInputs): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const s of objectsOfKind<AuthorizationPolicy>(inputs.snapshot, "AuthorizationPolicy")) {
    const p = s.object;
    const object = refOf(s);
    const spec = p.spec ?? {};
    const action = actionOf(p);
    const add = (code: string, severity: Diagnostic["severity"], field: string | undefined, message: string) =>
      out.push({ code, severity, object, ...(field ? { field } : {}), message });

    if (hasTargetRefs(spec)) {
      const field = spec.targetRefs?.length ? "spec.targetRefs" : "spec.targetRef";
      if (spec.selector) {
        add(
          AUTHZ_CODES.selectorAndTargetRef,
          "error",
          field,
          "only one of selector and targetRef(s) may be set (Istio rejects this policy); with a targetRef it applies to no sidecar",
        );
      } else {
        add(
          AUTHZ_CODES.targetRefNotForSidecars,
          "warning",
          field,
          "targetRef(s) attach a policy to gateways and waypoints, which Trellis does not program: it applies to no sidecar",
        );
      }
    }
    if (action === "CUSTOM") {
      add(
        AUTHZ_CODES.customAction,
        "error",
        spec.provider?.name ? "spec.provider.name" : "spec.action",
        `CUSTOM needs an ext_authz provider${spec.provider?.name ? ` ("${spec.provider.name}")` : ""} from MeshConfig extensionProviders, which Trellis does not support: requests this policy would send to the provider are denied`,
      );
    } else if (spec.provider) {
      add(AUTHZ_CODES.providerIgnored, "warning", "spec.provider", `provider is only used with action CUSTOM; ignored`);
    }
    const dryRun = p.metadata.annotations?.[DRY_RUN_ANNOTATION];
    if (dryRun !== undefined && !["true", "false"].includes(dryRun.toLowerCase())) {
      add(
        AUTHZ_CODES.invalidDryRun,
        "warning",
        `metadata.annotations[${DRY_RUN_ANNOTATION}]`,
        `"${dryRun}" is neither "true" nor "false": the policy is enforced`,
      );
    }
    if (action === "AUDIT") {
      add(
        AUTHZ_CODES.proxylessLimit,
        "info",
        "spec.action",
        "proxyless gRPC servers have no AUDIT (RBAC LOG) action: the policy does not apply to them",
      );
    }

    const rbacAction = RBAC_ACTION[action] ?? "ALLOW";
    const target = (tcp: boolean, proxyless: boolean): CompileTarget => ({
      action: rbacAction,
      tcp,
      proxyless,
      namespace: p.metadata.namespace ?? "default",
      trustDomain: inputs.mesh.trustDomain,
    });
    const denyLike = rbacAction !== "ALLOW";
    for (const [i, rule] of (spec.rules ?? []).entries()) {
      const field = `spec.rules[${i}]`;
      const onHttp: RuleIssue[] = [];
      compileRule(rule, field, target(false, false), onHttp);
      const seen = new Set<string>();
      for (const issue of onHttp) {
        const code = CODE_OF[issue.kind];
        const key = `${issue.field}\u0000${issue.message}`;
        if (!code || seen.has(key)) continue;
        seen.add(key);
        const severity = issue.kind === "unsupported-key" ? "warning" : "error";
        add(code, severity, issue.field, `${issue.message}; ${consequence(denyLike)}`);
      }
      // An ALLOW rule already left out for its mistakes needs no more notes.
      if (!denyLike && onHttp.some((x) => CODE_OF[x.kind] !== undefined)) continue;
      const name = (f: string) => fieldName(f, rule.when ?? []);
      const onTcp: RuleIssue[] = [];
      compileRule(rule, field, target(true, false), onTcp);
      const httpOnly = [...new Set(onTcp.filter((x) => x.kind === "http-only").map((x) => name(x.field)))];
      if (httpOnly.length > 0) {
        add(
          AUTHZ_CODES.httpOnlyOnTcp,
          "info",
          field,
          `${httpOnly.join(", ")} can only be matched on HTTP: on TCP ports (and ports no service declares) ${
            denyLike
              ? "this rule applies without them, so it matches more connections"
              : "this rule matches nothing, so it allows nothing there"
          }`,
        );
      }
      const onProxyless: RuleIssue[] = [];
      compileRule(rule, field, target(false, true), onProxyless);
      const unsupported = [...new Set(onProxyless.filter((x) => x.kind === "proxyless").map((x) => name(x.field)))];
      if (unsupported.length > 0 && action !== "AUDIT") {
        add(
          AUTHZ_CODES.proxylessLimit,
          "info",
          field,
          `proxyless gRPC servers cannot evaluate ${unsupported.join(", ")} (grpc-js verifies no JWT, sees no SNI, and sees IPv4 peers as IPv4-mapped IPv6 addresses): there ${
            denyLike ? "this rule applies without them" : "this rule matches nothing"
          }`,
        );
      }
    }
  }
  return out;
}

function consequence(denyLike: boolean): string {
  return denyLike
    ? "the rule is applied without this value, so it matches more"
    : "the rule is left out, so it allows nothing";
}

/** `spec.rules[0].to[1].operation.paths[2]` → `paths`; `spec.rules[0].when[1].values` → that condition's key. */
function fieldName(field: string, when: readonly { key: string }[]): string {
  const w = field.match(/when\[(\d+)\]/);
  if (w?.[1]) return when[Number(w[1])]?.key ?? `when[${w[1]}]`;
  const m = field.match(/\.([A-Za-z]+)(\[\d+\])?$/);
  return m?.[1] ?? field;
}
