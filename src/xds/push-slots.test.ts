import { describe, expect, it } from "vitest";
import { PushSlots, type SlotHolder } from "./push-slots.js";

function holder(log: string[], name: string, slots: () => PushSlots, keep = true): SlotHolder {
  const h: SlotHolder = {
    slotFree: () => {
      if (slots().acquire(h)) {
        log.push(name);
        if (!keep) slots().release(h);
      }
    },
  };
  return h;
}

describe("PushSlots", () => {
  it("lets `limit` streams send at once and wakes the queued ones in arrival order as slots are given back", () => {
    const log: string[] = [];
    const slots = new PushSlots(2);
    const [a, b, c, d] = ["a", "b", "c", "d"].map((n) => holder(log, n, () => slots));
    expect(slots.acquire(a as SlotHolder)).toBe(true);
    expect(slots.acquire(b as SlotHolder)).toBe(true);
    expect(slots.acquire(c as SlotHolder)).toBe(false);
    expect(slots.acquire(d as SlotHolder)).toBe(false);
    expect(slots.acquire(a as SlotHolder)).toBe(true); // already holds one
    expect({ inUse: slots.inUse, queued: slots.queued }).toEqual({ inUse: 2, queued: 2 });
    slots.release(b as SlotHolder);
    expect(log).toEqual(["c"]);
    slots.release(a as SlotHolder);
    expect(log).toEqual(["c", "d"]);
    expect(slots.queued).toBe(0);
  });

  it("does not let a newcomer overtake queued streams", () => {
    const slots = new PushSlots(1);
    const log: string[] = [];
    const a = holder(log, "a", () => slots);
    const b = holder(log, "b", () => slots);
    const c = holder(log, "c", () => slots);
    slots.acquire(a);
    slots.acquire(b);
    slots.release(a); // b is woken and takes the slot
    expect(log).toEqual(["b"]);
    expect(slots.acquire(c)).toBe(false);
  });

  it("wakes the whole queue without recursion when woken streams have nothing to send", () => {
    const slots = new PushSlots(1);
    const log: string[] = [];
    const first = holder(log, "first", () => slots);
    slots.acquire(first);
    const queued = Array.from({ length: 20_000 }, (_, i) => holder(log, `q${i}`, () => slots, false));
    for (const q of queued) slots.acquire(q);
    slots.release(first);
    expect(log.length).toBe(20_000);
    expect(slots.inUse).toBe(0);
  });

  it("reclaims a slot held longer than staleMs by a peer that never answers", () => {
    let now = 0;
    const slots = new PushSlots(1, 1_000, () => now);
    const log: string[] = [];
    const silent = holder(log, "silent", () => slots);
    const next = holder(log, "next", () => slots);
    slots.acquire(silent);
    expect(slots.acquire(next)).toBe(false);
    now = 1_500;
    expect(slots.acquire(next)).toBe(true);
  });
});
