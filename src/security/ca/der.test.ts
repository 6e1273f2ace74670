// The DER encoder and reader, checked against known encodings from X.690 /
// RFC 5280 and against asn1js (an independent BER/DER implementation, the one
// @peculiar/x509 is built on).
import * as asn1js from "asn1js";
import { describe, expect, it } from "vitest";
import {
  bitString,
  boolean,
  childrenOf,
  DerError,
  decodeOid,
  encodeLength,
  explicit,
  implicitPrimitive,
  namedBits,
  nullValue,
  octetString,
  oid,
  readElement,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from "./der.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function parsedByAsn1js(der: Uint8Array): asn1js.AsnType {
  const ab = new Uint8Array(der).buffer;
  const { offset, result } = asn1js.fromBER(ab);
  expect(offset).toBe(der.length); // consumed exactly, no trailing bytes
  expect(result.error).toBe("");
  return result;
}

describe("DER encoder", () => {
  it("encodes lengths in short form below 128 and in the shortest long form above", () => {
    expect(hex(encodeLength(0))).toBe("00");
    expect(hex(encodeLength(127))).toBe("7f");
    expect(hex(encodeLength(128))).toBe("8180");
    expect(hex(encodeLength(255))).toBe("81ff");
    expect(hex(encodeLength(256))).toBe("820100");
    expect(hex(encodeLength(65535))).toBe("82ffff");
    expect(hex(encodeLength(65536))).toBe("83010000");
    expect(() => encodeLength(-1)).toThrow(RangeError);
  });

  it("encodes non-negative INTEGERs minimally, with a 00 octet when the top bit is set", () => {
    expect(hex(smallInteger(0))).toBe("020100");
    expect(hex(smallInteger(2))).toBe("020102");
    expect(hex(smallInteger(127))).toBe("02017f");
    expect(hex(smallInteger(128))).toBe("02020080");
    expect(hex(smallInteger(256))).toBe("02020100");
    expect(hex(unsignedInteger(Buffer.from("000000ff", "hex")))).toBe("020200ff");
    expect(hex(unsignedInteger(Buffer.from("0000", "hex")))).toBe("020100");
    const serial = Buffer.from("7fffffffffffffffffffffffffffffff", "hex");
    const int = parsedByAsn1js(unsignedInteger(serial)) as asn1js.Integer;
    expect(int.valueBlock.valueHexView.length).toBe(16);
    expect(int.toBigInt()).toBe(BigInt(`0x${serial.toString("hex")}`));
    expect((parsedByAsn1js(unsignedInteger(Buffer.from("80", "hex"))) as asn1js.Integer).toBigInt()).toBe(128n);
  });

  it("encodes OIDs as RFC 5280 and X.690 give them", () => {
    expect(hex(oid("1.2.840.10045.2.1"))).toBe("06072a8648ce3d0201"); // id-ecPublicKey
    expect(hex(oid("1.2.840.10045.3.1.7"))).toBe("06082a8648ce3d030107"); // prime256v1
    expect(hex(oid("2.5.29.17"))).toBe("0603551d11"); // subjectAltName
    expect(hex(oid("1.3.6.1.5.5.7.3.2"))).toBe("06082b06010505070302"); // clientAuth
    expect(hex(oid("2.999.3"))).toBe("0603883703"); // X.690 §8.19.5 example
    for (const id of ["1.2.840.113549.1.1.11", "2.5.4.3", "2.16.840.1.101.3.4.2.1", "1.3.6.1.4.1.311.60.2.1.3"]) {
      expect((parsedByAsn1js(oid(id)) as asn1js.ObjectIdentifier).getValue()).toBe(id);
      expect(decodeOid(oid(id).subarray(2))).toBe(id);
    }
    for (const bad of ["1", "3.1", "1.40", "1.2.x", "1..2", "01.2"]) expect(() => oid(bad)).toThrow();
  });

  it("encodes KeyUsage bits with trailing zero bits removed (X.690 §11.2.2)", () => {
    expect(hex(namedBits([0]))).toBe("03020780"); // digitalSignature
    expect(hex(namedBits([5, 6]))).toBe("03020106"); // keyCertSign | cRLSign
    expect(hex(namedBits([0, 2]))).toBe("030205a0"); // digitalSignature | keyEncipherment
    expect(hex(namedBits([8]))).toBe("0303070080"); // decipherOnly
    expect(hex(namedBits([]))).toBe("030100");
    const bs = parsedByAsn1js(namedBits([5, 6])) as asn1js.BitString;
    expect(bs.valueBlock.unusedBits).toBe(1);
  });

  it("writes UTCTime through 2049 and GeneralizedTime from 2050, in whole seconds (RFC 5280 §4.1.2.5)", () => {
    expect(
      time(Date.UTC(2026, 10, 25, 19, 5, 9, 999))
        .toString("latin1")
        .slice(2),
    ).toBe("261125190509Z");
    expect(time(Date.UTC(2026, 0, 1))[0]).toBe(0x17);
    expect(time(Date.UTC(2049, 11, 31, 23, 59, 59))[0]).toBe(0x17);
    const g = time(Date.UTC(2050, 0, 1, 0, 0, 0));
    expect(g[0]).toBe(0x18);
    expect(g.toString("latin1").slice(2)).toBe("20500101000000Z");
    const u = parsedByAsn1js(time(Date.UTC(1999, 5, 7, 8, 9, 10))) as asn1js.UTCTime;
    expect(u.toDate().toISOString()).toBe("1999-06-07T08:09:10.000Z");
    expect(() => time(Date.UTC(1949, 0, 1))).toThrow(RangeError);
  });

  it("sorts SET OF elements by encoding and omits nothing asn1js needs to read a nested structure", () => {
    expect(hex(set(smallInteger(3), smallInteger(1)))).toBe("3106020101020103");
    const der = sequence(
      explicit(0, smallInteger(2)),
      boolean(true),
      nullValue(),
      octetString(Buffer.alloc(200, 7)),
      bitString(Buffer.from([1, 2, 3])),
      utf8String("héllo"),
      implicitPrimitive(6, Buffer.from("spiffe://a/b")),
    );
    const seq = parsedByAsn1js(der) as asn1js.Sequence;
    expect(seq.valueBlock.value).toHaveLength(7);
    expect((seq.valueBlock.value[5] as asn1js.Utf8String).getValue()).toBe("héllo");
    expect((seq.valueBlock.value[3] as asn1js.OctetString).valueBlock.valueHexView.length).toBe(200);
  });
});

