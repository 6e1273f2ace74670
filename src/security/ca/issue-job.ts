// The per-certificate work that must stay off the event loop: make a P-256
// key, put its public key into a prepared TBSCertificate, sign, wrap, PEM.
//
// The event loop builds each TBSCertificate as a template (certificate.ts)
// with a placeholder public key and a placeholder SubjectKeyIdentifier at
// offsets it knows; `runIssueJob` fills both and signs. A P-256
// SubjectPublicKeyInfo always has the same 91-byte layout (26-byte header,
// then the 65-byte uncompressed point), so the fill never changes a length
// and the template's DER stays valid.
//
// `runIssueJob` is shipped to worker threads as source text
// (Function#toString, see worker-pool.ts), so it must use nothing from this
// module's scope: only its arguments and globals (Buffer).
import type * as NodeCrypto from "node:crypto";
import { childrenOf, contentOf, decodeOid, readElement, Tag } from "./der.js";

/** SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) … } header of a P-256 SPKI. */
export const P256_SPKI_HEADER = Buffer.from("3059301306072a8648ce3d020106082a8648ce3d030107034200", "hex");
export const P256_SPKI_LENGTH = 91;
const KEY_ID_LENGTH = 20;

/** A syntactically valid P-256 SPKI whose point is all zeros except the uncompressed-form octet. */
export function placeholderSpki(): Buffer {
  const spki = Buffer.alloc(P256_SPKI_LENGTH);
  P256_SPKI_HEADER.copy(spki, 0);
  spki[P256_SPKI_HEADER.length] = 0x04;
  return spki;
}

export const PLACEHOLDER_KEY_ID: Buffer = Buffer.alloc(KEY_ID_LENGTH);

/** Where the SPKI and the SubjectKeyIdentifier's octets sit in a template TBSCertificate. */
export function locateKeySlots(tbs: Uint8Array): { spkiOffset: number; skiOffset: number } {
  const fields = childrenOf(tbs, readElement(tbs, 0));
  const spki = fields[6]; // version, serial, signature, issuer, validity, subject, subjectPublicKeyInfo
  const extsWrapper = fields[7];
  if (!spki || spki.end - spki.start !== P256_SPKI_LENGTH || extsWrapper?.tag !== 0xa3) {
    throw new Error("template TBSCertificate has no P-256 key or no extensions");
  }
  const [list] = childrenOf(tbs, extsWrapper);
  for (const ext of list ? childrenOf(tbs, list) : []) {
    const parts = childrenOf(tbs, ext);
    const id = parts[0];
    const value = parts[parts.length - 1];
    if (id?.tag === Tag.OID && value && decodeOid(contentOf(tbs, id)) === "2.5.29.14") {
      const keyId = readElement(tbs, value.contentStart, value.end);
      if (keyId.end - keyId.contentStart !== KEY_ID_LENGTH) break;
      return { spkiOffset: spki.start, skiOffset: keyId.contentStart };
    }
  }
  throw new Error("template TBSCertificate has no 20-octet SubjectKeyIdentifier");
}

export interface IssueJob {
  /** Template TBSCertificate (placeholders at the two offsets). */
  tbs: Uint8Array;
  spkiOffset: number;
  skiOffset: number;
  /** Which CA key signs (its certificate's fingerprint). */
  signer: string;
  /**
   * That key as PEM. The pool sends it to a worker only the first time the worker meets `signer`;
   * workers keep the parsed key. (Cloning a KeyObject into every message was tried first: under
   * load a worker now and then stopped answering for good, so keys cross threads once, as text.)
   */
  keyPem?: string;
  digest: string;
  /** DER AlgorithmIdentifier matching `key` and `digest`. */
  algorithmIdentifier: Uint8Array;
}

export interface IssueJobResult {
  certPem: string;
  /** PKCS#8 PEM of the new private key. */
  keyPem: string;
}

