// A minimal DER (ITU-T X.690) encoder and reader: exactly what building and
// reading X.509 certificates needs, nothing more. The encoder works on
// Buffers and never validates what the caller composes (certificate.ts is the
// only composer and its output is checked by openssl and @peculiar/x509 in the
// tests); the reader is strict about lengths because it reads user-provided
// CA certificates.

/** Universal and context-specific tags used by X.509. */
export const Tag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** The length octets: short form below 128, else long form with the fewest length bytes (X.690 §10.1). */
export function encodeLength(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`invalid DER length ${n}`);
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with a single-byte tag. */
export function tlv(tag: number, content: Uint8Array): Buffer {
  const len = encodeLength(content.length);
  const out = Buffer.allocUnsafe(1 + len.length + content.length);
  out[0] = tag;
  len.copy(out, 1);
  out.set(content, 1 + len.length);
  return out;
}

export function sequence(...children: Uint8Array[]): Buffer {
  return tlv(Tag.SEQUENCE, Buffer.concat(children));
}

/** SET OF, with the elements sorted by their encodings as DER requires (X.690 §11.6). */
export function set(...children: Uint8Array[]): Buffer {
  const sorted = [...children].sort((a, b) => Buffer.compare(a, b));
  return tlv(Tag.SET, Buffer.concat(sorted));
}

/** [n] EXPLICIT: a constructed context-specific wrapper around one encoded value. */
export function explicit(n: number, inner: Uint8Array): Buffer {
  if (n < 0 || n > 30) throw new RangeError(`context tag ${n} needs a multi-byte tag`);
  return tlv(0xa0 | n, inner);
}

/** [n] IMPLICIT on a primitive value (e.g. GeneralName's dNSName [2], uniformResourceIdentifier [6]). */
export function implicitPrimitive(n: number, content: Uint8Array): Buffer {
  if (n < 0 || n > 30) throw new RangeError(`context tag ${n} needs a multi-byte tag`);
  return tlv(0x80 | n, content);
}

export function boolean(v: boolean): Buffer {
  return Buffer.from([Tag.BOOLEAN, 1, v ? 0xff : 0x00]);
}

export function nullValue(): Buffer {
  return Buffer.from([Tag.NULL, 0]);
}

/**
 * A non-negative INTEGER from its big-endian magnitude: leading zero octets are dropped and one
 * is added back when the top bit is set, so the value stays positive (X.690 §8.3.2).
 */
export function unsignedInteger(magnitude: Uint8Array): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const body = magnitude.subarray(i);
  if (body.length === 0) return Buffer.from([Tag.INTEGER, 1, 0]);
  const pad = (body[0] ?? 0) & 0x80 ? 1 : 0;
  const content = Buffer.alloc(body.length + pad);
  content.set(body, pad);
  return tlv(Tag.INTEGER, content);
}

export function smallInteger(n: number): Buffer {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`smallInteger takes a non-negative integer, got ${n}`);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return unsignedInteger(Uint8Array.from(bytes.length ? bytes : [0]));
}

/** OBJECT IDENTIFIER from dotted form: first two arcs as 40·a+b, every arc base-128 (X.690 §8.19). */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split(".").map((s) => {
    if (!/^(0|[1-9][0-9]*)$/.test(s)) throw new Error(`invalid OID ${dotted}`);
    return Number(s);
  });
  const [a, b, ...rest] = arcs;
  if (a === undefined || b === undefined || a > 2 || (a < 2 && b > 39)) throw new Error(`invalid OID ${dotted}`);
  const out: number[] = [];
  for (const arc of [a * 40 + b, ...rest]) {
    if (!Number.isSafeInteger(arc)) throw new Error(`invalid OID ${dotted}`);
    const groups: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.unshift((v & 0x7f) | 0x80);
    out.push(...groups);
  }
  return tlv(Tag.OID, Uint8Array.from(out));
}

export function octetString(content: Uint8Array): Buffer {
  return tlv(Tag.OCTET_STRING, content);
}

/** BIT STRING whose length is a whole number of octets (keys, signatures). */
export function bitString(content: Uint8Array): Buffer {
  const body = Buffer.allocUnsafe(content.length + 1);
  body[0] = 0;
  body.set(content, 1);
  return tlv(Tag.BIT_STRING, body);
}

