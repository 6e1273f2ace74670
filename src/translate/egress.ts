// Sidecar egress host patterns (`namespace/dnsName`), shared by the visibility
// of services (context.ts), of VirtualServices (routes/merge.ts) and the
// per-listener scopes (listeners/sidecar-scope.ts).
import { hostMatches } from "../model/hosts.js";
import type { IndexedVirtualService } from "../model/traffic.js";

export interface EgressHost {
  /** Resolved namespace: a name, or `*` for any; `~` (no namespace) never matches. */
  namespace: string;
  /** dnsName: FQDN, `*.suffix` or `*`. */
  host: string;
}

/** Whether an egress host string has Istio's `namespace/dnsName` form; others select nothing (and are reported). */
export function isEgressHostValid(h: string): boolean {
  const parts = h.split("/");
  return parts.length === 2 && parts[0] !== "" && parts[1] !== "";
}

/** `.` is the namespace of the proxy the Sidecar applies to (also for a root-namespace default Sidecar). */
export function parseEgressHosts(hosts: readonly string[], proxyNamespace: string): EgressHost[] {
  return hosts.filter(isEgressHostValid).map((h) => {
    const [ns = "", host = ""] = h.split("/");
    return { namespace: ns === "." ? proxyNamespace : ns, host };
  });
}

/** Istio's selection: an import from the object's namespace or from `*` whose dnsName matches. */
export function egressImports(hosts: readonly EgressHost[], namespace: string, host: string): boolean {
  return hosts.some((h) => (h.namespace === namespace || h.namespace === "*") && hostMatches(h.host, host));
}

/** A mesh-bound VirtualService is imported when one of its hosts is imported from its namespace or `*`. */
export function egressImportsVirtualService(hosts: readonly EgressHost[], vs: IndexedVirtualService): boolean {
  return hosts.some(
    (h) =>
      (h.namespace === vs.namespace || h.namespace === "*") &&
      vs.hosts.some((vh) => hostMatches(h.host, vh) || hostMatches(vh, h.host)),
  );
}
