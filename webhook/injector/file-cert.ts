// Mode (a): the serving certificate comes from files (--tls-cert-file /
// --tls-key-file), typically a Secret volume written by cert-manager. The
// kubelet updates such a volume by swapping a `..data` symlink, which a watch
// on the file itself never sees, so the directories are watched and the files
// are also polled; a change is loaded only when the pair is complete and the
// key matches the certificate (a half-written update is skipped, and tried
// again on the next event).
import { X509Certificate } from "node:crypto";
import { type FSWatcher, readFileSync, watch } from "node:fs";
import { dirname } from "node:path";
import { createSecureContext } from "node:tls";
import type { TlsPair } from "./server.js";

export interface LoadedPair extends TlsPair {
  notAfter: Date;
  serial: string;
}

/** Reads and checks a certificate/key pair; throws naming the file and the problem. */
export function loadPair(certFile: string, keyFile: string): LoadedPair {
  const certPem = readFileSync(certFile, "utf8");
  const keyPem = readFileSync(keyFile, "utf8");
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certPem);
  } catch (err) {
    throw new Error(`--tls-cert-file ${certFile}: not a PEM certificate (${(err as Error).message})`);
  }
  try {
    // OpenSSL checks that the key belongs to the certificate.
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (err) {
    throw new Error(`--tls-key-file ${keyFile}: ${(err as Error).message}`);
  }
  return { certPem, keyPem, notAfter: new Date(leaf.validTo), serial: leaf.serialNumber };
}

export class FileCertificates {
  private watchers: FSWatcher[] = [];
  private poll: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private current: LoadedPair | undefined;

  constructor(
    private readonly opts: {
      certFile: string;
      keyFile: string;
      onCertificate: (pair: LoadedPair) => void;
      logger: { info(o: object, m: string): void; warn(o: object, m: string): void };
      /** Polling interval, a backstop for missed watch events (default 10 s). */
      pollMs?: number;
    },
  ) {}

  /** Loads the pair (throws if it is unusable: the process should not start) and starts watching. */
  start(): LoadedPair {
    const pair = loadPair(this.opts.certFile, this.opts.keyFile);
    this.current = pair;
    for (const dir of new Set([dirname(this.opts.certFile), dirname(this.opts.keyFile)])) {
      try {
        const w = watch(dir, () => this.changed());
        w.on("error", () => {});
        this.watchers.push(w);
      } catch (err) {
        this.opts.logger.warn(
          { dir, err: (err as Error).message },
          "cannot watch the certificate directory; polling only",
        );
      }
    }
    this.poll = setInterval(() => this.reload(), this.opts.pollMs ?? 10_000);
    this.poll.unref();
    return pair;
  }

  stop(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    clearInterval(this.poll);
    clearTimeout(this.debounce);
  }

  private changed(): void {
    clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.reload(), 100);
  }

  /** Loads the files if they changed; keeps the current pair when they are unreadable or do not match. */
  reload(): boolean {
    let pair: LoadedPair;
    try {
      pair = loadPair(this.opts.certFile, this.opts.keyFile);
    } catch (err) {
      this.opts.logger.warn(
        { err: (err as Error).message },
        "serving certificate files are not a usable pair (yet); keeping the current certificate",
      );
      return false;
    }
    if (pair.certPem === this.current?.certPem && pair.keyPem === this.current?.keyPem) return false;
    this.current = pair;
    this.opts.onCertificate(pair);
    return true;
  }
}
