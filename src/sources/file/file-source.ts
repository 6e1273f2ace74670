// Watches a directory of YAML files and reports a new FileLoadResult whenever
// the set of files or their contents changes.
//
// Change detection is by content hash, not by watch events: events only say
// "look again". That makes editor save patterns harmless — write to a temp file
// and rename over, rename the original away then write a new one, truncate
// then write: each burst of events is debounced into one re-read, and a
// re-read that finds the same bytes emits nothing. A re-read that finds a file
// suddenly empty or gone is confirmed once more after another debounce period
// before it is reported, so a save caught half-way does not briefly delete
// the file's objects from the mesh.

import { type FSWatcher, watch } from "node:fs";
import { combineFileResults, type FileContent, listYamlFiles, parseFileContent, readFiles } from "./load-directory.js";
import type { FileLoadResult } from "./types.js";

export interface FileSourceOptions {
  /** Quiet time after the last file-system event before re-reading. Default 50 ms. */
  debounceMs?: number;
  /** Called with the whole new result after every change of files or contents (not for the first load). */
  onUpdate?: (result: FileLoadResult) => void;
  /** Called when the directory cannot be watched or read; the source keeps its last result. Default: a process warning. */
  onError?: (error: Error) => void;
}

interface FileState {
  hash: string;
  /** Parse of this exact content, reused while the file does not change. */
  parsed: FileLoadResult;
  empty: boolean;
}

export class FileSource {
  readonly #dir: string;
  readonly #debounceMs: number;
  readonly #onUpdate: (result: FileLoadResult) => void;
  readonly #onError: (error: Error) => void;

  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The reload in progress, if any; reloads never overlap. */
  #reloading: Promise<void> | undefined;
  #reloadAgain = false;
  #confirming = false;
  #stopped = false;
  #files = new Map<string, FileState>();
  #current: FileLoadResult | undefined;

  constructor(dir: string, options: FileSourceOptions = {}) {
    this.#dir = dir;
    this.#debounceMs = options.debounceMs ?? 50;
    this.#onUpdate = options.onUpdate ?? (() => {});
    this.#onError = options.onError ?? ((error) => process.emitWarning(error));
  }

  /** The last result read (first load or latest update). */
  get current(): FileLoadResult | undefined {
    return this.#current;
  }

  /**
   * Starts watching and returns the first load. Watching starts before the
   * first read, so a change made while it runs is not missed. Rejects if the
   * directory cannot be read or watched.
   */
  async start(): Promise<FileLoadResult> {
    if (this.#watcher || this.#stopped) throw new Error("FileSource can be started once");
    this.#watcher = watch(this.#dir, { recursive: true }, () => this.#schedule());
    this.#watcher.on("error", (error) => this.#onError(error));
    // The first load counts as a reload in progress, so an event during it waits for it.
    const first = this.#read().then((contents) => {
      this.#current = this.#apply(contents);
      return this.#current;
    });
    this.#track(first);
    try {
      return await first;
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  /** Stops watching. Resolves once any reload in progress has finished; no update is emitted after it resolves. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#watcher?.close();
    await this.#reloading;
  }

  /** Debounce: every event pushes the re-read back to `debounceMs` after the latest one. */
  #schedule(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#startReload(), this.#debounceMs);
  }

  #startReload(): void {
    this.#timer = undefined;
    if (this.#stopped) return;
    if (this.#reloading) {
      this.#reloadAgain = true;
      return;
    }
    this.#track(
      this.#reload().catch((error: unknown) =>
        this.#onError(error instanceof Error ? error : new Error(String(error))),
      ),
    );
  }

  /** Marks `work` as the reload in progress; when it settles, runs the reload that was asked for meanwhile. */
  #track(work: Promise<unknown>): void {
    this.#reloading = work.then(
      () => {},
      () => {}, // reported by whoever started the work
    );
    void this.#reloading.then(() => {
      this.#reloading = undefined;
      if (this.#reloadAgain) {
        this.#reloadAgain = false;
        this.#schedule();
      }
    });
  }

  async #read(): Promise<FileContent[]> {
    return readFiles(this.#dir, await listYamlFiles(this.#dir));
  }

  async #reload(): Promise<void> {
    const contents = await this.#read();
    if (this.#stopped || !this.#changed(contents)) {
      this.#confirming = false;
      return;
    }
    if (!this.#confirming && this.#looksHalfSaved(contents)) {
      this.#confirming = true;
      this.#schedule();
      return;
    }
    this.#confirming = false;
    this.#current = this.#apply(contents);
    this.#onUpdate(this.#current);
  }

  #changed(contents: readonly FileContent[]): boolean {
    if (contents.length !== this.#files.size) return true;
    return contents.some((c) => this.#files.get(c.file)?.hash !== c.hash);
  }

  /** A file that had content is now empty or gone: possibly an editor between truncate and write, or between rename and create. */
  #looksHalfSaved(contents: readonly FileContent[]): boolean {
    const now = new Map(contents.map((c) => [c.file, c]));
    for (const [file, state] of this.#files) {
      if (state.empty) continue;
      const content = now.get(file);
      if (content === undefined || content.text.trim() === "") return true;
    }
    return false;
  }

  #apply(contents: readonly FileContent[]): FileLoadResult {
    const files = new Map<string, FileState>();
    for (const content of contents) {
      const previous = this.#files.get(content.file);
      const parsed = previous?.hash === content.hash ? previous.parsed : parseFileContent(content);
      files.set(content.file, { hash: content.hash, parsed, empty: content.text.trim() === "" });
    }
    this.#files = files;
    // Duplicates are decided across all files, so they are recomputed every time.
    return combineFileResults([...files.values()].map((state) => state.parsed));
  }
}
