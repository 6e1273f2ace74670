// The certificate authority: issues X.509-SVIDs and xDS server certificates,
// publishes the trust bundle, and rotates its root in three phases.
//
// Every issuance builds a TBSCertificate template on the event loop (a few
// microseconds) and hands key generation and signing to the worker pool.
// Identities are arguments from the caller (the authenticated xDS stream);
// nothing here reads anything a proxy sent.
//
// Root rotation (SPIFFE trust domain spec §4.1 and research/security.md §3.1:
// publish, then switch, then retire — never drop a root a live leaf chains to):
//
//   STABLE ──beginRootRotation──► PUBLISHED ──switchSigning──► SWITCHED ──retireOldRoot──► STABLE
//   bundle [old]                  [old, new], signs with old   [old, new], signs with new  [new]
//
// Between PUBLISHED and switchSigning, every peer must have received the new
// bundle (SDS ROOTCA, the root ConfigMap), or it would reject new leaves;
// between switchSigning and retireOldRoot every leaf signed by the old root
// must be replaced (retireOldRoot refuses while one issued here is still
// valid). The rotation state is persisted by the leader (secret-store.ts);
// other replicas follow with `adopt`.
import { availableParallelism } from "node:os";
import { SignatureAlgorithm, serverTbs, type TbsCommon, workloadTbs } from "./certificate.js";
import { locateKeySlots, PLACEHOLDER_KEY_ID, placeholderSpki } from "./issue-job.js";
import {
  BACKDATE_MS,
  type CaMaterial,
  CaMaterialError,
  generateRoot,
  loadSigner,
  randomSerial,
  type Signer,
  serialHex,
  splitPemCertificates,
} from "./signer.js";
import { spiffeIdOf, type WorkloadIdentity } from "./spiffe.js";
import { IssuePool } from "./worker-pool.js";

export const DEFAULT_WORKLOAD_TTL_MS = 24 * 3600_000;
/** Istio's MAX_WORKLOAD_CERT_TTL. */
export const MAX_WORKLOAD_TTL_MS = 90 * 24 * 3600_000;
export const MAX_SERVER_TTL_MS = 366 * 24 * 3600_000;
/** Short enough for rotation demos and tests; anything shorter is a mistake. */
export const MIN_TTL_MS = 1_000;
export const DEFAULT_ROOT_TTL_MS = 3650 * 24 * 3600_000;
export const DEFAULT_ROOT_COMMON_NAME = "Trellis Root CA";

export interface IssuedCertificate {
  /** Leaf first, then intermediates (when a provided intermediate signs); never the root. */
  certificateChainPem: string;
  /** PKCS#8 PEM of the leaf's P-256 key. */
  privateKeyPem: string;
  notBefore: Date;
  notAfter: Date;
  /** Upper-case hex, as node:crypto's X509Certificate#serialNumber prints it. */
  serialNumber: string;
  spiffeId?: string;
  /** When it was issued (notBefore is backdated for clock skew); renewAt() measures lifetime from here. */
  issuedAt: Date;
}

export interface CertificateAuthority {
  issueWorkload(id: WorkloadIdentity, opts?: { ttlMs?: number }): Promise<IssuedCertificate>;
  issueServer(dnsNames: string[], opts?: { ttlMs?: number; ipAddresses?: string[] }): Promise<IssuedCertificate>;
  /** Every root currently trusted (1, or 2 during root rotation), PEM concatenated, oldest first. */
  trustBundlePem(): string;
  onTrustBundleChange(cb: (pem: string) => void): () => void;
  /** Stops the worker threads; issuance afterwards rejects. */
  close(): Promise<void>;
}

export type RotationState = "STABLE" | "PUBLISHED" | "SWITCHED";

/** The rotation phase in a persistable form (the signing CA itself is `PersistedCa.current`). */
export type RotationSnapshot =
  | { state: "STABLE" }
  | { state: "PUBLISHED"; next: CaMaterial }
  | { state: "SWITCHED"; previousRootsPem: string };

export interface PersistedCa {
  current: CaMaterial;
  rotation: RotationSnapshot;
}

