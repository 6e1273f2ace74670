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
 * the same namespace) `<svc>` — the virtual host domains Istio generates. The
 * bare name is always last (routes/virtual-host.ts relies on it).
 */
export function hostAliases(host: string, clusterDomain: string, fromNamespace?: string): string[] {
  const { aliases, namespace } = fullHostAliases(host, clusterDomain);
  return namespace === undefined || fromNamespace === namespace ? aliases : aliases.slice(0, -1);
}

/**
 * `hostAliases` for a client in the namespace that gets the bare name (the
 * most names there are), and that namespace; undefined when no client gets one.
 */
export function fullHostAliases(host: string, clusterDomain: string): { aliases: string[]; namespace?: string } {
  const suffix = `.svc.${clusterDomain}`;
  if (!host.endsWith(suffix)) return { aliases: [host] };
  const [svc, ns] = host.slice(0, -suffix.length).split(".");
  if (!svc || !ns) return { aliases: [host] };
  return { aliases: [host, `${svc}.${ns}.svc`, `${svc}.${ns}`, svc], namespace: ns };
}
