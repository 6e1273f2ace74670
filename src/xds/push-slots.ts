// Bounds how many streams have responses in flight at once. A response is
// buffered (by us, then by grpc-js and HTTP/2) until the peer reads it; when
// 2,000 proxies connect together, each owed megabytes of configuration,
// writing all of it at once would hold gigabytes. With slots, at most `limit`
// streams send at a time and the rest queue in arrival order; a slot is given
// back when a stream has nothing left in flight (every response ACKed or
// NACKed), and the next queued stream is pumped. (Istio bounds pushes the same
// way: PILOT_PUSH_THROTTLE, default 100.)
//
// A peer that never answers must not keep its slot: one held longer than
// `staleMs` is reclaimed when another stream needs it (the stream itself goes
// on; it queues again for its next push).

export interface SlotHolder {
  /** Called when a slot is free for this holder; it should try to acquire it again. */
  readonly slotFree: () => void;
}

export class PushSlots {
  private readonly holders = new Map<SlotHolder, number>();
  private readonly waiting = new Set<SlotHolder>();
  private waking = false;

  constructor(
    readonly limit: number,
    private readonly staleMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {
    if (!(limit >= 1)) throw new Error(`push concurrency must be at least 1, got ${limit}`);
  }

  /** True if `h` holds a slot (now, or already); otherwise `h` queues and is called back when one frees. */
  acquire(h: SlotHolder): boolean {
    if (this.holders.has(h)) return true;
    if (this.holders.size >= this.limit) this.reclaimStale();
    const free = this.holders.size < this.limit;
    // Queued streams go first: a newcomer may not overtake them.
    if (free && (this.waiting.size === 0 || this.waking || this.waiting.values().next().value === h)) {
      this.waiting.delete(h);
      this.holders.set(h, this.now());
      return true;
    }
    this.waiting.add(h);
    // Slots reclaimed just now: the queue has not been told.
    if (free) queueMicrotask(() => this.wake());
    return false;
  }

  /** Gives back `h`'s slot (or its place in the queue) and wakes queued streams. */
  release(h: SlotHolder): void {
    this.waiting.delete(h);
    if (this.holders.delete(h)) this.wake();
  }

  get inUse(): number {
    return this.holders.size;
  }

  get queued(): number {
    return this.waiting.size;
  }

  private wake(): void {
    // Not re-entrant: a woken stream that sends nothing releases at once, and
    // that release must not recurse through the whole queue.
    if (this.waking) return;
    this.waking = true;
    try {
      while (this.holders.size < this.limit && this.waiting.size > 0) {
        const next = this.waiting.values().next().value as SlotHolder;
        this.waiting.delete(next);
        next.slotFree();
      }
    } finally {
      this.waking = false;
    }
  }

  private reclaimStale(): void {
    const cutoff = this.now() - this.staleMs;
    for (const [h, since] of this.holders) if (since < cutoff) this.holders.delete(h);
  }
}
