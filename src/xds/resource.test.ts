// The hand-assembled DiscoveryResponse / DeltaDiscoveryResponse envelopes
// (resource.ts) must be byte-for-byte what protobufjs's own encoder produces
// for the same message, and decode back to the same fields with Envoy's protos.
import { describe, expect, it } from "vitest";
import { cluster, endpoints } from "../../test/support/views.js";
import { messageType } from "../envoy/protos.js";
import { CLUSTER, ENDPOINT } from "../envoy/type-urls.js";
import {
  type EncodedResource,
  encodeDeltaResponse,
  encodedFromBytes,
  encodeResource,
  encodeSotwResponse,
} from "./resource.js";

const DiscoveryResponse = messageType("envoy.service.discovery.v3.DiscoveryResponse");
const DeltaDiscoveryResponse = messageType("envoy.service.discovery.v3.DeltaDiscoveryResponse");

function enc(typeUrl: string, name: string, obj: object): EncodedResource {
  const r = encodeResource(typeUrl, name, obj);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

/** What protobufjs itself writes for the same DiscoveryResponse. */
function reference(
  versionInfo: string,
  typeUrl: string,
  nonce: string,
  resources: EncodedResource[],
  cp?: string,
): Uint8Array {
  return DiscoveryResponse.encode(
    DiscoveryResponse.fromObject({
      version_info: versionInfo,
      resources: resources.map((r) => ({ type_url: r.typeUrl, value: r.bytes })),
      type_url: typeUrl,
      nonce,
      ...(cp ? { control_plane: { identifier: cp } } : {}),
    }),
  ).finish();
}

function deltaReference(
  systemVersion: string,
  typeUrl: string,
  nonce: string,
  resources: EncodedResource[],
  removed: string[],
  cp?: string,
): Uint8Array {
  return DeltaDiscoveryResponse.encode(
    DeltaDiscoveryResponse.fromObject({
      system_version_info: systemVersion,
      resources: resources.map((r) => ({
        version: r.version,
        resource: { type_url: r.typeUrl, value: r.bytes },
        name: r.name,
      })),
      type_url: typeUrl,
      nonce,
      removed_resources: removed,
      ...(cp ? { control_plane: { identifier: cp } } : {}),
    }),
  ).finish();
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("wire encoding equals protobufjs's encoder", () => {
  const unicode = "clüster-名前-🚀";
  const cases: { label: string; resources: () => EncodedResource[]; nonce: string; version: string; cp?: string }[] = [
    { label: "one resource", resources: () => [enc(CLUSTER, "a", cluster("a"))], nonce: "1-1", version: "v1", cp: "t" },
    { label: "empty resource list", resources: () => [], nonce: "1-2", version: "v2", cp: "trellis" },
    { label: "empty nonce (Fetch)", resources: () => [enc(CLUSTER, "a", cluster("a"))], nonce: "", version: "v" },
    { label: "empty version", resources: () => [], nonce: "n", version: "" },
    {
      label: "unicode names",
      resources: () => [enc(CLUSTER, unicode, cluster(unicode))],
      nonce: "ñ-1",
      version: "√",
      cp: "控制",
    },
    {
      label: "many resources",
      resources: () => Array.from({ length: 2000 }, (_, i) => enc(ENDPOINT, `e${i}`, endpoints(`e${i}`, [i + 1]))),
      nonce: "x",
      version: "y",
    },
    {
      label: "a resource whose message is all defaults (empty bytes) and has an empty name",
      resources: () => [encodedFromBytes(CLUSTER, "", new Uint8Array(0), {})],
      nonce: "z",
      version: "w",
    },
  ];

  for (const c of cases) {
    it(`SotW: ${c.label}`, () => {
      const resources = c.resources();
      const ours = encodeSotwResponse({
        versionInfo: c.version,
        typeUrl: CLUSTER,
        nonce: c.nonce,
        resources,
        controlPlane: c.cp,
      });
      expect(hex(ours)).toBe(hex(reference(c.version, CLUSTER, c.nonce, resources, c.cp)));
      const decoded = DiscoveryResponse.toObject(DiscoveryResponse.decode(ours), { defaults: true });
      expect(decoded.nonce).toBe(c.nonce);
      expect(decoded.version_info).toBe(c.version);
      expect(decoded.resources).toHaveLength(resources.length);
    });

    it(`Delta: ${c.label}`, () => {
      const resources = c.resources();
      const removed = c.label === "unicode names" ? [unicode, "", "gone"] : ["gone"];
      const ours = encodeDeltaResponse({
        systemVersionInfo: c.version,
        typeUrl: CLUSTER,
        nonce: c.nonce,
        resources,
        removed,
        controlPlane: c.cp,
      });
      expect(hex(ours)).toBe(hex(deltaReference(c.version, CLUSTER, c.nonce, resources, removed, c.cp)));
      const decoded = DeltaDiscoveryResponse.toObject(DeltaDiscoveryResponse.decode(ours), { defaults: true });
      expect(decoded.removed_resources).toEqual(removed);
      expect(decoded.resources.map((r: { name: string }) => r.name)).toEqual(resources.map((r) => r.name));
    });
  }
});
