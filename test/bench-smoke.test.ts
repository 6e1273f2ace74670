// The benchmark end to end, as `npm run bench:quick` runs it: a real `trellis
// serve` and the load generator in their own processes, 20 simulated sidecars
// per xDS mode. Timings are not asserted (CI machines are shared); what is: every
// proxy reached full config and every change reached every affected proxy,
// endpoint churn pushed EDS only, bytes flowed, and the report states each target.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { REPO } from "./support/trellis-process.js";

const dir = mkdtempSync(join(tmpdir(), "trellis-bench-smoke-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runQuick(out: string, plots: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO, "dist/bench/run.js"), "--quick", "--out", out, "--plots", plots],
      { cwd: REPO, timeout: 110_000 },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe("npm run bench --quick", () => {
  it("converges every simulated proxy, pushes EDS only on endpoint churn, and reports every target", async () => {
    const out = join(dir, "quick.json");
    const plots = join(dir, "plots");
    const r = await runQuick(out, plots);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("targets:");
    const results = JSON.parse(readFileSync(out, "utf8"));
    expect(results.machine.cores).toBeGreaterThan(0);

    for (const mode of ["sotw", "delta"]) {
      const run = results.runs.find((x: { mode: string }) => x.mode === mode);
      expect(run, mode).toBeDefined();
      expect(run.error, mode).toBeUndefined();
      // 1. Cold start: all 20 proxies ACKed full config.
      expect(run.coldStart.connected).toBe(20);
      expect(run.coldStart.full).toBe(20);
      expect(run.coldStart.allMs).toBeGreaterThan(0);
      // 2. Every VirtualService change reached every proxy, as RDS only.
      expect(run.vs.changes.length).toBeGreaterThan(0);
      for (const c of run.vs.changes) {
        expect(c.affected).toBe(20);
        expect(c.missing).toBe(0);
        expect(c.responses).toMatchObject({ CDS: 0, EDS: 0, LDS: 0 });
      }
      // 3. Endpoint churn: every change arrived, and nothing but EDS was pushed.
      expect(run.churn.changes.length).toBeGreaterThan(0);
      for (const c of run.churn.changes) {
        expect(c.affected).toBeGreaterThan(0);
        expect(c.missing).toBe(0);
      }
      expect(run.churn.responses.EDS).toBeGreaterThan(0);
      expect(run.churn.responses).toMatchObject({ CDS: 0, LDS: 0, RDS: 0 });
      expect(run.churn.nonEdsResponses).toBe(0);
      // 4. Memory was measured (with a forced GC).
      expect(run.memory.afterColdStart.gc).toBe(true);
      expect(run.memory.marginal.full).toBe(run.memory.marginal.proxies);
      // 5. Bytes per proxy for the initial full push, every type.
      expect(run.bytes.perProxyInitial.min).toBeGreaterThan(0);
      for (const t of ["CDS", "EDS", "LDS", "RDS"]) expect(run.bytes.perProxyInitialByType[t]).toBeGreaterThan(0);
      // The simulator reports its own cost next to the control plane's.
      expect(run.loadgen.cpuSeconds).toBeGreaterThan(0);
      expect(run.loadgen.streamErrors).toBe(0);
    }

    // Each target, per mode, stated as met or not met.
    expect(results.targets).toHaveLength(12);
    for (const t of results.targets) expect(typeof t.met).toBe("boolean");
    for (const f of ["cold-start.svg", "vs-convergence.svg", "vs-cpu.svg", "memory-per-proxy.svg"]) {
      expect(existsSync(join(plots, f)), f).toBe(true);
      expect(readFileSync(join(plots, f), "utf8")).toContain("<svg");
    }
  }, 120_000);
});
