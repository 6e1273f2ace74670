// X.509 for the webhook's own TLS: a self-signed CA and serving certificates
// it signs, ECDSA P-256 throughout. node:crypto can make keys and verify
// certificates but cannot build them, so certificates are built with
// @peculiar/x509 on WebCrypto (why that library: docs/injection-webhook.md).
// Pure apart from key generation and the clock (`now` is injectable).
import "reflect-metadata"; // @peculiar/x509 resolves its ASN.1 codecs through tsyringe, which needs it
import { createPrivateKey, type KeyObject, randomBytes, webcrypto, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const EC_P256 = { name: "ECDSA", namedCurve: "P-256" } as const;
const ECDSA_SHA256 = { name: "ECDSA", hash: "SHA-256" } as const;
/** Certificates start this much before "now", so a node whose clock is a little behind still accepts them. */
export const CLOCK_SKEW_MS = 5 * 60_000;

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
  notBefore: Date;
  notAfter: Date;
  /** Hex serial number, as node:crypto's X509Certificate prints it. */
  serial: string;
  /** SHA-256 fingerprint of the certificate (to compare CAs). */
  fingerprint: string;
  readonly signingKey: CryptoKey;
  readonly issuer: x509.X509Certificate;
}

export interface ServingCertificate {
  certPem: string;
  keyPem: string;
  notBefore: Date;
  notAfter: Date;
  serial: string;
  /** When to replace it: two thirds of the way from issue to expiry. */
  renewAt: Date;
  dnsNames: string[];
  ipAddresses: string[];
}

/** A positive 128-bit serial (RFC 5280: positive, at most 20 octets, unpredictable). */
function serialHex(): string {
  const b = randomBytes(16);
  b[0] = ((b[0] ?? 0) & 0x7f) | 0x40;
  return b.toString("hex");
}

async function generateKeyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(EC_P256, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey("pkcs8", key), "PRIVATE KEY");
}

/** A new self-signed CA: BasicConstraints CA:TRUE pathlen 0, KeyUsage keyCertSign + cRLSign (both critical). */
export async function createCa(opts: {
  lifetimeMs: number;
  commonName?: string;
  now?: Date;
}): Promise<CertificateAuthority> {
  const now = opts.now ?? new Date();
  const keys = await generateKeyPair();
  const notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialHex(),
    name: `CN=${opts.commonName ?? "trellis-injector-ca"}, O=trellis`,
    notBefore,
    notAfter: new Date(now.getTime() + opts.lifetimeMs),
    keys,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return loadCa(cert.toString("pem"), await pkcs8Pem(keys.privateKey));
}

/**
 * A CA from PEM (as stored in the CA Secret). Throws a message naming what is wrong:
 * not a certificate, not a CA, not an EC P-256 key, or a key that does not belong to the certificate.
 */
export async function loadCa(certPem: string, keyPem: string): Promise<CertificateAuthority> {
  let node: X509Certificate;
  try {
    node = new X509Certificate(certPem);
  } catch (err) {
    throw new Error(`CA certificate is not a PEM X.509 certificate: ${(err as Error).message}`);
  }
  if (!node.ca) throw new Error(`certificate ${node.subject} is not a CA (BasicConstraints CA:TRUE missing)`);
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new Error(`CA key is not a PEM private key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== "ec" || key.asymmetricKeyDetails?.namedCurve !== "prime256v1") {
    throw new Error(
      `CA key must be ECDSA P-256, got ${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ""}`,
    );
  }
  if (!node.checkPrivateKey(key)) throw new Error("CA key does not match the CA certificate");
  const der = key.export({ type: "pkcs8", format: "der" });
  const signingKey = await webcrypto.subtle.importKey("pkcs8", der, EC_P256, false, ["sign"]);
  return {
    certPem: node.toString(),
    keyPem: key.export({ type: "pkcs8", format: "pem" }).toString(),
    notBefore: new Date(node.validFrom),
    notAfter: new Date(node.validTo),
    serial: node.serialNumber,
    fingerprint: node.fingerprint256,
    signingKey,
    issuer: new x509.X509Certificate(node.raw),
  };
}

/** Splits `--extra-san` values into DNS names and IP addresses. */
export function classifySans(sans: readonly string[]): { dnsNames: string[]; ipAddresses: string[] } {
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const s of sans) (isIP(s) ? ipAddresses : dnsNames).push(s);
  return { dnsNames, ipAddresses };
}

/**
 * A serving certificate signed by `ca`, with a fresh P-256 key that never leaves this process:
 * KeyUsage digitalSignature (critical; ECDSA keys do not encipher), ExtendedKeyUsage serverAuth,
 * BasicConstraints CA:FALSE (critical), SubjectAltName with every DNS name and IP (Go, so the
 * API server, ignores the CN). It never outlives its CA.
 */
export async function issueServingCert(
  ca: CertificateAuthority,
  opts: { dnsNames: readonly string[]; ipAddresses?: readonly string[]; lifetimeMs: number; now?: Date },
): Promise<ServingCertificate> {
  if (opts.dnsNames.length === 0 && (opts.ipAddresses ?? []).length === 0) {
    throw new Error("a serving certificate needs at least one DNS name or IP address");
  }
  const now = opts.now ?? new Date();
  const keys = await generateKeyPair();
  const notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  const notAfter = new Date(Math.min(now.getTime() + opts.lifetimeMs, ca.notAfter.getTime()));
  const sans: x509.JsonGeneralName[] = [
    ...opts.dnsNames.map((value) => ({ type: "dns" as const, value })),
    ...(opts.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialHex(),
    subject: `CN=${opts.dnsNames[0] ?? opts.ipAddresses?.[0]}`,
    issuer: ca.issuer.subject,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.signingKey,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(sans),
      await x509.AuthorityKeyIdentifierExtension.create(ca.issuer),
    ],
  });
  const issuedAt = now.getTime();
  return {
    certPem: cert.toString("pem"),
    keyPem: await pkcs8Pem(keys.privateKey),
    notBefore,
    notAfter,
    serial: new X509Certificate(cert.toString("pem")).serialNumber,
    renewAt: new Date(issuedAt + ((notAfter.getTime() - issuedAt) * 2) / 3),
    dnsNames: [...opts.dnsNames],
    ipAddresses: [...(opts.ipAddresses ?? [])],
  };
}

/** The PEM certificates in a bundle, in order (anything between them is dropped). */
export function pemCertificates(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((p) => `${p}\n`) ?? [];
}
