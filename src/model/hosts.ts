// Host names as Istio resolves them: a short name in a VirtualService or
// DestinationRule is relative to that object's namespace (`reviews` in
// `default` → `reviews.default.svc.cluster.local`); `*` and `*.suffix` are
// wildcards.

export function resolveHost(host: string, namespace: string, clusterDomain: string): string {
  if (host === "*" || host.includes(".")) return host;
  return `${host}.${namespace}.svc.${clusterDomain}`;
}

/** Whether `pattern` (possibly `*` or `*.suffix`) matches the concrete host `host`. */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === "*" || pattern === host) return true;
  if (pattern.startsWith("*.")) return host.endsWith(pattern.slice(1));
  return false;
}

/**
 * The names a client may use for a service host, most specific first: the FQDN
 * and, for `<svc>.<ns>.svc.<domain>`, `<svc>.<ns>.svc`, `<svc>.<ns>` and (from
 * the same namespace) `<svc>` — the virtual host domains Istio generates.
 */
export function hostAliases(host: string, clusterDomain: string, fromNamespace?: string): string[] {
  const suffix = `.svc.${clusterDomain}`;
  if (!host.endsWith(suffix)) return [host];
  const [svc, ns] = host.slice(0, -suffix.length).split(".");
  if (!svc || !ns) return [host];
  const out = [host, `${svc}.${ns}.svc`, `${svc}.${ns}`];
  if (fromNamespace === ns) out.push(svc);
  return out;
}
