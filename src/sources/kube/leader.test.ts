// The pure rules of leader election; the loop against a real API server is in e2e/kube/leader.test.ts.
import { KubeConfig } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  claimRecord,
  formatMicroTime,
  LeaderElector,
  type LeaseRecord,
  leaseRecordOf,
  mayAcquire,
  releasedRecord,
  resolveTimings,
  sameRecord,
  unexpired,
} from "./leader.js";

const held = (holderIdentity: string, leaseDurationSeconds = 15): LeaseRecord => ({
  holderIdentity,
  leaseDurationSeconds,
  acquireTime: "2026-01-01T00:00:00.000000Z",
  renewTime: "2026-01-01T00:00:10.000000Z",
  leaseTransitions: 4,
});

describe("mayAcquire", () => {
  it("lets the holder renew its own lease at any time", () => {
    expect(mayAcquire({ record: held("a"), observedAt: 1000 }, "a", 1001)).toEqual({ ok: true, why: "ours" });
  });

  it("takes a lease nobody holds at once", () => {
    expect(mayAcquire({ record: held(""), observedAt: 1000 }, "b", 1000)).toEqual({ ok: true, why: "vacant" });
  });

  it("waits a full leaseDuration from when it saw the record change, not from renewTime", () => {
    // renewTime in the record is long past by any wall clock; only our own observation counts.
    const observed = { record: held("a", 15), observedAt: 50_000 };
    expect(mayAcquire(observed, "b", 50_000)).toEqual({ ok: false, holder: "a", expiresInMs: 15_000 });
    expect(mayAcquire(observed, "b", 64_999)).toEqual({ ok: false, holder: "a", expiresInMs: 1 });
    expect(mayAcquire(observed, "b", 65_000)).toEqual({ ok: true, why: "expired" });
  });

  it("uses the duration the record announces, not our own", () => {
    const observed = { record: held("a", 3), observedAt: 0 };
    expect(mayAcquire(observed, "b", 2999).ok).toBe(false);
    expect(mayAcquire(observed, "b", 3000).ok).toBe(true);
  });

  it("treats a held record without leaseDurationSeconds as expired", () => {
    const observed = { record: leaseRecordOf({ holderIdentity: "a" }), observedAt: 10 };
    expect(mayAcquire(observed, "b", 10)).toEqual({ ok: true, why: "expired" });
  });
});

describe("unexpired", () => {
  it("counts the announced duration from our own observation", () => {
    const observed = { record: held("a", 3), observedAt: 1000 };
    expect(unexpired(observed, 3999)).toBe(true);
    expect(unexpired(observed, 4000)).toBe(false);
  });
});

describe("claimRecord", () => {
  const now = new Date("2026-03-04T05:06:07.089Z");

  it("creates a new lease with zero transitions", () => {
    expect(claimRecord(undefined, "a", 15, now)).toEqual({
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      acquireTime: "2026-03-04T05:06:07.089000Z",
      renewTime: "2026-03-04T05:06:07.089000Z",
      leaseTransitions: 0,
    });
  });

  it("renewing keeps acquireTime and leaseTransitions and moves renewTime", () => {
    expect(claimRecord(held("a"), "a", 15, now)).toEqual({
      holderIdentity: "a",
      leaseDurationSeconds: 15,
      acquireTime: "2026-01-01T00:00:00.000000Z",
      renewTime: "2026-03-04T05:06:07.089000Z",
      leaseTransitions: 4,
    });
  });

  it("taking over from another holder or from nobody counts one transition", () => {
    for (const prev of [held("b"), held("")]) {
      const next = claimRecord(prev, "a", 3, now);
      expect(next.holderIdentity).toBe("a");
      expect(next.leaseTransitions).toBe(5);
      expect(next.acquireTime).toBe("2026-03-04T05:06:07.089000Z");
      expect(next.leaseDurationSeconds).toBe(3);
    }
  });
});

describe("releasedRecord", () => {
  it("clears the holder, shortens the duration to 1 s and keeps the transition count", () => {
    const now = new Date("2026-03-04T05:06:07.000Z");
    expect(releasedRecord(held("a"), now)).toEqual({
      holderIdentity: "",
      leaseDurationSeconds: 1,
      acquireTime: "2026-03-04T05:06:07.000000Z",
      renewTime: "2026-03-04T05:06:07.000000Z",
      leaseTransitions: 4,
    });
  });
});

describe("formatMicroTime", () => {
  it("writes RFC 3339 UTC with exactly six fractional digits", () => {
    expect(formatMicroTime(new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)))).toBe("2026-01-02T03:04:05.006000Z");
    expect(formatMicroTime(new Date(0))).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });
});

describe("leaseRecordOf / sameRecord", () => {
  it("reads a spec the API server returned after a release (holderIdentity omitted)", () => {
    expect(leaseRecordOf({ leaseDurationSeconds: 1, leaseTransitions: 2 })).toEqual({
      holderIdentity: "",
      leaseDurationSeconds: 1,
      acquireTime: undefined,
      renewTime: undefined,
      leaseTransitions: 2,
    });
    expect(leaseRecordOf(undefined)).toEqual({ holderIdentity: "", leaseDurationSeconds: 0, leaseTransitions: 0 });
  });

  it("sees a new renewTime as a change (it restarts the expiry clock) and nothing else", () => {
    const a = held("a");
    expect(sameRecord(a, { ...a })).toBe(true);
    expect(sameRecord(a, { ...a, renewTime: "2026-01-01T00:00:12.000000Z" })).toBe(false);
    expect(sameRecord(a, { ...a, holderIdentity: "b" })).toBe(false);
  });
});

describe("resolveTimings", () => {
  it("defaults to client-go's 15 s / 10 s / 2 s", () => {
    expect(resolveTimings({})).toEqual({
      ok: true,
      value: { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, leaseDurationSeconds: 15 },
    });
  });

  it("rounds the announced duration up to whole seconds", () => {
    const t = resolveTimings({ leaseDurationMs: 2500, renewDeadlineMs: 2000, retryPeriodMs: 500 });
    expect(t.ok && t.value.leaseDurationSeconds).toBe(3);
  });

  it("refuses orderings that would let a leader outlive its lease or miss its only renew", () => {
    const bad = [
      { leaseDurationMs: 10_000, renewDeadlineMs: 10_000 },
      { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 2000 },
      { retryPeriodMs: 0 },
      { leaseDurationMs: Number.NaN },
    ];
    for (const opts of bad) expect(resolveTimings(opts).ok, JSON.stringify(opts)).toBe(false);
  });

  it("makes the constructor throw on a bad configuration", () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromClusterAndUser(
      { name: "c", server: "https://127.0.0.1:1", skipTLSVerify: false },
      { name: "u" },
    );
    const base = { kubeConfig, namespace: "ns", name: "trellis-leader", identity: "a" };
    expect(() => new LeaderElector({ ...base, leaseDurationMs: 1000, renewDeadlineMs: 2000 })).toThrow(
      /leaseDurationMs \(1000\) must be greater than renewDeadlineMs/,
    );
    expect(() => new LeaderElector({ ...base, identity: "" })).toThrow(/identity/);
    expect(new LeaderElector(base).isLeader()).toBe(false);
  });
});
