// The signing side of the CA: a root Trellis generates, or a certificate and
// key the operator provides (a root, or an intermediate under their own PKI,
// like Istio's `cacerts`). Loading checks everything that would otherwise
// surface later as certificates nobody accepts: the key matches, the
// certificate is a CA allowed to sign certificates, the chain leads to a
// trusted root and nothing in it has expired.
import { createPrivateKey, generateKeyPair, type KeyObject, randomBytes, sign, X509Certificate } from "node:crypto";
import { certificate, distinguishedName, keyIdentifier, rootTbs, type SignatureAlgorithmName } from "./certificate.js";
import { bytesOf, childrenOf, contentOf, decodeOid, pem, readElement, Tag } from "./der.js";

/** A CA certificate and key as PEM, plus what it chains to. */
export interface CaMaterial {
  certPem: string;
  keyPem: string;
  /** Intermediates from the signing certificate up to and including the root (Istio's cert-chain.pem). */
  chainPem?: string;
  /** The root certificate(s) to trust (Istio's root-cert.pem); defaults to the self-signed end of the chain. */
  rootPem?: string;
}

export interface Signer {
  material: CaMaterial;
  /** The signing certificate's subject Name, byte for byte: the issuer of everything it signs. */
  subject: Buffer;
  /** Its SubjectKeyIdentifier: the AuthorityKeyIdentifier of everything it signs. */
  keyId: Buffer;
  key: KeyObject;
  algorithm: SignatureAlgorithmName;
  digest: string;
  /** Issued certificates never outlive this: the earliest notAfter along the chain. */
  notAfter: number;
  notBefore: number;
  /** PEM appended after a leaf: the signing certificate when it is not a root, then the intermediates above it. */
  intermediatesPem: string;
  /** The roots this signer chains to, PEM each. */
  roots: string[];
  /** SHA-256 fingerprint of the signing certificate. */
  fingerprint: string;
  selfSigned: boolean;
}

export class CaMaterialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CaMaterialError";
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The PEM certificates in a bundle, in order, each normalised to end in one newline. */
export function splitPemCertificates(bundle: string | undefined): string[] {
  return bundle?.match(PEM_CERT)?.map((p) => `${p}\n`) ?? [];
}

export interface CertificateFields {
  subject: Buffer;
  spki: Buffer;
  /** Extensions by OID: whether critical, and the extnValue's content. */
  extensions: Map<string, { critical: boolean; value: Buffer }>;
}

/** Reads the fields of a DER certificate that signing needs (RFC 5280 §4.1). */
export function certificateFields(der: Uint8Array): CertificateFields {
  const [tbs] = childrenOf(der, readElement(der, 0));
  if (!tbs) throw new CaMaterialError("certificate has no tbsCertificate");
  const fields = childrenOf(der, tbs);
  const base = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] version is absent in v1 certificates
  const subject = fields[base + 4];
  const spki = fields[base + 5];
  if (!subject || !spki) throw new CaMaterialError("certificate is missing its subject or public key");
  const extensions = new Map<string, { critical: boolean; value: Buffer }>();
  const extsWrapper = fields.find((f) => f.tag === 0xa3);
  if (extsWrapper) {
    const [list] = childrenOf(der, extsWrapper);
    for (const ext of list ? childrenOf(der, list) : []) {
      const parts = childrenOf(der, ext);
      const id = parts[0];
      const critical = parts.length === 3 && parts[1]?.tag === Tag.BOOLEAN && der[parts[1].contentStart] !== 0;
      const value = parts[parts.length - 1];
      if (id?.tag === Tag.OID && value?.tag === Tag.OCTET_STRING) {
        extensions.set(decodeOid(contentOf(der, id)), { critical, value: contentOf(der, value) });
      }
    }
  }
  return { subject: bytesOf(der, subject), spki: bytesOf(der, spki), extensions };
}

/** Whether a KeyUsage extension value (a BIT STRING) has bit `n` set. */
function keyUsageHas(value: Buffer, n: number): boolean {
  const bits = readElement(value, 0);
  const byte = value[bits.contentStart + 1 + (n >> 3)];
  return byte !== undefined && (byte & (0x80 >> (n & 7))) !== 0;
}

