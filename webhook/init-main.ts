#!/usr/bin/env node
// trellis-init: runs once in the pod's network namespace (the injected init
// container) and programs iptables so the pod's TCP traffic goes through the
// Envoy sidecar. Flags and TRELLIS_INIT_* variables: webhook/init/args.ts and
// docs/traffic-capture.md. Exit codes: 0 applied (or dry run), 1 could not
// apply, 2 invalid flags.
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { networkInterfaces } from "node:os";
import { delimiter, join } from "node:path";
import { initCommand, parseInitArgs } from "./init/args.js";
import { EXIT_USAGE, type ExecResult, runInit } from "./init/run.js";

// iptables lives in sbin, which a non-root PATH often lacks.
const SBIN = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter((d) => d !== ""), ...SBIN];
  for (const dir of dirs) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

function exec(file: string, args: readonly string[], input?: string): ExecResult {
  const r = spawnSync(file, args, { input, encoding: "utf8", timeout: 60_000, killSignal: "SIGKILL" });
  const error = r.error
    ? r.error.message
    : r.signal
      ? `was killed by ${r.signal}${r.signal === "SIGKILL" ? " (timed out after 60s?)" : ""}`
      : undefined;
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", ...(error ? { error } : {}) };
}

const argv = process.argv.slice(2);
if (argv.includes("-h") || argv.includes("--help")) {
  process.stdout.write(initCommand().helpInformation());
  process.exit(0);
}
const parsed = parseInitArgs(argv, process.env);
if (!parsed.ok) {
  for (const e of parsed.errors) process.stderr.write(`trellis-init: ${e}\n`);
  process.stderr.write("trellis-init: nothing was changed; see --help\n");
  process.exit(EXIT_USAGE);
}
process.exitCode = runInit(parsed.value, {
  exec,
  which,
  interfaces: networkInterfaces,
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
