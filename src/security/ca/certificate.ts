// The X.509 certificates the CA issues, as DER: an X.509-SVID for a workload,
// a TLS server certificate for the xDS port, and a self-signed root. Pure:
// every input (serial, times, keys, names) is passed in and nothing is signed
// here — `tbsCertificate()` returns the bytes to sign and `certificate()`
// wraps them with the signature. Profiles follow RFC 5280 §4 and the SPIFFE
// X.509-SVID spec (github.com/spiffe/spiffe standards/X509-SVID.md).
import { createHash } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";
import {
  bitString,
  boolean,
  childrenOf,
  DerError,
  explicit,
  ia5Bytes,
  implicitPrimitive,
  namedBits,
  nullValue,
  octetString,
  oid,
  readElement,
  sequence,
  set,
  smallInteger,
  Tag,
  time,
  unsignedInteger,
  utf8String,
} from "./der.js";

/** Object identifiers, encoded once. */
const OID = {
  // RFC 5280 §4.2.1
  subjectKeyIdentifier: oid("2.5.29.14"),
  keyUsage: oid("2.5.29.15"),
  subjectAltName: oid("2.5.29.17"),
  basicConstraints: oid("2.5.29.19"),
  authorityKeyIdentifier: oid("2.5.29.35"),
  extKeyUsage: oid("2.5.29.37"),
  serverAuth: oid("1.3.6.1.5.5.7.3.1"),
  clientAuth: oid("1.3.6.1.5.5.7.3.2"),
  // X.520 attribute types
  commonName: oid("2.5.4.3"),
  organizationName: oid("2.5.4.10"),
  organizationalUnitName: oid("2.5.4.11"),
};

/** Signature algorithms a CA key may use (RFC 5758 §3.2: ECDSA has no parameters; RFC 4055: RSA has NULL). */
export const SignatureAlgorithm = {
  "ecdsa-with-SHA256": { digest: "sha256", identifier: sequence(oid("1.2.840.10045.4.3.2")) },
  "ecdsa-with-SHA384": { digest: "sha384", identifier: sequence(oid("1.2.840.10045.4.3.3")) },
  sha256WithRSAEncryption: { digest: "sha256", identifier: sequence(oid("1.2.840.113549.1.1.11"), nullValue()) },
} as const;
export type SignatureAlgorithmName = keyof typeof SignatureAlgorithm;

/** KeyUsage bits (RFC 5280 §4.2.1.3). */
const KeyUsageBit = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

function extension(id: Buffer, critical: boolean, value: Buffer): Buffer {
  // DER omits a BOOLEAN equal to its DEFAULT (FALSE), so only critical extensions carry one.
  return critical ? sequence(id, boolean(true), octetString(value)) : sequence(id, octetString(value));
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's value (not of the whole SPKI). */
export function keyIdentifier(spkiDer: Uint8Array): Buffer {
  // SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
  const [, key] = childrenOf(spkiDer, readElement(spkiDer, 0));
  if (!key || key.tag !== Tag.BIT_STRING) throw new DerError("SubjectPublicKeyInfo without a BIT STRING key");
  return createHash("sha1")
    .update(spkiDer.subarray(key.contentStart + 1, key.end)) // +1: the unused-bits octet
    .digest();
}

/** A Name with O, OU and CN (UTF8String, RFC 5280 §4.1.2.6), or the empty Name. */
export function distinguishedName(attrs: {
  organization?: string;
  organizationalUnit?: string;
  commonName?: string;
}): Buffer {
  const rdns: Buffer[] = [];
  if (attrs.organization) rdns.push(set(sequence(OID.organizationName, utf8String(attrs.organization))));
  if (attrs.organizationalUnit) {
    rdns.push(set(sequence(OID.organizationalUnitName, utf8String(attrs.organizationalUnit))));
  }
  if (attrs.commonName) rdns.push(set(sequence(OID.commonName, utf8String(attrs.commonName))));
  return sequence(...rdns);
}

/** The 4 or 16 octets of an IP address in a SAN iPAddress (RFC 5280 §4.2.1.6). */
export function ipAddressBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split(".").map(Number));
  if (!isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  let text = ip.replace(/%.*$/, "");
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted[1].split(".").map(Number);
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const groups = (s: string) => (s ? s.split(":") : []);
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => {
    out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  });
  return out;
}

/** What every profile shares. */
export interface TbsCommon {
  /** Big-endian magnitude of the (positive) serial number. */
  serial: Uint8Array;
  signatureAlgorithm: SignatureAlgorithmName;
  /** The issuer's subject Name, byte for byte as in the issuer's certificate. */
  issuer: Uint8Array;
  notBefore: number;
  notAfter: number;
  /** The subject's SubjectPublicKeyInfo, DER. */
  spki: Uint8Array;
  /** SubjectKeyIdentifier; computed from `spki` when absent (a template passes a placeholder). */
  subjectKeyId?: Uint8Array;
}

