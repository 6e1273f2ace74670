// A faster decoder for SotW DiscoveryRequests. Envoy repeats its whole
// subscription in every SotW request, so each EDS ACK of a sidecar that sees a
// thousand clusters carries a thousand names (~100 KB), and decoding them into
// strings dominated the cost of an ACK. The names of one subscription arrive
// as the same bytes again and again: a request made only of version, names,
// type and nonce (a plain ACK or subscription update) reuses the array decoded
// from identical bytes before (compared byte for byte, never by hash alone).
// Anything else (the first request with its node, a NACK's error_detail, any
// other field) goes to the full decoder, so its shape never differs.
import protobuf from "protobufjs";

type FullDecoder = (buf: Buffer) => unknown;

interface NamesEntry {
  bytes: Buffer;
  names: readonly string[];
}

/** Few distinct subscriptions exist (one per namespace and type, roughly); bounded anyway. */
const MAX_ENTRIES = 256;
/** Small lists are cheap to decode: not worth remembering. */
const MIN_SPAN_BYTES = 2_048;

export function fastSotwRequestDecoder(full: FullDecoder): FullDecoder {
  const cache = new Map<string, NamesEntry[]>();
  let entries = 0;
  return (buf: Buffer) => {
    const r = protobuf.Reader.create(buf);
    let version = "";
    let typeUrl = "";
    let nonce = "";
    let first = -1;
    let last = -1;
    let contiguous = true;
    let count = 0;
    while (r.pos < r.len) {
      const start = r.pos;
      const tag = r.uint32();
      const field = tag >>> 3;
      if ((tag & 7) !== 2) return full(buf);
      switch (field) {
        case 1:
          version = r.string();
          break;
        case 3:
          if (last !== -1 && last !== start) contiguous = false;
          if (first === -1) first = start;
          r.skipType(2);
          last = r.pos;
          count++;
          break;
        case 4:
          typeUrl = r.string();
          break;
        case 5:
          nonce = r.string();
          break;
        default:
          // node, error_detail, locators, …: the full decoder.
          return full(buf);
      }
    }
    let names: readonly string[] = [];
    if (count > 0) {
      if (!contiguous || last - first < MIN_SPAN_BYTES) return full(buf);
      const span = buf.subarray(first, last);
      const key = `${span.length}:${count}:${span.readUInt32LE(span.length - 4)}`;
      const bucket = cache.get(key);
      const hit = bucket?.find((e) => e.bytes.equals(span));
      if (hit) names = hit.names;
      else {
        names = decodeNames(span, count);
        if (entries >= MAX_ENTRIES) {
          cache.clear();
          entries = 0;
        }
        const entry = { bytes: Buffer.from(span), names };
        if (bucket) bucket.push(entry);
        else cache.set(key, [entry]);
        entries++;
      }
    }
    return { version_info: version, resource_names: names, type_url: typeUrl, response_nonce: nonce };
  };
}

function decodeNames(span: Buffer, count: number): string[] {
  const r = protobuf.Reader.create(span);
  const out: string[] = new Array(count);
  for (let i = 0; i < count; i++) {
    r.uint32();
    out[i] = r.string();
  }
  return Object.freeze(out) as string[];
}
