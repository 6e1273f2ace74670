import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Debouncer } from "./debounce.js";

describe("Debouncer", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("pushes a burst once, after it has been quiet, reporting when the burst began", () => {
    const fired: number[] = [];
    const d = new Debouncer(100, 1000, (first) => fired.push(first));
    const start = Date.now();
    for (let i = 0; i < 5; i++) {
      d.trigger();
      vi.advanceTimersByTime(50);
    }
    expect(fired).toEqual([]);
    vi.advanceTimersByTime(100);
    expect(fired).toEqual([start]);
  });

  it("pushes at the maximum delay even when changes never stop", () => {
    const fired: number[] = [];
    const d = new Debouncer(100, 1000, (first) => fired.push(first));
    for (let t = 0; t < 2500; t += 50) {
      d.trigger();
      vi.advanceTimersByTime(50);
    }
    // A change every 50 ms never leaves 100 ms of quiet: the 1 s maximum fires twice in 2.5 s.
    expect(fired.length).toBe(2);
    d.stop();
  });

  it("does nothing after stop", () => {
    const fired: number[] = [];
    const d = new Debouncer(100, 1000, (first) => fired.push(first));
    d.trigger();
    d.stop();
    vi.advanceTimersByTime(5000);
    expect(fired).toEqual([]);
  });
});
