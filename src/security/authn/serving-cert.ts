// The control plane's own TLS certificate for xDS (15012): issued by the mesh
// CA for the control plane's service names, renewed before it expires (at the
// CA's renewAt: half its lifetime, jittered) and when a root rotation switches
// the signing CA (so the old root can retire). Each new
// certificate goes to `onRenewed`, which hot-swaps it into the TLS server.
// Failures keep the current certificate and retry with backoff.

/** What this needs from the CA (security/ca). */
export interface ServerCertificateIssuer {
  issueServer(
    dnsNames: string[],
    opts?: { ttlMs?: number; ipAddresses?: string[] },
  ): Promise<{
    certificateChainPem: string;
    privateKeyPem: string;
    notBefore: Date;
    notAfter: Date;
    serialNumber: string;
    issuedAt?: Date;
  }>;
  /** Root rotation switched the signing CA: re-issue before the old root retires. */
  onSignerChange?(cb: () => void): () => void;
}

export type IssuedServerCertificate = Awaited<ReturnType<ServerCertificateIssuer["issueServer"]>>;

export interface ServingCertificateOptions {
  ca: ServerCertificateIssuer;
  dnsNames: string[];
  ipAddresses?: string[];
  ttlMs?: number;
  /** When to renew a certificate (security/ca/rotation.ts renewAt). */
  renewAt: (cert: IssuedServerCertificate) => Date;
  onRenewed: (cert: IssuedServerCertificate) => void;
  onError?: (err: Error, attempt: number) => void;
  now?: () => number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The DNS names the control plane answers to inside the cluster: its Service
 * `<service>.<namespace>.svc` and the fully qualified `.svc.<clusterDomain>`, plus
 * whatever the operator adds (another Service, an external name).
 */
export function controlPlaneDnsNames(
  service: string,
  namespace: string,
  clusterDomain: string,
  extra: readonly string[] = [],
): string[] {
  return [...new Set([`${service}.${namespace}.svc`, `${service}.${namespace}.svc.${clusterDomain}`, ...extra])];
}

export class ServingCertificate {
  private cert: IssuedServerCertificate | undefined;
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  private readonly now: () => number;

  constructor(private readonly opts: ServingCertificateOptions) {
    this.now = opts.now ?? Date.now;
  }

  get current(): IssuedServerCertificate | undefined {
    return this.cert;
  }

  /** Issues the first certificate (rejects if that fails) and keeps it fresh until stop(). */
  async start(): Promise<IssuedServerCertificate> {
    const first = await this.issue();
    this.install(first);
    this.unsubscribe = this.opts.ca.onSignerChange?.(() => this.renew());
    return first;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.unsubscribe?.();
  }

  private issue(): Promise<IssuedServerCertificate> {
    return this.opts.ca.issueServer(this.opts.dnsNames, {
      ...(this.opts.ttlMs !== undefined ? { ttlMs: this.opts.ttlMs } : {}),
      ...(this.opts.ipAddresses?.length ? { ipAddresses: this.opts.ipAddresses } : {}),
    });
  }

  private install(cert: IssuedServerCertificate): void {
    this.cert = cert;
    this.attempt = 0;
    this.schedule(this.opts.renewAt(cert).getTime() - this.now());
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => this.renew(), Math.min(MAX_TIMER_MS, Math.max(0, delayMs)));
    this.timer.unref?.();
  }

  private renew(): void {
    if (this.stopped) return;
    this.issue().then(
      (cert) => {
        if (this.stopped) return;
        this.install(cert);
        this.opts.onRenewed(cert);
      },
      (err: unknown) => {
        this.attempt++;
        this.opts.onError?.(err instanceof Error ? err : new Error(String(err)), this.attempt);
        // Retry well before the current certificate runs out: 1 s doubling to 1 min.
        this.schedule(Math.min(60_000, 1_000 * 2 ** (this.attempt - 1)));
      },
    );
  }
}