/**
 * Self-contained (see the module header): runs in a worker thread, or inline when the pool has no workers.
 *
 * The key is made with `createECDH("prime256v1").generateKeys()` (OpenSSL's EC key generation,
 * ≈50 µs) and its SPKI and PKCS#8 encodings are assembled here. Two reasons:
 * - speed: with OpenSSL 3.0 (Node 20) `KeyObject#export({type: "spki"})` costs ≈440 µs and
 *   PKCS#8 ≈190 µs, against ≈80 µs for `generateKeyPairSync` itself;
 * - a Node 20.20 deadlock: `generateKeyPairSync` + `export({format: "jwk"})` in a worker thread
 *   hung for good every few thousand keys (gdb: a GC inside ExportJWKEcKey, which holds the key's
 *   mutex, ran the weak callback of the finished KeyGenJob, whose destructor takes the same mutex).
 *   An ECDH object has no KeyObject, job or mutex.
 * A P-256 key has fixed-size encodings (RFC 5480 SPKI; RFC 5915 ECPrivateKey inside RFC 5208
 * PKCS#8), checked byte for byte against OpenSSL's in certificate.test.ts.
 */
export function runIssueJob(job: IssueJob, key: NodeCrypto.KeyObject, crypto: typeof NodeCrypto): IssueJobResult {
  // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING { 0 unused bits, point } }
  const SPKI_HEADER = "3059301306072a8648ce3d020106082a8648ce3d030107034200";
  // PrivateKeyInfo { 0, { id-ecPublicKey, prime256v1 }, OCTET STRING ECPrivateKey { 1, OCTET STRING d, [1] BIT STRING point } }
  const PKCS8_PREFIX = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420";
  const PKCS8_PUBLIC_KEY = "a144034200";
  const ecdh = crypto.createECDH("prime256v1");
  const point = ecdh.generateKeys(); // uncompressed: 04 || X || Y
  const scalar = ecdh.getPrivateKey();
  if (point.length !== 65 || point[0] !== 0x04 || scalar.length > 32)
    throw new Error("generated key is not a P-256 key");
  const d = Buffer.alloc(32); // the scalar without its leading zero octets (1 key in 256): pad to 32 (RFC 5915)
  scalar.copy(d, 32 - scalar.length);
  const tbs = Buffer.from(job.tbs);
  if (tbs.toString("hex", job.spkiOffset, job.spkiOffset + SPKI_HEADER.length / 2) !== SPKI_HEADER) {
    throw new Error("generated key does not fit the P-256 template");
  }
  point.copy(tbs, job.spkiOffset + SPKI_HEADER.length / 2);
  // SubjectKeyIdentifier, RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (the point).
  crypto.createHash("sha1").update(point).digest().copy(tbs, job.skiOffset);
  const pkcs8 = Buffer.concat([Buffer.from(PKCS8_PREFIX, "hex"), d, Buffer.from(PKCS8_PUBLIC_KEY, "hex"), point]);
  const pemOf = (label: string, der: Buffer): string => {
    const b64 = der.toString("base64");
    let out = `-----BEGIN ${label}-----\n`;
    for (let i = 0; i < b64.length; i += 64) out += `${b64.slice(i, i + 64)}\n`;
    return `${out}-----END ${label}-----\n`;
  };
  const signature = crypto.sign(job.digest, tbs, key);
  const header = (tag: number, length: number): Buffer => {
    if (length < 0x80) return Buffer.from([tag, length]);
    if (length < 0x100) return Buffer.from([tag, 0x81, length]);
    if (length < 0x10000) return Buffer.from([tag, 0x82, length >> 8, length & 0xff]);
    throw new Error("certificate too large");
  };
  const signatureValue = Buffer.concat([header(0x03, signature.length + 1), Buffer.from([0]), signature]);
  const body = Buffer.concat([tbs, job.algorithmIdentifier, signatureValue]);
  return {
    certPem: pemOf("CERTIFICATE", Buffer.concat([header(0x30, body.length), body])),
    keyPem: pemOf("PRIVATE KEY", pkcs8),
  };
}
