// The webhook CA shared by every injector replica, kept in one Secret in the
// control-plane namespace. The first replica to start creates it; the others
// lose the create race (409 AlreadyExists) and read it. Each replica then
// signs its own serving certificate with it, so the API server trusts all of
// them through one caBundle. Near the end of its life (less than a fifth
// left, as Istio's self-signed root rotator) one replica replaces the CA with
// an optimistic-concurrency update and keeps the old certificate as
// `previous-ca.crt`, so the caBundle trusts both until every replica has
// re-issued its serving certificate.
import { X509Certificate } from "node:crypto";
import { errorOf } from "../../src/sources/kube/http.js";
import type { KubeHttp } from "../../src/sources/kube/index.js";
import { type CertificateAuthority, createCa, loadCa, pemCertificates } from "./certs.js";

export const CA_SECRET_NAME = "trellis-injector-ca";
/** Rotate the CA when less than this share of its lifetime is left. */
export const CA_RENEW_REMAINING = 0.2;

export interface StoredCa {
  certPem: string;
  keyPem: string;
  /** The CA this one replaced (still trusted until it expires). */
  previousPem?: string;
}

export interface CaSecretStore {
  readonly description: string;
  read(): Promise<{ data: StoredCa; resourceVersion: string } | undefined>;
  /** "exists" when another replica created it first. */
  create(data: StoredCa): Promise<"created" | "exists">;
  /** "conflict" when the Secret changed since `resourceVersion` was read. */
  replace(data: StoredCa, resourceVersion: string): Promise<"replaced" | "conflict">;
}

interface SecretObject {
  metadata?: { resourceVersion?: string };
  data?: Record<string, string>;
}

const KEYS = { cert: "ca.crt", key: "ca.key", previous: "previous-ca.crt" } as const;

/** The Secret `trellis-injector-ca` (RBAC: create, and get/update of that one name). */
export class KubeCaSecretStore implements CaSecretStore {
  constructor(
    private readonly http: KubeHttp,
    private readonly namespace: string,
    private readonly name = CA_SECRET_NAME,
  ) {}

  get description(): string {
    return `Secret ${this.namespace}/${this.name}`;
  }

  private get collection(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/secrets`;
  }

  async read(): Promise<{ data: StoredCa; resourceVersion: string } | undefined> {
    const path = `${this.collection}/${encodeURIComponent(this.name)}`;
    const res = await this.http.request<SecretObject>("GET", path);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw errorOf("GET", path, res);
    const data = res.body.data ?? {};
    const text = (k: string) => (data[k] ? Buffer.from(data[k], "base64").toString("utf8") : undefined);
    const certPem = text(KEYS.cert);
    const keyPem = text(KEYS.key);
    if (!certPem || !keyPem) {
      throw new Error(`${this.description} has no ${KEYS.cert} or ${KEYS.key}: delete it to have a new CA generated`);
    }
    return {
      data: { certPem, keyPem, previousPem: text(KEYS.previous) },
      resourceVersion: res.body.metadata?.resourceVersion ?? "",
    };
  }

  private body(data: StoredCa, resourceVersion?: string) {
    const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
    return {
      apiVersion: "v1",
      kind: "Secret",
      type: "Opaque",
      metadata: {
        name: this.name,
        namespace: this.namespace,
        labels: { "app.kubernetes.io/name": "trellis-injector", "app.kubernetes.io/part-of": "trellis" },
        ...(resourceVersion ? { resourceVersion } : {}),
      },
      data: {
        [KEYS.cert]: b64(data.certPem),
        [KEYS.key]: b64(data.keyPem),
        ...(data.previousPem ? { [KEYS.previous]: b64(data.previousPem) } : {}),
      },
    };
  }

  async create(data: StoredCa): Promise<"created" | "exists"> {
    const res = await this.http.request("POST", this.collection, this.body(data));
    if (res.status === 201) return "created";
    if (res.status === 409) return "exists";
    throw errorOf("POST", this.collection, res);
  }

  async replace(data: StoredCa, resourceVersion: string): Promise<"replaced" | "conflict"> {
    const path = `${this.collection}/${encodeURIComponent(this.name)}`;
    const res = await this.http.request("PUT", path, this.body(data, resourceVersion));
    if (res.status === 200) return "replaced";
    if (res.status === 409) return "conflict";
    throw errorOf("PUT", path, res);
  }
}

export interface CaState {
  ca: CertificateAuthority;
  /** PEM certificates the API server must trust: the CA, then a previous CA that has not expired. */
  bundle: string[];
  /** What this call did: found the CA, created it (won the race), or rotated it. */
  action: "loaded" | "created" | "rotated";
}

function needsRotation(ca: CertificateAuthority, now: Date): boolean {
  const life = ca.notAfter.getTime() - ca.notBefore.getTime();
  return ca.notAfter.getTime() - now.getTime() < life * CA_RENEW_REMAINING;
}

function stillValid(pem: string | undefined, now: Date): string[] {
  if (!pem) return [];
  return pemCertificates(pem).filter((p) => {
    try {
      return new Date(new X509Certificate(p).validTo).getTime() > now.getTime();
    } catch {
      return false;
    }
  });
}

/**
 * Reads the shared CA, creating it if nobody has yet and rotating it when it is near its end.
 * Concurrent replicas converge on one CA: a lost create (409) or update (409) re-reads.
 * Throws when the Secret holds something that is not a usable CA (naming the Secret and the problem).
 */
export async function ensureCa(store: CaSecretStore, opts: { lifetimeMs: number; now?: () => Date }): Promise<CaState> {
  const now = opts.now ?? (() => new Date());
  for (let attempt = 0; attempt < 5; attempt++) {
    const found = await store.read();
    if (!found) {
      const ca = await createCa({ lifetimeMs: opts.lifetimeMs, now: now() });
      if ((await store.create({ certPem: ca.certPem, keyPem: ca.keyPem })) === "created") {
        return { ca, bundle: [ca.certPem], action: "created" };
      }
      continue; // another replica created it first: use theirs
    }
    let ca: CertificateAuthority;
    try {
      ca = await loadCa(found.data.certPem, found.data.keyPem);
    } catch (err) {
      throw new Error(`${store.description}: ${(err as Error).message}; delete it to have a new CA generated`);
    }
    if (needsRotation(ca, now())) {
      const next = await createCa({ lifetimeMs: opts.lifetimeMs, now: now() });
      const previousPem = stillValid(ca.certPem, now()).join("") || undefined;
      const stored = { certPem: next.certPem, keyPem: next.keyPem, previousPem };
      if ((await store.replace(stored, found.resourceVersion)) === "replaced") {
        return { ca: next, bundle: [next.certPem, ...stillValid(previousPem, now())], action: "rotated" };
      }
      continue; // another replica rotated it first
    }
    return { ca, bundle: [ca.certPem, ...stillValid(found.data.previousPem, now())], action: "loaded" };
  }
  throw new Error(`${store.description}: kept changing while being read (5 attempts)`);
}
