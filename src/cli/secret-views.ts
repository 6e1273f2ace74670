// Adds an authenticated workload's SDS secrets to its (shared) view. Views are
// generated per viewKey and shared by every proxy that sees the same mesh
// (views.ts); secrets are per identity, so they go on top: a new outer map that
// reuses the shared per-type maps and adds SECRET with exactly two resources,
// `default` (the identity's certificate and key) and `ROOTCA` (the trust
// bundle). The result is memoised per (shared view, identity), so a stream
// sees the very same object until the mesh, the certificate or the bundle
// changes, and an unchanged push costs nothing.
import { ROOT_CA_SECRET, tlsCertificateSecret, trustedCaSecret, WORKLOAD_CERT_SECRET } from "../envoy/secrets.js";
import { SECRET } from "../envoy/type-urls.js";
import type { WorkloadKey, WorkloadSecret } from "../security/sds/workload-secrets.js";
import { workloadKeyString } from "../security/sds/workload-secrets.js";
import type { CallerIdentity } from "../xds/auth.js";
import { type EncodedResource, encodeResource } from "../xds/resource.js";
import type { ProxyView } from "../xds/stream.js";

/** Where the secrets come from (security/sds WorkloadSecrets). */
export interface WorkloadSecretSource {
  current(key: WorkloadKey): WorkloadSecret | undefined;
  trustBundlePem(): string;
}

interface Encoded {
  secret: WorkloadSecret | undefined;
  bundle: string;
  resources: ReadonlyMap<string, EncodedResource>;
}

export class SecretViews {
  private readonly perIdentity = new Map<string, Encoded>();
  private readonly merged = new WeakMap<ProxyView, Map<string, { resources: Encoded["resources"]; view: ProxyView }>>();
  private root: { bundle: string; resource: EncodedResource } | undefined;

  constructor(private readonly source: WorkloadSecretSource) {}

  /** `base` plus the caller's secrets; anonymous callers get `base` as it is, without any secret. */
  decorate(base: ProxyView, identity: CallerIdentity): ProxyView {
    if (identity.kind !== "workload") return base;
    const id = workloadKeyString(identity);
    const resources = this.secretsOf(id, identity).resources;
    let byIdentity = this.merged.get(base);
    if (!byIdentity) {
      byIdentity = new Map();
      this.merged.set(base, byIdentity);
    }
    const hit = byIdentity.get(id);
    if (hit?.resources === resources) return hit.view;
    const view = new Map(base);
    view.set(SECRET, resources);
    byIdentity.set(id, { resources, view });
    return view;
  }

  /** Forgets an identity's encoded secrets (it has no streams left). */
  forget(key: WorkloadKey): void {
    this.perIdentity.delete(workloadKeyString(key));
  }

  private secretsOf(id: string, key: WorkloadKey): Encoded {
    const secret = this.source.current(key);
    const bundle = this.source.trustBundlePem();
    const cached = this.perIdentity.get(id);
    if (cached && cached.secret === secret && cached.bundle === bundle) return cached;
    const resources = new Map<string, EncodedResource>();
    if (secret) {
      const enc = encodeResource(
        SECRET,
        WORKLOAD_CERT_SECRET,
        tlsCertificateSecret(WORKLOAD_CERT_SECRET, secret.certificateChainPem, secret.privateKeyPem),
      );
      if (!enc.ok) throw new Error(enc.error);
      resources.set(WORKLOAD_CERT_SECRET, enc.value);
    }
    if (bundle) resources.set(ROOT_CA_SECRET, this.rootResource(bundle));
    const next: Encoded = { secret, bundle, resources };
    this.perIdentity.set(id, next);
    return next;
  }

  private rootResource(bundle: string): EncodedResource {
    if (this.root?.bundle === bundle) return this.root.resource;
    const enc = encodeResource(SECRET, ROOT_CA_SECRET, trustedCaSecret(ROOT_CA_SECRET, bundle));
    if (!enc.ok) throw new Error(enc.error);
    this.root = { bundle, resource: enc.value };
    return enc.value;
  }
}