export interface RootRotation {
  state(): RotationState;
  /**
   * STABLE → PUBLISHED: the new root joins the trust bundle; signing stays with the current CA.
   * Without `next`, a new self-signed P-256 root is generated (only when the current signer is
   * itself a root); with `next`, the operator's new CA material is used.
   */
  beginRootRotation(next?: CaMaterial): Promise<void>;
  /** PUBLISHED → SWITCHED: sign with the new CA; the bundle still trusts both. */
  switchSigning(): Promise<void>;
  /**
   * SWITCHED → STABLE: the bundle drops the old root(s). Refuses while a certificate this CA
   * signed under the old root is still valid, unless `force`.
   */
  retireOldRoot(opts?: { force?: boolean }): Promise<void>;
  /** Called after switchSigning (or adopt) changed the signer: re-issue leaves so the old root can retire. */
  onSignerChange(cb: () => void): () => void;
  /** What the leader writes to the CA Secret after each phase. */
  persisted(): PersistedCa;
  /** Makes this CA match a persisted state (a follower replica, after the leader changed the Secret). */
  adopt(state: PersistedCa): void;
}

export type SigningOptions =
  | { kind: "generated"; rootTtlMs?: number; commonName?: string }
  | ({ kind: "provided" } & CaMaterial);

export interface CaOptions {
  signing: SigningOptions;
  /** Worker threads for key generation and signing; 0 runs them on the event loop (tests only). */
  workers?: number;
  /** Milliseconds since the epoch; defaults to Date.now. */
  clock?: () => number;
  /** A rotation phase to resume (from the CA Secret). */
  rotation?: RotationSnapshot;
}

export class RotationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RotationError";
  }
}

/** The default pool size: one worker per spare core, at least one, at most four. */
export function defaultWorkerCount(cores: number): number {
  return Math.max(1, Math.min(4, cores - 1));
}

const DNS_LABEL = /^(?!-)[a-zA-Z0-9-]{1,63}(?<!-)$/;

function checkDnsName(name: string): void {
  const labels = name.split(".");
  const ok =
    name.length <= 253 && labels.every((l, i) => DNS_LABEL.test(l) || (i === 0 && l === "*" && labels.length > 2));
  if (!ok) throw new RangeError(`invalid DNS name for a server certificate: ${JSON.stringify(name)}`);
}

function checkTtl(ttlMs: number, max: number): number {
  if (!Number.isFinite(ttlMs) || ttlMs < MIN_TTL_MS || ttlMs > max) {
    throw new RangeError(`certificate TTL must be between ${MIN_TTL_MS} ms and ${max} ms, got ${ttlMs}`);
  }
  return ttlMs;
}

const floorSeconds = (ms: number) => Math.floor(ms / 1000) * 1000;

class Authority implements CertificateAuthority, RootRotation {
  private current: Signer;
  private next: Signer | undefined;
  /** In SWITCHED: the roots being retired and the signer that used them. */
  private retiring: { roots: string[]; signerFingerprint: string } | undefined;
  /** The latest notAfter of everything issued here, per signer fingerprint. */
  private readonly issuedUntil = new Map<string, number>();
  private readonly bundleListeners = new Set<(pem: string) => void>();
  private readonly signerListeners = new Set<() => void>();
  private readonly spki = placeholderSpki();
  private bundle: string;

  constructor(
    signer: Signer,
    private readonly pool: IssuePool,
    private readonly clock: () => number,
    private readonly generation: { rootTtlMs: number; commonName: string },
  ) {
    this.current = signer;
    this.bundle = this.computeBundle();
  }

  async issueWorkload(id: WorkloadIdentity, opts?: { ttlMs?: number }): Promise<IssuedCertificate> {
    const spiffeId = spiffeIdOf(id);
    const ttl = checkTtl(opts?.ttlMs ?? DEFAULT_WORKLOAD_TTL_MS, MAX_WORKLOAD_TTL_MS);
    const issued = await this.issue(ttl, (common) => workloadTbs({ ...common, spiffeId }));
    return { ...issued, spiffeId };
  }

