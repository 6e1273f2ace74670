// Debounces bursts of configuration changes before a push: fire once the
// changes have been quiet for `quietMs`, or at the latest `maxMs` after the
// first change of the burst, so a steady trickle cannot starve pushes.
// (Istio: 100 ms quiet / 10 s max; Contour 100 ms / 500 ms.)

export class Debouncer {
  private firstAt: number | undefined;
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly quietMs: number,
    private readonly maxMs: number,
    private readonly fire: (firstChangeAt: number) => void,
  ) {}

  /** Records a change; the push follows after the quiet period or the maximum delay. */
  trigger(now = Date.now()): void {
    if (this.firstAt === undefined) this.firstAt = now;
    this.lastAt = now;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    const first = this.firstAt ?? this.lastAt;
    const due = Math.min(this.lastAt + this.quietMs, first + this.maxMs);
    this.timer = setTimeout(() => this.flush(), Math.max(0, due - Date.now()));
  }

  /** Fires now if a change is pending. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const first = this.firstAt;
    this.firstAt = undefined;
    if (first !== undefined) this.fire(first);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.firstAt = undefined;
  }
}
