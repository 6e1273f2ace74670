import { describe, expect, it } from "vitest";
import { messageType } from "../envoy/protos.js";
import { ENDPOINT } from "../envoy/type-urls.js";
import { fastSotwRequestDecoder } from "./request-decoder.js";

const T = messageType("envoy.service.discovery.v3.DiscoveryRequest");
const encode = (o: object) => Buffer.from(T.encode(T.fromObject(o)).finish());
const names = Array.from({ length: 200 }, (_, i) => `outbound|80||svc-${i}.ns-${i % 10}.svc.cluster.local`);

describe("fastSotwRequestDecoder", () => {
  it("decodes an ACK like the full decoder, and hands back the very same names for the same bytes", () => {
    let fullCalls = 0;
    const full = (b: Buffer) => {
      fullCalls++;
      return T.toObject(T.decode(b), { defaults: false });
    };
    const decode = fastSotwRequestDecoder(full);
    const ack = { version_info: "v1", resource_names: names, type_url: ENDPOINT, response_nonce: "n1" };
    const a = decode(encode(ack)) as { resource_names: string[] };
    expect(a).toEqual(ack);
    const b = decode(encode({ ...ack, response_nonce: "n2" })) as { resource_names: string[] };
    expect(b.resource_names).toBe(a.resource_names);
    expect(fullCalls).toBe(0);
    // A different subscription is decoded afresh.
    const c = decode(encode({ ...ack, resource_names: [...names.slice(1), "x"] })) as { resource_names: string[] };
    expect(c.resource_names).toEqual([...names.slice(1), "x"]);
  });

  it("leaves requests with a node or an error to the full decoder", () => {
    const seen: string[] = [];
    const decode = fastSotwRequestDecoder((b) => {
      seen.push("full");
      return T.toObject(T.decode(b), { defaults: false });
    });
    decode(encode({ node: { id: "p1" }, resource_names: names, type_url: ENDPOINT }));
    decode(encode({ resource_names: names, type_url: ENDPOINT, error_detail: { code: 3, message: "bad" } }));
    expect(seen).toEqual(["full", "full"]);
  });
});
