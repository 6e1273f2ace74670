// Server-side TLS for the xDS port (15012) whose certificate can be replaced
// while the server runs: grpc-js hands every update to its HTTP/2 server's
// setSecureContext, so new handshakes use the new certificate and established
// connections keep theirs. No client certificate is asked for: proxies
// authenticate with their service-account token (auth.ts).
import * as grpc from "@grpc/grpc-js";

export interface ServingCertificate {
  /** PEM: the leaf first, then any intermediates. */
  certificateChainPem: string;
  privateKeyPem: string;
}

export class RotatingServerCredentials extends grpc.ServerCredentials {
  constructor(initial: ServingCertificate) {
    // Constructor options make the server a TLS server; TLS 1.2 is the floor (Envoy's default too).
    super({ minVersion: "TLSv1.2", requestCert: false }, contextOf(initial));
  }

  /** Serves `next` on every handshake from now on. */
  update(next: ServingCertificate): void {
    this.updateSecureContextOptions(contextOf(next));
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return this === other;
  }
}

function contextOf(c: ServingCertificate) {
  return { cert: c.certificateChainPem, key: c.privateKeyPem, minVersion: "TLSv1.2" as const };
}