function tbs(common: TbsCommon, subject: Uint8Array, extensions: Buffer[]): Buffer {
  return sequence(
    explicit(0, smallInteger(2)), // v3
    unsignedInteger(common.serial),
    SignatureAlgorithm[common.signatureAlgorithm].identifier,
    common.issuer,
    sequence(time(common.notBefore), time(common.notAfter)),
    subject,
    common.spki,
    explicit(3, sequence(...extensions)),
  );
}

function authorityKeyId(keyId: Uint8Array): Buffer {
  return extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, keyId)));
}

function subjectKeyId(common: Pick<TbsCommon, "spki" | "subjectKeyId">): Buffer {
  return extension(OID.subjectKeyIdentifier, false, octetString(common.subjectKeyId ?? keyIdentifier(common.spki)));
}

/** BasicConstraints cA=FALSE is the empty SEQUENCE in DER (the DEFAULT is omitted). */
const END_ENTITY_BASIC_CONSTRAINTS = extension(OID.basicConstraints, true, sequence());

/**
 * Workload keys are P-256 ECDSA, so KeyUsage is digitalSignature alone: an EC key cannot encipher
 * (keyEncipherment is for RSA key transport) and TLS 1.2 ECDHE and TLS 1.3 only ever sign with it.
 * keyAgreement would be for static ECDH, which nothing here does. X509-SVID §4.3 requires
 * digitalSignature, critical, and forbids keyCertSign/cRLSign on a leaf.
 */
const LEAF_KEY_USAGE = extension(OID.keyUsage, true, namedBits([KeyUsageBit.digitalSignature]));

/** X509-SVID §4.4: if EKU is present it must have both; Envoy uses one certificate as server and client. */
const SVID_EXT_KEY_USAGE = extension(OID.extKeyUsage, false, sequence(OID.serverAuth, OID.clientAuth));
const SERVER_EXT_KEY_USAGE = extension(OID.extKeyUsage, false, sequence(OID.serverAuth));

/**
 * An X.509-SVID: empty subject, so (X509-SVID §3.1 and RFC 5280 §4.1.2.6) a critical SAN holding
 * exactly one URI, the SPIFFE ID, and nothing else. `spiffeId` must already be validated.
 */
export function workloadTbs(common: TbsCommon & { spiffeId: string; issuerKeyId: Uint8Array }): Buffer {
  const san = sequence(implicitPrimitive(6, ia5Bytes(common.spiffeId)));
  return tbs(common, sequence(), [
    END_ENTITY_BASIC_CONSTRAINTS,
    LEAF_KEY_USAGE,
    SVID_EXT_KEY_USAGE,
    subjectKeyId(common),
    authorityKeyId(common.issuerKeyId),
    extension(OID.subjectAltName, true, san),
  ]);
}

/** A TLS server certificate: empty subject and a critical SAN with the DNS names, then the IP addresses. */
export function serverTbs(
  common: TbsCommon & { dnsNames: readonly string[]; ipAddresses: readonly string[]; issuerKeyId: Uint8Array },
): Buffer {
  const names = [
    ...common.dnsNames.map((d) => implicitPrimitive(2, ia5Bytes(d))),
    ...common.ipAddresses.map((ip) => implicitPrimitive(7, ipAddressBytes(ip))),
  ];
  return tbs(common, sequence(), [
    END_ENTITY_BASIC_CONSTRAINTS,
    LEAF_KEY_USAGE,
    SERVER_EXT_KEY_USAGE,
    subjectKeyId(common),
    authorityKeyId(common.issuerKeyId),
    extension(OID.subjectAltName, true, sequence(...names)),
  ]);
}

/**
 * A self-signed root: issuer = subject, BasicConstraints cA=TRUE with pathLenConstraint 0 (it only
 * ever signs leaves directly), KeyUsage keyCertSign + cRLSign (critical), SKI. No EKU (X509-SVID §4.4
 * advises against EKU on signing certificates) and no AKI (optional on self-signed, RFC 5280 §4.2.1.1).
 */
export function rootTbs(common: Omit<TbsCommon, "issuer"> & { subject: Uint8Array }): Buffer {
  return tbs({ ...common, issuer: common.subject }, common.subject, [
    extension(OID.basicConstraints, true, sequence(boolean(true), smallInteger(0))),
    extension(OID.keyUsage, true, namedBits([KeyUsageBit.keyCertSign, KeyUsageBit.cRLSign])),
    subjectKeyId(common),
  ]);
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }. */
export function certificate(tbsDer: Uint8Array, algorithm: SignatureAlgorithmName, signature: Uint8Array): Buffer {
  return sequence(tbsDer, SignatureAlgorithm[algorithm].identifier, bitString(signature));
}