/**
 * A NamedBitList BIT STRING (KeyUsage): bit 0 is the most significant bit of the first octet, and
 * DER drops trailing zero bits (X.690 §11.2.2), so `{digitalSignature}` encodes as 03 02 07 80.
 */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return Buffer.from([Tag.BIT_STRING, 1, 0]);
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) {
    if (!Number.isInteger(bit) || bit < 0) throw new RangeError(`invalid bit ${bit}`);
    bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  }
  const unused = 7 - (highest % 8);
  return tlv(Tag.BIT_STRING, Buffer.concat([Buffer.from([unused]), bytes]));
}

export function utf8String(s: string): Buffer {
  return tlv(Tag.UTF8_STRING, Buffer.from(s, "utf8"));
}

/** IA5String content must be 7-bit ASCII; callers pass validated values (SPIFFE IDs, DNS names). */
export function ia5Bytes(s: string): Buffer {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the range is the point
  if (!/^[\x00-\x7f]*$/.test(s)) throw new Error(`not an IA5String: ${JSON.stringify(s)}`);
  return Buffer.from(s, "latin1");
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * An X.509 Time (RFC 5280 §4.1.2.5): UTCTime YYMMDDHHMMSSZ through 2049, GeneralizedTime
 * YYYYMMDDHHMMSSZ from 2050 on; whole seconds in UTC (fractions are dropped, never rounded up).
 */
export function time(ms: number): Buffer {
  const d = new Date(Math.floor(ms / 1000) * 1000);
  const y = d.getUTCFullYear();
  if (y < 1950 || y > 9999) throw new RangeError(`certificate time out of range: ${d.toISOString()}`);
  const rest = `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
  if (y < 2050) return tlv(Tag.UTC_TIME, Buffer.from(`${two(y % 100)}${rest}`, "latin1"));
  return tlv(Tag.GENERALIZED_TIME, Buffer.from(`${y}${rest}`, "latin1"));
}

export function pem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("base64");
  let body = "";
  for (let i = 0; i < b64.length; i += 64) body += `${b64.slice(i, i + 64)}\n`;
  return `-----BEGIN ${label}-----\n${body}-----END ${label}-----\n`;
}

// ---------------------------------------------------------------------------------------------
// Reader

/** One element: `tag`, where its header starts, where its content starts and ends. */
export interface Element {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DerError";
  }
}

/** Reads the element starting at `offset`, checking that it fits inside `limit`. */
export function readElement(buf: Uint8Array, offset: number, limit = buf.length): Element {
  if (offset + 2 > limit) throw new DerError(`truncated DER at offset ${offset}`);
  const tag = buf[offset] ?? 0;
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-byte tag at offset ${offset}`);
  const first = buf[offset + 1] ?? 0;
  let length: number;
  let contentStart: number;
  if (first < 0x80) {
    length = first;
    contentStart = offset + 2;
  } else {
    const n = first & 0x7f;
    if (n === 0 || n > 4) throw new DerError(`unsupported length form at offset ${offset}`);
    if (offset + 2 + n > limit) throw new DerError(`truncated DER length at offset ${offset}`);
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + (buf[offset + 2 + i] ?? 0);
    contentStart = offset + 2 + n;
  }
  const end = contentStart + length;
  if (end > limit) throw new DerError(`DER element at offset ${offset} overruns its container`);
  return { tag, start: offset, contentStart, end };
}

/** The elements directly inside a constructed element. */
export function childrenOf(buf: Uint8Array, parent: Element): Element[] {
  const out: Element[] = [];
  for (let off = parent.contentStart; off < parent.end; ) {
    const el = readElement(buf, off, parent.end);
    out.push(el);
    off = el.end;
  }
  return out;
}

export function bytesOf(buf: Uint8Array, el: Element): Buffer {
  return Buffer.from(buf.subarray(el.start, el.end));
}

export function contentOf(buf: Uint8Array, el: Element): Buffer {
  return Buffer.from(buf.subarray(el.contentStart, el.end));
}

/** Dotted form of an OBJECT IDENTIFIER's content. */
export function decodeOid(content: Uint8Array): string {
  const arcs: number[] = [];
  let v = 0;
  for (const byte of content) {
    v = v * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(v);
      v = 0;
    }
  }
  const first = arcs.shift() ?? 0;
  const a = first < 80 ? Math.floor(first / 40) : 2;
  return [a, first - a * 40, ...arcs].join(".");
}
