// The CA's persistence in Kubernetes, used by the leader.
//
// Lookup order, as istiod's: a user-provided `cacerts` Secret (Istio's
// plug-in CA layout: ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem;
// a root or an intermediate of the user's PKI) wins; otherwise Trellis's own
// Secret `trellis-ca`, created once: the first replica to POST it wins, the
// others get 409 AlreadyExists and read the winner's. `trellis-ca` uses the
// same key names (it is what istiod calls `istio-ca-secret`), plus the root
// rotation phase, which only the leader writes, with optimistic concurrency
// (resourceVersion). Trellis never writes to `cacerts`: rotating a plugged-in
// CA is the operator's change to that Secret.
//
// RBAC: get on secrets `cacerts` and `trellis-ca`, create on secrets, update
// on `trellis-ca`, in the control-plane namespace only.
import type { KubeHttp } from "../../sources/kube/http.js";
import { errorOf } from "../../sources/kube/http.js";
import { DEFAULT_ROOT_COMMON_NAME, DEFAULT_ROOT_TTL_MS, type PersistedCa, type RotationSnapshot } from "./authority.js";
import { type CaMaterial, generateRoot, loadSigner } from "./signer.js";

export const CA_SECRET_NAME = "trellis-ca";
export const ISTIO_CACERTS_SECRET_NAME = "cacerts";

/** What this module needs of KubeHttp (tests pass a fake). */
export type CaSecretHttp = Pick<KubeHttp, "request">;

const KEYS = {
  cert: "ca-cert.pem",
  key: "ca-key.pem",
  chain: "cert-chain.pem",
  root: "root-cert.pem",
  state: "rotation-state",
  nextCert: "next-ca-cert.pem",
  nextKey: "next-ca-key.pem",
  nextChain: "next-cert-chain.pem",
  nextRoot: "next-root-cert.pem",
  previousRoots: "previous-root-cert.pem",
} as const;

export interface StoredCa extends CaMaterial {
  secretName: string;
  /** True for Trellis's own Secret (the leader may write the rotation phase to it); false for a user's `cacerts`. */
  managed: boolean;
  resourceVersion: string;
  rotation: RotationSnapshot;
  /** Whether this call found the Secret or created it (won the race). */
  action: "loaded" | "created";
}

interface SecretObject {
  metadata?: { resourceVersion?: string };
  data?: Record<string, string>;
}

function secretPath(namespace: string, name?: string): string {
  const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}

/** The Secret's decoded data, or undefined when it does not exist. */
async function getSecret(
  http: CaSecretHttp,
  namespace: string,
  name: string,
): Promise<{ data: Record<string, string>; resourceVersion: string } | undefined> {
  const path = secretPath(namespace, name);
  const res = await http.request<SecretObject>("GET", path);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw errorOf("GET", path, res);
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.body.data ?? {})) {
    const text = Buffer.from(v, "base64").toString("utf8");
    if (text.trim() !== "") data[k] = text; // istio-ca-secret style Secrets carry empty chain/root keys
  }
  return { data, resourceVersion: res.body.metadata?.resourceVersion ?? "" };
}

function materialOf(data: Record<string, string>, keys: { cert: string; key: string; chain: string; root: string }) {
  const certPem = data[keys.cert];
  const keyPem = data[keys.key];
  if (!certPem || !keyPem) return undefined;
  const m: CaMaterial = { certPem, keyPem };
  if (data[keys.chain]) m.chainPem = data[keys.chain];
  if (data[keys.root]) m.rootPem = data[keys.root];
  return m;
}

function parseStored(
  secret: { data: Record<string, string>; resourceVersion: string },
  secretName: string,
  namespace: string,
  managed: boolean,
  now: number,
): Omit<StoredCa, "action"> {
  const where = `Secret ${namespace}/${secretName}`;
  const current = materialOf(secret.data, KEYS);
  if (!current) throw new Error(`${where} has no ${KEYS.cert} and ${KEYS.key}`);
  const check = (m: CaMaterial, what: string) => {
    try {
      loadSigner(m, now);
    } catch (err) {
      throw new Error(`${where}: ${what}: ${(err as Error).message}`);
    }
  };
  check(current, "the CA");
  let rotation: RotationSnapshot = { state: "STABLE" };
  const state = managed ? (secret.data[KEYS.state]?.trim() ?? "STABLE") : "STABLE";
  if (state === "PUBLISHED") {
    const next = materialOf(secret.data, {
      cert: KEYS.nextCert,
      key: KEYS.nextKey,
      chain: KEYS.nextChain,
      root: KEYS.nextRoot,
    });
    if (!next) throw new Error(`${where} is in rotation state PUBLISHED without ${KEYS.nextCert} and ${KEYS.nextKey}`);
    check(next, "the next CA");
    rotation = { state, next };
  } else if (state === "SWITCHED") {
    rotation = { state, previousRootsPem: secret.data[KEYS.previousRoots] ?? "" };
  } else if (state !== "STABLE") {
    throw new Error(`${where} has an unknown ${KEYS.state} ${JSON.stringify(state)}`);
  }
  return { ...current, secretName, managed, resourceVersion: secret.resourceVersion, rotation };
}