function validity(cert: X509Certificate): { notBefore: number; notAfter: number } {
  return { notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) };
}

function signingAlgorithmFor(key: KeyObject): { algorithm: SignatureAlgorithmName; digest: string } {
  if (key.asymmetricKeyType === "ec") {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === "prime256v1") return { algorithm: "ecdsa-with-SHA256", digest: "sha256" };
    if (curve === "secp384r1") return { algorithm: "ecdsa-with-SHA384", digest: "sha384" };
    throw new CaMaterialError(`CA key is EC on curve ${curve}; use P-256 or P-384`);
  }
  if (key.asymmetricKeyType === "rsa") {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 2048) throw new CaMaterialError(`CA key is RSA-${bits}; use at least 2048 bits`);
    return { algorithm: "sha256WithRSAEncryption", digest: "sha256" };
  }
  throw new CaMaterialError(`CA key type ${key.asymmetricKeyType} is not supported; use ECDSA P-256/P-384 or RSA`);
}

function parseCertificate(pemText: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pemText);
  } catch (err) {
    throw new CaMaterialError(`${what} is not a PEM X.509 certificate: ${(err as Error).message}`);
  }
}

/** The subject on one line ("O=Example, CN=Root"): node prints one attribute per line. */
function nameOf(cert: X509Certificate): string {
  // An empty subject (an SVID) comes back as undefined, whatever the typings say.
  const subject: string | undefined = cert.subject;
  return subject ? subject.split("\n").join(", ") : `(empty subject, serial ${cert.serialNumber})`;
}

function isSelfSigned(cert: X509Certificate): boolean {
  return cert.checkIssued(cert) && cert.verify(cert.publicKey);
}

function issued(issuer: X509Certificate, subject: X509Certificate): boolean {
  return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
}

/**
 * Loads operator-provided (or stored) CA material. Throws CaMaterialError naming what is wrong.
 * `now` is used to refuse a signing certificate or chain that has expired or is not yet valid.
 */