  async issueServer(dnsNames: string[], opts?: { ttlMs?: number; ipAddresses?: string[] }): Promise<IssuedCertificate> {
    const ipAddresses = opts?.ipAddresses ?? [];
    if (dnsNames.length === 0 && ipAddresses.length === 0) {
      throw new RangeError("a server certificate needs at least one DNS name or IP address");
    }
    for (const d of dnsNames) checkDnsName(d);
    const ttl = checkTtl(opts?.ttlMs ?? DEFAULT_WORKLOAD_TTL_MS, MAX_SERVER_TTL_MS);
    return this.issue(ttl, (common) => serverTbs({ ...common, dnsNames, ipAddresses }));
  }

  private async issue(
    ttlMs: number,
    build: (common: TbsCommon & { issuerKeyId: Uint8Array }) => Buffer,
  ): Promise<IssuedCertificate> {
    const made: { meta?: Omit<IssuedCertificate, "certificateChainPem" | "privateKeyPem">; intermediatesPem?: string } =
      {};
    // The template is built when a worker is free (see IssuePool.run): with the signer of that moment.
    const result = await this.pool.run(() => {
      const signer = this.current;
      const now = this.clock();
      const notBefore = floorSeconds(Math.max(now - BACKDATE_MS, signer.notBefore));
      const notAfter = floorSeconds(Math.min(now + ttlMs, signer.notAfter));
      if (notAfter <= now) {
        throw new CaMaterialError(`the signing CA expires at ${new Date(signer.notAfter).toISOString()}: rotate it`);
      }
      const serial = randomSerial();
      const tbs = build({
        serial,
        signatureAlgorithm: signer.algorithm,
        issuer: signer.subject,
        notBefore,
        notAfter,
        spki: this.spki,
        subjectKeyId: PLACEHOLDER_KEY_ID,
        issuerKeyId: signer.keyId,
      });
      // Recorded before signing: a switch while this is in flight must still count it.
      this.issuedUntil.set(signer.fingerprint, Math.max(this.issuedUntil.get(signer.fingerprint) ?? 0, notAfter));
      made.meta = {
        notBefore: new Date(notBefore),
        notAfter: new Date(notAfter),
        serialNumber: serialHex(serial),
        issuedAt: new Date(now),
      };
      made.intermediatesPem = signer.intermediatesPem;
      return {
        tbs,
        ...locateKeySlots(tbs),
        signer: signer.fingerprint,
        keyPem: signer.material.keyPem,
        digest: signer.digest,
        algorithmIdentifier: SignatureAlgorithm[signer.algorithm].identifier,
      };
    });
    if (!made.meta) throw new Error("bug: issuance finished without its template");
    return {
      certificateChainPem: result.certPem + (made.intermediatesPem ?? ""),
      privateKeyPem: result.keyPem,
      ...made.meta,
    };
  }

  trustBundlePem(): string {
    return this.bundle;
  }

  onTrustBundleChange(cb: (pem: string) => void): () => void {
    this.bundleListeners.add(cb);
    return () => this.bundleListeners.delete(cb);
  }

