// Workload certificates for SDS, one per authenticated identity (namespace +
// service account): every proxy of one service account shares one key and
// certificate, so a reconnect storm of 1,000 replicas costs one issuance.
//
// - Issued when the first stream of an identity connects (acquire), before its
//   first response, so the SDS request that follows the first CDS/LDS finds it.
// - Re-issued at the CA's renewAt (half the lifetime, jittered) while any
//   stream of the identity is connected; an identity nobody uses any more is
//   dropped at that point instead of renewed. A failed issuance is retried with
//   backoff; the current certificate is kept meanwhile.
// - The trust bundle is re-announced when the CA's bundle changes (a root
//   rotation publishing or retiring a root); certificates are re-issued when
//   the CA switches its signing key, so the old root can retire.
// - onChange(key) says whose secrets changed (undefined: everyone's bundle).
//
// The identity always comes from authentication (security/authn), never from
// what a proxy claims. No Envoy knowledge here: envoy/secrets.ts shapes the
// SDS resources. Must not import xds/, cli/, translate/.

export interface WorkloadKey {
  namespace: string;
  serviceAccount: string;
}

/** What this needs from the CA (security/ca). */
export interface WorkloadCertificateIssuer {
  issueWorkload(
    id: { trustDomain: string; namespace: string; serviceAccount: string },
    opts?: { ttlMs?: number },
  ): Promise<IssuedWorkloadCertificate>;
  trustBundlePem(): string;
  onTrustBundleChange(cb: () => void): () => void;
  /** Root rotation switched the signing CA: leaves must be re-issued before the old root retires. */
  onSignerChange?(cb: () => void): () => void;
}

export interface IssuedWorkloadCertificate {
  certificateChainPem: string;
  privateKeyPem: string;
  notBefore: Date;
  notAfter: Date;
  serialNumber: string;
  spiffeId?: string;
  /** When it was issued (notBefore may be backdated); renewAt measures the lifetime from here. */
  issuedAt?: Date;
}

/** One identity's current certificate. Immutable: a renewal makes a new object. */
export interface WorkloadSecret extends WorkloadKey {
  spiffeId: string;
  certificateChainPem: string;
  privateKeyPem: string;
  notBefore: Date;
  notAfter: Date;
  serialNumber: string;
}

export interface WorkloadSecretsOptions {
  ca: WorkloadCertificateIssuer;
  trustDomain: string;
  /** Certificate lifetime; the CA's default (24 h) when unset. */
  ttlMs?: number;
  /** When to renew (security/ca/rotation.ts renewAt). */
  renewAt: (cert: IssuedWorkloadCertificate) => Date;
  /** The secrets of `key` changed (a new certificate); undefined: the trust bundle changed for everyone. */
  onChange: (key: WorkloadKey | undefined) => void;
  onError?: (err: Error, key: WorkloadKey, attempt: number) => void;
  now?: () => number;
}

interface Entry {
  key: WorkloadKey;
  refs: number;
  secret: WorkloadSecret | undefined;
  issuing: Promise<void> | undefined;
  timer: NodeJS.Timeout | undefined;
  failures: number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export function spiffeIdOf(trustDomain: string, key: WorkloadKey): string {
  return `spiffe://${trustDomain}/ns/${key.namespace}/sa/${key.serviceAccount}`;
}

export function workloadKeyString(key: WorkloadKey): string {
  return `${key.namespace}/${key.serviceAccount}`;
}

export class WorkloadSecrets {
  private readonly entries = new Map<string, Entry>();
  private bundle: string;
  private readonly unsubscribe: (() => void)[];
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly opts: WorkloadSecretsOptions) {
    this.now = opts.now ?? Date.now;
    this.bundle = opts.ca.trustBundlePem();
    this.unsubscribe = [opts.ca.onTrustBundleChange(() => this.bundleChanged())];
    const signer = opts.ca.onSignerChange?.(() => this.signerChanged());
    if (signer) this.unsubscribe.push(signer);
  }

  /** The mesh trust bundle (PEM), for every workload's ROOTCA. */
  trustBundlePem(): string {
    return this.bundle;
  }

  /** The identity's current certificate, if one has been issued and has not expired. */
  current(key: WorkloadKey): WorkloadSecret | undefined {
    const s = this.entries.get(workloadKeyString(key))?.secret;
    return s && s.notAfter.getTime() > this.now() ? s : undefined;
  }

