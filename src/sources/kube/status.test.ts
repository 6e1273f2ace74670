import { describe, expect, it } from "vitest";
import type { Diagnostic } from "../../model/diagnostic.js";
import type { MeshResourceInfo } from "./kube-source.js";
import { desiredStatus, sameStatus } from "./status.js";

const info = (status?: unknown): MeshResourceInfo => ({
  kind: "VirtualService",
  namespace: "shop",
  name: "reviews",
  uid: "u1",
  generation: 3,
  resource: {
    kind: "VirtualService",
    apiVersion: "networking.istio.io/v1",
    plural: "virtualservices",
    namespaced: true,
    mesh: true,
  },
  status,
});
const object = { kind: "VirtualService", namespace: "shop", name: "reviews" };
const d = (code: string, severity: Diagnostic["severity"], message: string, field?: string): Diagnostic => ({
  code,
  severity,
  object,
  message,
  ...(field ? { field } : {}),
});

describe("CR status from diagnostics", () => {
  it("accepts an object without diagnostics and records the generation it saw", () => {
    const s = desiredStatus(info(), [], "2026-11-25T10:00:00Z");
    expect(s.observedGeneration).toBe(3);
    expect(s.conditions[0]).toMatchObject({
      type: "Accepted",
      status: "True",
      reason: "Accepted",
      observedGeneration: 3,
    });
    expect(s.validationMessages).toBeUndefined();
  });

  it("refuses an object with errors, naming field and problem in the message and in validationMessages", () => {
    const s = desiredStatus(
      info(),
      [d("TRL3102", "error", 'subset "v3" is not defined', "spec.http[0].route[0].destination.subset")],
      "2026-11-25T10:00:00Z",
    );
    expect(s.conditions[0]).toMatchObject({ status: "False", reason: "ConfigErrors" });
    expect(s.conditions[0]?.message).toContain("spec.http[0].route[0].destination.subset");
    expect(s.validationMessages).toEqual([
      {
        type: { code: "TRL3102" },
        level: "ERROR",
        message: 'spec.http[0].route[0].destination.subset: subset "v3" is not defined',
      },
    ]);
  });

  it("says Invalid when the object failed validation, even if other diagnostics exist", () => {
    const s = desiredStatus(
      info(),
      [d("TRL1101", "error", "unknown field", "spec.htpp"), d("TRL3001", "warning", "x")],
      "now",
    );
    expect(s.conditions[0]).toMatchObject({ status: "False", reason: "Invalid" });
    expect(s.conditions[0]?.message).toContain("spec.htpp");
  });

  it("accepts with warnings", () => {
    const s = desiredStatus(info(), [d("TRL3110", "warning", "retries.retryRemoteLocalities is not supported")], "now");
    expect(s.conditions[0]).toMatchObject({ status: "True", reason: "AcceptedWithWarnings" });
  });

  it("keeps lastTransitionTime while the condition's status is unchanged, and needs no write then", () => {
    const first = desiredStatus(info(), [], "2026-11-25T10:00:00Z");
    const second = desiredStatus(info(first), [], "2026-11-25T11:00:00Z");
    expect(second.conditions[0]?.lastTransitionTime).toBe("2026-11-25T10:00:00Z");
    expect(sameStatus(first, second)).toBe(true);
    const broken = desiredStatus(info(first), [d("TRL3102", "error", "x")], "2026-11-25T12:00:00Z");
    expect(broken.conditions[0]?.lastTransitionTime).toBe("2026-11-25T12:00:00Z");
    expect(sameStatus(first, broken)).toBe(false);
  });
});