  onSignerChange(cb: () => void): () => void {
    this.signerListeners.add(cb);
    return () => this.signerListeners.delete(cb);
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  state(): RotationState {
    if (this.next) return "PUBLISHED";
    if (this.retiring) return "SWITCHED";
    return "STABLE";
  }

  async beginRootRotation(next?: CaMaterial): Promise<void> {
    this.expect("STABLE", "beginRootRotation");
    let material = next;
    if (!material) {
      if (!this.current.selfSigned) {
        throw new RotationError(
          "the signing CA is an intermediate of an external PKI: pass the new CA material to beginRootRotation",
        );
      }
      const { rootTtlMs: ttlMs, commonName } = this.generation;
      material = await generateRoot({ now: this.clock(), ttlMs, commonName });
    }
    const signer = loadSigner(material, this.clock());
    this.expect("STABLE", "beginRootRotation"); // nothing else may have started one while a root was generated
    this.next = signer;
    this.update(false);
  }

  async switchSigning(): Promise<void> {
    this.expect("PUBLISHED", "switchSigning");
    const next = this.next as Signer;
    const previous = this.current;
    this.retiring = {
      roots: previous.roots.filter((r) => !next.roots.includes(r)),
      signerFingerprint: previous.fingerprint,
    };
    this.current = next;
    this.next = undefined;
    this.update(true);
  }

  async retireOldRoot(opts?: { force?: boolean }): Promise<void> {
    this.expect("SWITCHED", "retireOldRoot");
    const retiring = this.retiring as NonNullable<Authority["retiring"]>;
    const until = this.issuedUntil.get(retiring.signerFingerprint) ?? 0;
    if (!opts?.force && until > this.clock()) {
      throw new RotationError(
        `certificates signed under the old root are valid until ${new Date(until).toISOString()}; ` +
          "retiring it earlier breaks peers still using them (pass force to do it anyway)",
      );
    }
    this.retiring = undefined;
    this.issuedUntil.delete(retiring.signerFingerprint);
    this.update(false);
  }

  persisted(): PersistedCa {
    const current = this.current.material;
    if (this.next) return { current, rotation: { state: "PUBLISHED", next: this.next.material } };
    if (this.retiring)
      return { current, rotation: { state: "SWITCHED", previousRootsPem: this.retiring.roots.join("") } };
    return { current, rotation: { state: "STABLE" } };
  }

  adopt(state: PersistedCa): void {
    const now = this.clock();
    const current = loadSigner(state.current, now);
    const signerChanged = current.fingerprint !== this.current.fingerprint;
    const previous = this.current;
    this.current = current;
    this.next = state.rotation.state === "PUBLISHED" ? loadSigner(state.rotation.next, now) : undefined;
    this.retiring =
      state.rotation.state === "SWITCHED"
        ? {
            roots: splitPemCertificates(state.rotation.previousRootsPem),
            signerFingerprint: signerChanged ? previous.fingerprint : (this.retiring?.signerFingerprint ?? ""),
          }
        : undefined;
    this.update(signerChanged);
  }

  private expect(state: RotationState, action: string): void {
    if (this.state() !== state) throw new RotationError(`${action} needs state ${state}, the CA is ${this.state()}`);
  }

  /** Bundle order is by age (retiring roots, then current, then next), so a switch does not reorder it. */
  private computeBundle(): string {
    const roots = [...(this.retiring?.roots ?? []), ...this.current.roots, ...(this.next?.roots ?? [])];
    return [...new Set(roots)].join("");
  }

  private update(signerChanged: boolean): void {
    const bundle = this.computeBundle();
    const bundleChanged = bundle !== this.bundle;
    this.bundle = bundle;
    if (bundleChanged) for (const cb of [...this.bundleListeners]) notify(() => cb(bundle));
    if (signerChanged) for (const cb of [...this.signerListeners]) notify(cb);
  }
}

/** A listener's exception is its own bug: it must not stop the others or the rotation step. */
function notify(cb: () => void): void {
  try {
    cb();
  } catch (err) {
    process.emitWarning(`CA listener threw: ${(err as Error).message}`, "TrellisCaWarning");
  }
}

export async function createCertificateAuthority(opts: CaOptions): Promise<CertificateAuthority & RootRotation> {
  const clock = opts.clock ?? Date.now;
  const generation = {
    rootTtlMs:
      opts.signing.kind === "generated" ? (opts.signing.rootTtlMs ?? DEFAULT_ROOT_TTL_MS) : DEFAULT_ROOT_TTL_MS,
    commonName:
      opts.signing.kind === "generated"
        ? (opts.signing.commonName ?? DEFAULT_ROOT_COMMON_NAME)
        : DEFAULT_ROOT_COMMON_NAME,
  };
  let material: CaMaterial;
  if (opts.signing.kind === "generated") {
    material = await generateRoot({ now: clock(), ttlMs: generation.rootTtlMs, commonName: generation.commonName });
  } else {
    const { kind: _, ...provided } = opts.signing;
    material = provided;
  }
  const signer = loadSigner(material, clock());
  const workers = opts.workers ?? defaultWorkerCount(availableParallelism());
  const ca = new Authority(signer, new IssuePool(workers), clock, generation);
  if (opts.rotation && opts.rotation.state !== "STABLE") ca.adopt({ current: material, rotation: opts.rotation });
  return ca;
}
