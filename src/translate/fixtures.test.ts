// The founding document's examples and Istio's documented traffic-management
// tasks, written by us in the same shape, translate without a warning or an
// error (info notes about proxyless gRPC limits are allowed: these tasks are
// written for Envoy sidecars).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_MESH_CONFIG } from "../config/mesh-config.js";
import { formatDiagnostic } from "../model/diagnostic.js";
import { buildSnapshot } from "../model/snapshot.js";
import { parseYamlFile } from "../sources/file/parse-file.js";
import { prepare } from "./index.js";

const FIXTURES: Record<string, string> = {
  "founding document: 80/20 canary": "vs-canary.yaml",
  "founding document: circuit-breaking DestinationRule": "dr-founding-circuit-breaker.yaml",
  "request routing": "vs-request-routing.yaml",
  "fault injection: delay": "vs-fault-delay.yaml",
  "fault injection: abort": "vs-fault-abort.yaml",
  "traffic shifting": "vs-traffic-shifting.yaml",
  "TCP traffic shifting": "tcp-traffic-shifting.yaml",
  "request timeouts": "vs-timeouts.yaml",
  "circuit breaking": "dr-circuit-breaking-task.yaml",
  mirroring: "vs-mirroring.yaml",
  "egress: accessing external services": "task-egress.yaml",
  "egress: TLS origination": "dr-tls-simple.yaml",
  "authorization: allow nothing": "authz-deny-all.yaml",
  "authorization: HTTP traffic": "authz-deny-operations.yaml",
  "authorization: TCP traffic": "authz-tcp.yaml",
  "authorization: JWT": "jwt-authz-composition.yaml",
};

describe("task fixtures", () => {
  for (const [task, file] of Object.entries(FIXTURES)) {
    it(`${task} (${file}) translates without warnings or errors`, () => {
      const loaded = parseYamlFile(file, readFileSync(join(import.meta.dirname, "testdata/in", file), "utf8"));
      const { diagnostics } = prepare(buildSnapshot(undefined, loaded.objects).snapshot, DEFAULT_MESH_CONFIG);
      const all = [...loaded.diagnostics, ...diagnostics].filter((d) => d.severity !== "info");
      expect(all.map(formatDiagnostic)).toEqual([]);
    });
  }
});