  /**
   * Marks the identity as in use (a stream connected) and waits until it has a
   * certificate, or its first issuance failed (then it is retried in the
   * background and onChange announces it). Call the returned function when the
   * stream closes.
   */
  async acquire(key: WorkloadKey): Promise<() => void> {
    const id = workloadKeyString(key);
    let entry = this.entries.get(id);
    if (!entry) {
      entry = { key: { ...key }, refs: 0, secret: undefined, issuing: undefined, timer: undefined, failures: 0 };
      this.entries.set(id, entry);
    }
    entry.refs++;
    const e = entry;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      e.refs--;
      // Nothing issued and nobody waiting: forget it (an issued one is dropped at its renewal time).
      if (e.refs <= 0 && !e.secret && !e.issuing) this.drop(id, e);
    };
    if (!this.current(key)) await this.issue(e);
    return release;
  }

  /** Identities with a certificate or a stream, for metrics and debugging. */
  identities(): { key: WorkloadKey; refs: number; notAfter?: Date; serialNumber?: string }[] {
    return [...this.entries.values()].map((e) => ({
      key: e.key,
      refs: e.refs,
      ...(e.secret ? { notAfter: e.secret.notAfter, serialNumber: e.secret.serialNumber } : {}),
    }));
  }

  close(): void {
    this.closed = true;
    for (const u of this.unsubscribe) u();
    for (const e of this.entries.values()) clearTimeout(e.timer);
    this.entries.clear();
  }

  /** Issues (or joins the issuance in progress); never rejects: failures are retried. */
  private issue(e: Entry): Promise<void> {
    e.issuing ??= this.opts.ca
      .issueWorkload(
        { trustDomain: this.opts.trustDomain, ...e.key },
        this.opts.ttlMs !== undefined ? { ttlMs: this.opts.ttlMs } : {},
      )
      .then(
        (cert) => {
          e.issuing = undefined;
          if (this.closed || this.entries.get(workloadKeyString(e.key)) !== e) return;
          const hadOne = e.secret !== undefined;
          e.failures = 0;
          e.secret = {
            ...e.key,
            spiffeId: cert.spiffeId ?? spiffeIdOf(this.opts.trustDomain, e.key),
            certificateChainPem: cert.certificateChainPem,
            privateKeyPem: cert.privateKeyPem,
            notBefore: cert.notBefore,
            notAfter: cert.notAfter,
            serialNumber: cert.serialNumber,
          };
          this.schedule(e, this.opts.renewAt(cert).getTime() - this.now());
          // The first one reaches its streams through acquire(); a renewal must be pushed.
          if (hadOne || e.refs > 0) this.opts.onChange(e.key);
        },
        (err: unknown) => {
          e.issuing = undefined;
          if (this.closed) return;
          e.failures++;
          this.opts.onError?.(err instanceof Error ? err : new Error(String(err)), e.key, e.failures);
          // Retry while someone needs it: 1 s doubling to 1 min, well within any certificate's life.
          this.schedule(e, Math.min(60_000, 1_000 * 2 ** (e.failures - 1)));
        },
      );
    return e.issuing;
  }

  private schedule(e: Entry, delayMs: number): void {
    clearTimeout(e.timer);
    e.timer = setTimeout(() => this.due(e), Math.min(MAX_TIMER_MS, Math.max(0, delayMs)));
    e.timer.unref?.();
  }

  /** Renewal time (or a retry): renew for the streams that still use it, else forget the identity. */
  private due(e: Entry): void {
    e.timer = undefined;
    if (this.closed) return;
    const id = workloadKeyString(e.key);
    if (this.entries.get(id) !== e) return;
    if (e.refs <= 0) {
      this.drop(id, e);
      return;
    }
    void this.issue(e);
  }

  private drop(id: string, e: Entry): void {
    clearTimeout(e.timer);
    if (this.entries.get(id) === e) this.entries.delete(id);
  }

  private bundleChanged(): void {
    if (this.closed) return;
    this.bundle = this.opts.ca.trustBundlePem();
    this.opts.onChange(undefined);
  }

  private signerChanged(): void {
    if (this.closed) return;
    // Leaves signed by the previous CA must be replaced while its root is still trusted;
    // those nobody uses now are forgotten and issued afresh when needed.
    for (const [id, e] of [...this.entries]) {
      if (e.refs > 0) void this.issue(e);
      else this.drop(id, e);
    }
  }
}
