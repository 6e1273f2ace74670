// Mode (b): the injector makes its own serving certificate. The CA comes from
// the shared Secret (ca-secret.ts); this replica's certificate and key are
// made here, kept in memory only, and replaced at two thirds of their life.
// One loop does all of it, every `checkIntervalMs` or when the certificate is
// due, whichever is first:
//   1. read the CA Secret (create it, or rotate the CA when it is near its end);
//   2. if the CA changed, make sure the API server trusts it *before* serving
//      a certificate it signed (the caller's `ensureTrusted`);
//   3. re-issue the serving certificate if it is due or its CA changed.
// A failure keeps the current certificate (it is good until notAfter, a third
// of its lifetime away) and retries with backoff.
import { type CaSecretStore, type CaState, ensureCa } from "./ca-secret.js";
import { issueServingCert, type ServingCertificate } from "./certs.js";

export interface GeneratedCertOptions {
  store: CaSecretStore;
  caLifetimeMs: number;
  certLifetimeMs: number;
  dnsNames: string[];
  ipAddresses: string[];
  /** How often the CA Secret is re-read (default 60 s). */
  checkIntervalMs?: number;
  /** Resolves true once the API server trusts `bundle` (the caBundle is patched). */
  ensureTrusted: (bundle: readonly string[]) => Promise<boolean>;
  /** A new serving certificate to use (the first one included). */
  onCertificate: (cert: ServingCertificate, reason: "initial" | "renewed" | "ca-changed") => void;
  logger: { info(o: object, m: string): void; warn(o: object, m: string): void };
  now?: () => Date;
}

/** setTimeout cannot wait longer than 2^31-1 ms (≈24.8 days): longer delays fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class GeneratedCertificates {
  private ca: CaState | undefined;
  private cert: ServingCertificate | undefined;
  private certCa: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: GeneratedCertOptions) {}

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  /** The CA certificates the API server must trust (undefined before the first read). */
  bundle(): readonly string[] | undefined {
    return this.ca?.bundle;
  }

  current(): ServingCertificate | undefined {
    return this.cert;
  }

  caFingerprint(): string | undefined {
    return this.ca?.ca.fingerprint;
  }

  /** Resolves with the first certificate, retrying (with backoff) until the CA can be read or made. */
  async start(): Promise<ServingCertificate> {
    for (;;) {
      if (this.stopped) throw new Error("stopped before a serving certificate was made");
      try {
        await this.tick();
        if (this.cert) return this.cert;
      } catch (err) {
        this.failures++;
        const delay = Math.min(5_000, 250 * 2 ** Math.min(this.failures, 5));
        this.opts.logger.warn(
          { err: (err as Error).message, store: this.opts.store.description, retryInMs: delay },
          "cannot get the webhook CA yet; retrying",
        );
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Runs the loop now (also what the timer calls). */
  async check(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      let delay: number;
      try {
        await this.tick();
        this.failures = 0;
        delay = this.nextDelay();
      } catch (err) {
        this.failures++;
        delay = Math.min(this.opts.checkIntervalMs ?? 60_000, 500 * 2 ** Math.min(this.failures, 7));
        this.opts.logger.warn(
          { err: (err as Error).message, retryInMs: delay, servingCertNotAfter: this.cert?.notAfter.toISOString() },
          "webhook certificate check failed; keeping the current certificate",
        );
      }
      this.schedule(delay);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private nextDelay(): number {
    const interval = this.opts.checkIntervalMs ?? 60_000;
    const untilRenew = this.cert ? this.cert.renewAt.getTime() - this.now().getTime() : 0;
    return Math.max(50, Math.min(interval, untilRenew));
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.check(), Math.min(delay, MAX_TIMER_MS));
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    const state = await ensureCa(this.opts.store, { lifetimeMs: this.opts.caLifetimeMs, now: () => this.now() });
    const previous = this.ca?.ca.fingerprint;
    if (state.action !== "loaded" || previous !== state.ca.fingerprint) {
      this.opts.logger.info(
        {
          action: state.action,
          store: this.opts.store.description,
          caSerial: state.ca.serial,
          caNotAfter: state.ca.notAfter.toISOString(),
          trusted: state.bundle.length,
        },
        state.action === "created"
          ? "created the webhook CA"
          : previous && previous !== state.ca.fingerprint
            ? "webhook CA changed"
            : "loaded the webhook CA",
      );
    }
    this.ca = state;
    // The CA that signed the certificate being served may not be the current one (rotated, or the Secret was replaced).
    const caChanged = this.cert !== undefined && this.certCa !== state.ca.fingerprint;
    // Trust first, serve second: a certificate from a CA the API server does not know fails every call.
    if (caChanged && !(await this.opts.ensureTrusted(state.bundle))) {
      throw new Error("the new CA is not in the webhook caBundle yet");
    }
    const due = !this.cert || this.now().getTime() >= this.cert.renewAt.getTime();
    if (!due && !caChanged) return;
    const reason = !this.cert ? "initial" : caChanged ? "ca-changed" : "renewed";
    const cert = await issueServingCert(state.ca, {
      dnsNames: this.opts.dnsNames,
      ipAddresses: this.opts.ipAddresses,
      lifetimeMs: this.opts.certLifetimeMs,
      now: this.now(),
    });
    this.cert = cert;
    this.certCa = state.ca.fingerprint;
    this.opts.onCertificate(cert, reason);
    if (!this.stopped && reason === "initial" && !this.timer) this.schedule(this.nextDelay());
  }
}
