#!/usr/bin/env node
// Runs before `npm start` and `npm test`: on a fresh clone, installs the
// dependencies (which also syncs the Envoy protos, generates types and builds),
// so each README command works on its own.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ready = [
  "node_modules/.package-lock.json",
  "envoy-api-protos/index.json",
  "src/envoy/generated/package.json",
].every((f) => existsSync(join(root, f)));
if (!ready) {
  console.error("trellis: first run on this checkout: installing dependencies (npm ci)…");
  execFileSync(process.platform === "win32" ? "npm.cmd" : "npm", ["ci"], { cwd: root, stdio: "inherit" });
}
