// Runs the built `trellis` CLI as a real child process, as a user would.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "../..");
export const TRELLIS = join(REPO, "dist/src/cli/main.js");

export interface TrellisProcess {
  child: ChildProcess;
  /** Plaintext xDS; "" when not served (--kube without --dev-plaintext-xds). */
  xdsAddress: string;
  /** xDS over TLS (--kube). */
  xdsTlsAddress?: string;
  adminUrl: string;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  waitForLog(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<number | null>;
}

export function runTrellis(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TRELLIS, ...args], { cwd: REPO }, (err, stdout, stderr) => {
      resolve({ stdout, stderr, code: err ? ((err as { code?: number }).code ?? 1) : 0 });
    });
  });
}

export async function startTrellis(configDir: string, extra: string[] = []): Promise<TrellisProcess> {
  const child = spawn(
    process.execPath,
    [
      TRELLIS,
      "serve",
      "--config",
      configDir,
      "--xds-address",
      "127.0.0.1:0",
      "--admin-address",
      "127.0.0.1:0",
      // With --kube xDS over TLS is served too: on a free port, so suites can run side by side.
      ...(extra.includes("--kube") && !extra.includes("--xds-tls-address") ? ["--xds-tls-address", "127.0.0.1:0"] : []),
      ...extra,
    ],
    { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
  );
  const logs: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] =
    [];
  let buf = "";
  child.stdout?.on("data", (d: Buffer) => {
    buf += d.toString();
    let i = buf.indexOf("\n");
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      i = buf.indexOf("\n");
      try {
        const l = JSON.parse(line) as Record<string, unknown>;
        logs.push(l);
        for (const w of [...waiters]) {
          if (w.pred(l)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(l);
          }
        }
      } catch {
        // not a log line
      }
    }
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const waitForLog = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 10_000) => {
    const found = logs.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`log line not seen within ${timeoutMs} ms; stderr: ${stderr}`)),
        timeoutMs,
      );
      waiters.push({
        pred,
        resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        },
      });
    });
  };
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const ready = await waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("trellis serving"));
  return {
    child,
    xdsAddress: (ready.xds as string | undefined) ?? "",
    ...(typeof ready.xdsTls === "string" ? { xdsTlsAddress: ready.xdsTls } : {}),
    adminUrl: `http://${ready.admin as string}`,
    logs,
    waitForLog,
    stop: async () => {
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