export function loadSigner(material: CaMaterial, now: number): Signer {
  const certPems = splitPemCertificates(material.certPem);
  if (certPems.length !== 1 || !certPems[0]) {
    throw new CaMaterialError(`CA certificate PEM must hold exactly one certificate, found ${certPems.length}`);
  }
  const cert = parseCertificate(certPems[0], "CA certificate");
  if (!cert.ca) throw new CaMaterialError(`CA certificate ${nameOf(cert)} is not a CA (BasicConstraints cA missing)`);
  const fields = certificateFields(cert.raw);
  const keyUsage = fields.extensions.get("2.5.29.15");
  if (keyUsage && !keyUsageHas(keyUsage.value, 5)) {
    throw new CaMaterialError(`CA certificate ${nameOf(cert)} may not sign certificates (KeyUsage lacks keyCertSign)`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(material.keyPem);
  } catch (err) {
    throw new CaMaterialError(`CA key is not a PEM private key: ${(err as Error).message}`);
  }
  const { algorithm, digest } = signingAlgorithmFor(key);
  if (!cert.checkPrivateKey(key)) throw new CaMaterialError(`CA key does not match certificate ${nameOf(cert)}`);

  const chain = splitPemCertificates(material.chainPem).map((p, i) => parseCertificate(p, `chain certificate ${i}`));
  const explicitRoots = splitPemCertificates(material.rootPem).map((p, i) => parseCertificate(p, `root ${i}`));
  for (const r of explicitRoots) {
    if (!isSelfSigned(r)) throw new CaMaterialError(`root ${nameOf(r)} is not self-signed`);
  }
  const roots = explicitRoots.length > 0 ? explicitRoots : chain.filter(isSelfSigned);
  const selfSigned = isSelfSigned(cert);
  if (selfSigned && !roots.some((r) => r.fingerprint256 === cert.fingerprint256)) roots.unshift(cert);
  if (roots.length === 0) {
    throw new CaMaterialError(
      `CA certificate ${nameOf(cert)} is not self-signed and no root was given: provide root-cert.pem or a chain ending in the root`,
    );
  }

  // Walk up from the signing certificate through the chain until a trusted root issued the last one.
  const path: X509Certificate[] = [cert];
  let top = cert;
  let anchor = selfSigned ? cert : roots.find((r) => issued(r, top));
  while (!anchor) {
    const parent = chain.find((c) => !path.includes(c) && !isSelfSigned(c) && issued(c, top));
    if (!parent) {
      throw new CaMaterialError(
        `the chain of ${nameOf(cert)} does not lead to a trusted root (stuck at ${nameOf(top)})`,
      );
    }
    path.push(parent);
    top = parent;
    anchor = roots.find((r) => issued(r, top));
  }
  const along = [...path, anchor];
  const notBefore = Math.max(...along.map((c) => validity(c).notBefore));
  const notAfter = Math.min(...along.map((c) => validity(c).notAfter));
  for (const c of along) {
    const v = validity(c);
    if (v.notAfter <= now) throw new CaMaterialError(`${nameOf(c)} expired at ${new Date(v.notAfter).toISOString()}`);
    if (v.notBefore > now)
      throw new CaMaterialError(`${nameOf(c)} is not valid before ${new Date(v.notBefore).toISOString()}`);
  }

  const ski = fields.extensions.get("2.5.29.14");
  const keyId = ski ? contentOf(ski.value, readElement(ski.value, 0)) : keyIdentifier(fields.spki);
  return {
    material,
    subject: fields.subject,
    keyId,
    key,
    algorithm,
    digest,
    notBefore,
    notAfter,
    intermediatesPem: selfSigned ? "" : path.map((c) => c.toString()).join(""),
    roots: roots.map((r) => r.toString()),
    fingerprint: cert.fingerprint256,
    selfSigned,
  };
}

/** A positive serial number of up to 127 random bits (RFC 5280 §4.1.2.2: positive, ≤ 20 octets, unpredictable). */
export function randomSerial(): Buffer {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f;
  if (b.every((x) => x === 0)) b[15] = 1;
  return b;
}

/** Upper-case hex without leading zero octets, as node:crypto's X509Certificate#serialNumber prints it. */
export function serialHex(serial: Uint8Array): string {
  let i = 0;
  while (i < serial.length - 1 && serial[i] === 0) i++;
  return Buffer.from(serial.subarray(i)).toString("hex").toUpperCase();
}

/** Certificates start this long before "now", so a peer whose clock is a little behind still accepts them. */
export const BACKDATE_MS = 60_000;

/** A new self-signed P-256 root, generated and signed off the event loop (libuv thread pool). */
export async function generateRoot(opts: { now: number; ttlMs: number; commonName: string }): Promise<CaMaterial> {
  const { spki, keyPem } = await new Promise<{ spki: Buffer; keyPem: string }>((resolve, reject) => {
    generateKeyPair(
      "ec",
      {
        namedCurve: "P-256",
        publicKeyEncoding: { type: "spki", format: "der" },
        privateKeyEncoding: { type: "pkcs8", format: "pem" },
      },
      (err, publicKey, privateKey) => (err ? reject(err) : resolve({ spki: publicKey, keyPem: privateKey })),
    );
  });
  // A random OU tells apart roots with the same CN (every rotation makes one), for people and path builders.
  const subject = distinguishedName({
    organization: "trellis",
    organizationalUnit: `root ${randomBytes(6).toString("hex")}`,
    commonName: opts.commonName,
  });
  const tbs = rootTbs({
    serial: randomSerial(),
    signatureAlgorithm: "ecdsa-with-SHA256",
    subject,
    notBefore: opts.now - BACKDATE_MS,
    notAfter: opts.now + opts.ttlMs,
    spki,
  });
  const key = createPrivateKey(keyPem);
  const signature = await new Promise<Buffer>((resolve, reject) => {
    sign("sha256", tbs, key, (err, sig) => (err ? reject(err) : resolve(sig)));
  });
  return { certPem: pem("CERTIFICATE", certificate(tbs, "ecdsa-with-SHA256", signature)), keyPem };
}
