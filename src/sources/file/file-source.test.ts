import { mkdir, mkdtemp, rename, rm, truncate, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type FileLoadResult, FileSource } from "./index.js";

const gateway = (name: string, selector = "ingressgateway") =>
  `apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: ${name}}\nspec:\n  selector: {istio: ${selector}}\n`;

const names = (result: FileLoadResult | undefined) => result?.objects.map((o) => o.object.metadata.name) ?? [];

/** Collects updates; `next()` resolves with the first one not yet taken. */
function updateQueue() {
  const received: FileLoadResult[] = [];
  let taken = 0;
  let wake: (() => void) | undefined;
  return {
    received,
    onUpdate(result: FileLoadResult) {
      received.push(result);
      wake?.();
    },
    async next(timeoutMs = 5000): Promise<FileLoadResult> {
      const deadline = Date.now() + timeoutMs;
      while (taken >= received.length) {
        if (Date.now() > deadline) throw new Error("no update arrived");
        await Promise.race([new Promise<void>((resolve) => (wake = resolve)), sleep(50)]);
      }
      return received[taken++] as FileLoadResult;
    },
  };
}

let dir: string;
let source: FileSource | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "trellis-file-watch-"));
});
afterEach(async () => {
  await source?.stop();
  source = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe("FileSource", () => {
  it("returns the first load from start() and reports a new file", async () => {
    await writeFile(join(dir, "a.yaml"), gateway("first"));
    const updates = updateQueue();
    source = new FileSource(dir, { debounceMs: 20, onUpdate: updates.onUpdate });

    expect(names(await source.start())).toEqual(["first"]);

    await mkdir(join(dir, "more"));
    await writeFile(join(dir, "more/b.yaml"), gateway("second"));
    expect(names(await updates.next())).toEqual(["first", "second"]);
    expect(names(source.current)).toEqual(["first", "second"]);
  });

  it("reloads a changed file and reports an edit that breaks it", async () => {
    await writeFile(join(dir, "a.yaml"), gateway("gw"));
    const updates = updateQueue();
    source = new FileSource(dir, { debounceMs: 20, onUpdate: updates.onUpdate });
    await source.start();

    await writeFile(join(dir, "a.yaml"), gateway("gw", "egressgateway"));
    const changed = await updates.next();
    const gw = changed.objects[0]?.object;
    expect(gw?.kind === "Gateway" && gw.spec.selector).toEqual({ istio: "egressgateway" });

    await writeFile(join(dir, "a.yaml"), gateway("gw").replace("selector", "selectr"));
    const broken = await updates.next();
    expect(broken.objects).toEqual([]);
    expect(broken.diagnostics[0]).toMatchObject({
      code: "TRL1002",
      object: { kind: "Gateway", name: "gw", source: { file: "a.yaml", documentIndex: 0 } },
      field: "spec.selectr",
    });
  });

  it("reports nothing when a save leaves the contents as they were", async () => {
    await writeFile(join(dir, "a.yaml"), gateway("gw"));
    const updates = updateQueue();
    source = new FileSource(dir, { debounceMs: 20, onUpdate: updates.onUpdate });
    await source.start();

    await writeFile(join(dir, "a.yaml"), gateway("gw"));
    await writeFile(join(dir, "notes.txt"), "not yaml");
    await sleep(300);
    expect(updates.received).toEqual([]);
  });

  it("handles a save that writes a temporary file and renames it over the original", async () => {
    await writeFile(join(dir, "a.yaml"), gateway("old"));
    const updates = updateQueue();
    source = new FileSource(dir, { debounceMs: 20, onUpdate: updates.onUpdate });
    await source.start();

    await writeFile(join(dir, ".a.yaml.tmp"), gateway("new"));
    await rename(join(dir, ".a.yaml.tmp"), join(dir, "a.yaml"));
    expect(names(await updates.next())).toEqual(["new"]);
  });

  it("does not drop a file's objects while an editor truncates it and writes it again", async () => {
    await writeFile(join(dir, "a.yaml"), gateway("gw"));
    const updates = updateQueue();
    source = new FileSource(dir, { debounceMs: 100, onUpdate: updates.onUpdate });
    await source.start();

    await truncate(join(dir, "a.yaml"), 0);
    // Past the debounce: the source has seen the empty file, and waits to be sure.
    await sleep(130);
    await writeFile(join(dir, "a.yaml"), gateway("gw", "egressgateway"));
    const update = await updates.next();
    expect(names(update)).toEqual(["gw"]);
    await sleep(300);
    expect(updates.received.map(names)).toEqual([["gw"]]);
  });

  it("reports a deleted file once the deletion is confirmed", async () => {
    await writeFile(join(dir, "a.yaml"), gateway("a"));
    await writeFile(join(dir, "b.yaml"), gateway("b"));
    const updates = updateQueue();
    source = new FileSource(dir, { debounceMs: 20, onUpdate: updates.onUpdate });
    await source.start();

    await unlink(join(dir, "b.yaml"));
    expect(names(await updates.next())).toEqual(["a"]);
  });

  it("stops watching on stop(): no more updates and no file-system handles left", async () => {
    const watchHandles = () => process.getActiveResourcesInfo().filter((r) => r === "FSEventWrap").length;
    const before = watchHandles();
    await writeFile(join(dir, "a.yaml"), gateway("a"));
    const updates = updateQueue();
    const watched = new FileSource(dir, { debounceMs: 20, onUpdate: updates.onUpdate });
    await watched.start();
    expect(watchHandles()).toBeGreaterThan(before);

    await writeFile(join(dir, "a.yaml"), gateway("changed"));
    await watched.stop();
    await writeFile(join(dir, "b.yaml"), gateway("b"));
    await sleep(200);

    expect(updates.received).toEqual([]);
    expect(watchHandles()).toBe(before);
  });

  it("rejects start() when the directory does not exist", async () => {
    const missing = new FileSource(join(dir, "missing"));
    await expect(missing.start()).rejects.toThrow(/ENOENT/);
  });
});
