// Which VirtualService routes a host for a proxy. Istio does not merge mesh
// VirtualServices for sidecars (istio/istio#22997; it does only for gateways):
// when several define routes for one host, exactly one applies:
// - candidates are the mesh-bound VirtualServices visible to the proxy's
//   namespace and, with a Sidecar resource, imported by its egress hosts
//   (`namespace/host` against the VirtualService's namespace and hosts);
// - they are ordered as Istio's index does: private to the proxy's namespace
//   first, then exported to it by name, then public, each by namespace/name;
// - a VirtualService naming the host exactly wins over wildcards (the first
//   one that has routes for the proxy and port); among wildcards the most
//   specific (longest) pattern wins; ties go to the first.
// The others are reported by analyzeVirtualServices (TRL3107).
import { hostMatches } from "../../model/hosts.js";
import { type IndexedVirtualService, virtualServicesFor } from "../../model/traffic.js";
import type { TranslationContext } from "../context.js";
import { type EgressHost, egressImportsVirtualService, parseEgressHosts } from "../egress.js";

function rank(vs: IndexedVirtualService, namespace: string): number {
  if (vs.exportTo.includes("*")) return 2;
  return vs.namespace === namespace ? 0 : 1;
}

// The Sidecar's egress hosts, parsed once per context rather than once per VirtualService and host.
const egressHostsByContext = new WeakMap<TranslationContext, EgressHost[]>();

function importedBySidecar(ctx: TranslationContext, vs: IndexedVirtualService): boolean {
  const egress = ctx.sidecar?.object.spec.egress;
  if (!egress) return true;
  let hosts = egressHostsByContext.get(ctx);
  if (!hosts) {
    hosts = parseEgressHosts(
      egress.flatMap((e) => e.hosts),
      ctx.proxy.namespace,
    );
    egressHostsByContext.set(ctx, hosts);
  }
  return egressImportsVirtualService(hosts, vs);
}

/** The VirtualServices that could route `host` for this proxy, in Istio's precedence order. */
export function candidateVirtualServices(ctx: TranslationContext, host: string): IndexedVirtualService[] {
  const ns = ctx.proxy.namespace;
  const found = virtualServicesFor(ctx.traffic, host, ns);
  // Most hosts have no VirtualService, or one: nothing to order (asked per service and port of every view).
  if (found.length <= 1) return found.filter((vs) => importedBySidecar(ctx, vs));
  return found
    .filter((vs) => importedBySidecar(ctx, vs))
    .map((vs, i) => ({ vs, i }))
    .sort((a, b) => rank(a.vs, ns) - rank(b.vs, ns) || a.i - b.i)
    .map((x) => x.vs);
}

/**
 * The VirtualServices that may route `host` for this proxy, in the order they
 * are tried: the ones naming the host exactly, in precedence order (the first
 * with any route for this proxy and port applies — Istio builds a virtual host
 * per VirtualService and the first to claim the host keeps it); without one,
 * the single most specific wildcard VirtualService.
 */
export function routingVirtualServices(ctx: TranslationContext, host: string): IndexedVirtualService[] {
  const candidates = candidateVirtualServices(ctx, host);
  const exact = candidates.filter((vs) => vs.hosts.includes(host));
  if (exact.length > 0) return exact;
  let best: IndexedVirtualService | undefined;
  let bestLength = -1;
  for (const vs of candidates) {
    for (const h of vs.hosts) {
      if (h !== host && hostMatches(h, host) && h.length > bestLength) {
        best = vs;
        bestLength = h.length;
      }
    }
  }
  return best ? [best] : [];
}