function secretBody(namespace: string, name: string, state: PersistedCa, resourceVersion?: string) {
  const data: Record<string, string> = {};
  const put = (k: string, v: string | undefined) => {
    if (v) data[k] = Buffer.from(v, "utf8").toString("base64");
  };
  put(KEYS.cert, state.current.certPem);
  put(KEYS.key, state.current.keyPem);
  put(KEYS.chain, state.current.chainPem);
  put(KEYS.root, state.current.rootPem);
  put(KEYS.state, state.rotation.state);
  if (state.rotation.state === "PUBLISHED") {
    put(KEYS.nextCert, state.rotation.next.certPem);
    put(KEYS.nextKey, state.rotation.next.keyPem);
    put(KEYS.nextChain, state.rotation.next.chainPem);
    put(KEYS.nextRoot, state.rotation.next.rootPem);
  }
  if (state.rotation.state === "SWITCHED") put(KEYS.previousRoots, state.rotation.previousRootsPem);
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "Opaque",
    metadata: {
      name,
      namespace,
      labels: {
        "app.kubernetes.io/name": "trellis",
        "app.kubernetes.io/component": "ca",
        "app.kubernetes.io/part-of": "trellis",
      },
      ...(resourceVersion ? { resourceVersion } : {}),
    },
    data,
  };
}

/** Reads one CA Secret (Trellis's own, or `cacerts` with managed=false); undefined when it does not exist. */
export async function readCaSecret(
  http: CaSecretHttp,
  namespace: string,
  name = CA_SECRET_NAME,
  opts: { managed?: boolean; clock?: () => number } = {},
): Promise<Omit<StoredCa, "action"> | undefined> {
  const secret = await getSecret(http, namespace, name);
  if (!secret) return undefined;
  return parseStored(
    secret,
    name,
    namespace,
    opts.managed ?? name !== ISTIO_CACERTS_SECRET_NAME,
    (opts.clock ?? Date.now)(),
  );
}

/** The CA Secret's material as the authority's `signing` option (the stored CA signs). */
export function storedSigning(stored: CaMaterial): { kind: "provided" } & CaMaterial {
  return {
    kind: "provided",
    certPem: stored.certPem,
    keyPem: stored.keyPem,
    ...(stored.chainPem ? { chainPem: stored.chainPem } : {}),
    ...(stored.rootPem ? { rootPem: stored.rootPem } : {}),
  };
}

/**
 * The CA to sign with: the user's `cacerts` if present, else `name`, created with a new
 * self-signed root if nobody has yet. Throws (naming the Secret) when a Secret holds something
 * that is not a usable CA. Pass `cacertsName: null` to ignore `cacerts`.
 */
export async function loadOrCreateCaSecret(
  http: CaSecretHttp,
  namespace: string,
  name = CA_SECRET_NAME,
  opts: { cacertsName?: string | null; clock?: () => number; rootTtlMs?: number; commonName?: string } = {},
): Promise<StoredCa> {
  const clock = opts.clock ?? Date.now;
  const cacertsName = opts.cacertsName === undefined ? ISTIO_CACERTS_SECRET_NAME : opts.cacertsName;
  if (cacertsName !== null && cacertsName !== name) {
    const plugged = await readCaSecret(http, namespace, cacertsName, { managed: false, clock });
    if (plugged) return { ...plugged, action: "loaded" };
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const found = await readCaSecret(http, namespace, name, { managed: true, clock });
    if (found) return { ...found, action: "loaded" };
    const root = await generateRoot({
      now: clock(),
      ttlMs: opts.rootTtlMs ?? DEFAULT_ROOT_TTL_MS,
      commonName: opts.commonName ?? DEFAULT_ROOT_COMMON_NAME,
    });
    const path = secretPath(namespace);
    const res = await http.request<SecretObject>(
      "POST",
      path,
      secretBody(namespace, name, { current: root, rotation: { state: "STABLE" } }),
    );
    if (res.status === 201 || res.status === 200) {
      return {
        ...root,
        secretName: name,
        managed: true,
        resourceVersion: res.body.metadata?.resourceVersion ?? "",
        rotation: { state: "STABLE" },
        action: "created",
      };
    }
    if (res.status !== 409) throw errorOf("POST", path, res);
    // 409: another replica created it first; read theirs.
  }
  throw new Error(`Secret ${namespace}/${name}: created and deleted concurrently 5 times`);
}

/**
 * Writes the CA and its rotation phase (the leader, after each rotation step). `conflict` when
 * the Secret changed since `resourceVersion`: re-read, adopt, and decide again.
 */
export async function saveCaSecret(
  http: CaSecretHttp,
  namespace: string,
  name: string,
  state: PersistedCa,
  resourceVersion: string,
): Promise<{ ok: true; resourceVersion: string } | { ok: false; reason: "conflict" }> {
  if (name === ISTIO_CACERTS_SECRET_NAME) throw new Error(`Trellis never writes the user's ${name} Secret`);
  const path = secretPath(namespace, name);
  const res = await http.request<SecretObject>("PUT", path, secretBody(namespace, name, state, resourceVersion));
  if (res.status === 200) return { ok: true, resourceVersion: res.body.metadata?.resourceVersion ?? "" };
  if (res.status === 409) return { ok: false, reason: "conflict" };
  throw errorOf("PUT", path, res);
}
