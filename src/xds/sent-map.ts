// What a stream has sent for one type: name → resource, or ABSENT (null) for
// "told the client it does not exist". A Map in behaviour, but stored as a
// shared base map (a resource map of the view, which is immutable and shared by
// every stream of that view) plus a small per-stream overlay of differences.
// A sidecar that holds a thousand clusters and their endpoints then costs its
// stream a pointer and a handful of entries, not two thousand map entries:
// per-proxy memory stays flat as the mesh grows.
//
// `rebase` folds the overlay into a new base once the stream holds exactly
// what a view map holds; streams call it after sending.
import { type EncodedResource, formatSetVersion, memberHash } from "./resource.js";

type Entry = EncodedResource | null;

/** Overlays smaller than this are kept as they are: folding costs a pass over the base. */
const REBASE_AT = 32;

/** Count and hash sums of a whole resource map, once per map (maps never change). */
const mapSums = new WeakMap<ReadonlyMap<string, EncodedResource>, Sums>();

interface Sums {
  n: number;
  hi: number;
  lo: number;
}

function sumsOf(m: ReadonlyMap<string, EncodedResource>): Sums {
  let s = mapSums.get(m);
  if (!s) {
    s = { n: 0, hi: 0, lo: 0 };
    for (const r of m.values()) add(s, r, 1);
    mapSums.set(m, s);
  }
  return s;
}

function add(s: Sums, r: EncodedResource, sign: 1 | -1): void {
  const h = memberHash(r);
  s.n += sign;
  s.hi = (s.hi + sign * h[0]) >>> 0;
  s.lo = (s.lo + sign * h[1]) >>> 0;
}

export class SentMap {
  private base: ReadonlyMap<string, EncodedResource> | undefined;
  private readonly overlay = new Map<string, Entry>();
  /** Base entries deleted since the base was set. */
  private readonly hidden = new Set<string>();
  /** setVersion of the resources held that `counts`, kept up to date on every change. */
  private readonly sums: Sums = { n: 0, hi: 0, lo: 0 };

  /** `counts`: whether a resource takes part in `version()` (the stream leaves out what the client only claims). */
  constructor(private readonly counts: (r: EncodedResource) => boolean = () => true) {}

  /** setVersion of the held resources that count, in O(1). */
  version(): string {
    return formatSetVersion(this.sums.n, this.sums.hi, this.sums.lo);
  }

  private account(r: Entry | undefined, sign: 1 | -1): void {
    if (r && this.counts(r)) add(this.sums, r, sign);
  }

  get(name: string): Entry | undefined {
    if (this.overlay.has(name)) return this.overlay.get(name);
    if (!this.base || this.hidden.has(name)) return undefined;
    return this.base.get(name);
  }

  has(name: string): boolean {
    return this.overlay.has(name) || (this.base !== undefined && !this.hidden.has(name) && this.base.has(name));
  }

  set(name: string, value: Entry): this {
    this.account(this.get(name), -1);
    this.account(value, 1);
    this.overlay.set(name, value);
    return this;
  }

  delete(name: string): boolean {
    const had = this.get(name);
    this.account(had, -1);
    this.overlay.delete(name);
    if (this.base?.has(name)) this.hidden.add(name);
    return had !== undefined;
  }

  clear(): void {
    this.base = undefined;
    this.overlay.clear();
    this.hidden.clear();
    this.sums.n = 0;
    this.sums.hi = 0;
    this.sums.lo = 0;
  }

  get size(): number {
    if (!this.base) return this.overlay.size;
    if (this.hidden.size === 0 && this.overlay.size === 0) return this.base.size;
    let n = this.overlay.size;
    for (const k of this.base.keys()) if (!this.overlay.has(k) && !this.hidden.has(k)) n++;
    return n;
  }

  /** Now holds exactly `base` (a resource map that never changes). */
  resetTo(base: ReadonlyMap<string, EncodedResource>): void {
    this.base = base;
    this.overlay.clear();
    this.hidden.clear();
    Object.assign(this.sums, sumsOf(base));
  }

  /**
   * If every resource of `available` that `covers` is held here as that very
   * object, and `covers` takes in all of `available`, make `available` the base
   * and keep only the other entries (ABSENT markers, resources that left the
   * view) in the overlay. No-op while the overlay is small.
   */
  rebase(available: ReadonlyMap<string, EncodedResource>, covers: (name: string) => boolean): void {
    if (this.overlay.size < REBASE_AT || available === this.base) return;
    for (const [k, r] of available) if (!covers(k) || this.get(k) !== r) return;
    const rest: [string, Entry][] = [];
    for (const [k, v] of this.entries()) if (!available.has(k)) rest.push([k, v]);
    this.base = available;
    this.overlay.clear();
    this.hidden.clear();
    for (const [k, v] of rest) this.overlay.set(k, v);
  }

  *entries(): Generator<[string, Entry]> {
    yield* this.overlay.entries();
    if (!this.base) return;
    for (const e of this.base.entries()) if (!this.overlay.has(e[0]) && !this.hidden.has(e[0])) yield e;
  }

  *keys(): Generator<string> {
    for (const [k] of this.entries()) yield k;
  }

  *values(): Generator<Entry> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): Generator<[string, Entry]> {
    return this.entries();
  }
}