describe("DER reader", () => {
  it("walks what the encoder wrote", () => {
    const der = sequence(smallInteger(5), sequence(oid("2.5.29.14"), octetString(Buffer.alloc(300))), nullValue());
    const top = readElement(der, 0);
    expect(top.end).toBe(der.length);
    const [a, b, c] = childrenOf(der, top);
    expect(a?.tag).toBe(0x02);
    expect(der[a?.contentStart ?? 0]).toBe(5);
    expect(b?.tag).toBe(0x30);
    const inner = childrenOf(der, b ?? top);
    expect(inner[1]?.end && inner[1].end - inner[1].contentStart).toBe(300);
    expect(c?.tag).toBe(0x05);
  });

  it("refuses truncated, overlong and multi-byte-tag input", () => {
    expect(() => readElement(Buffer.from("30", "hex"), 0)).toThrow(DerError);
    expect(() => readElement(Buffer.from("3005020101", "hex"), 0)).toThrow(/overruns/);
    expect(() => readElement(Buffer.from("3082", "hex"), 0)).toThrow(DerError);
    expect(() => readElement(Buffer.from("3080", "hex"), 0)).toThrow(/length form/); // indefinite length is BER
    expect(() => readElement(Buffer.from("1f8101", "hex"), 0)).toThrow(/multi-byte/);
    const der = sequence(smallInteger(1));
    expect(() => childrenOf(der, { ...readElement(der, 0), end: der.length - 1 })).toThrow(DerError);
  });
});
