// Harness for the netns suite: throwaway network namespaces wired as a "pod"
// and a "peer", the python socket helper (sockets.py) started inside them, and
// trellis-init run in the pod's namespace. Everything a test creates is
// registered here and removed by `cleanUp()` (the suite's afterEach), whether
// the test passed or not. Traffic never leaves the namespaces created here.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { accessSync, constants, existsSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const INIT_MAIN = join(ROOT, "dist/webhook/init-main.js");
const SOCKETS_PY = fileURLToPath(new URL("./sockets.py", import.meta.url));

/** Every child process and subprocess has a deadline, so no test can hang. */
const COMMAND_TIMEOUT_MS = 20_000;
const SERVER_LIFETIME_S = 60;
const READY_TIMEOUT_MS = 10_000;

/** Set to 1 where root, ip and iptables are expected (CI): a missing prerequisite then fails instead of skipping. */
export const REQUIRE_ENV = "TRELLIS_E2E_REQUIRE_NETNS";

// ---- prerequisites ------------------------------------------------------------

export function which(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const dir of dirs.filter((d) => d !== "")) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

export type Prerequisites = { ok: true } | { ok: false; reason: string };

/**
 * Why the suite cannot run here, if it cannot: it needs root (network
 * namespaces, iptables), `ip`, `iptables-restore`, `setpriv` and `python3`,
 * and `ip netns add` must work (it does not in an unprivileged container).
 */
export async function checkPrerequisites(): Promise<Prerequisites> {
  if (process.getuid?.() !== 0) return { ok: false, reason: `not root (uid ${process.getuid?.()})` };
  const missing = ["ip", "iptables-restore", "iptables-save", "setpriv", "python3"].filter((t) => !which(t));
  if (missing.length > 0)
    return { ok: false, reason: `missing ${missing.join(", ")} (apt-get install iptables iproute2)` };
  await removeOrphans();
  const probe = `trellis-probe-${process.pid}`;
  const r = await run("ip", ["netns", "add", probe]);
  if (r.code !== 0) return { ok: false, reason: `ip netns add fails here: ${r.stderr.trim()}` };
  await run("ip", ["netns", "del", probe]);
  return { ok: true };
}

/** Deletes namespaces left by an earlier run of this suite that was killed before its afterEach ran. */
async function removeOrphans(): Promise<void> {
  const list = await run("ip", ["netns", "list"]);
  for (const line of list.stdout.split("\n")) {
    const m = /^(trellis-(\d+)-\d+-(pod|peer)|trellis-probe-(\d+))\b/.exec(line);
    const pid = Number(m?.[2] ?? m?.[4]);
    if (!m?.[1] || pid === process.pid || isAlive(pid)) continue;
    await run("ip", ["netns", "del", m[1]]);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** dist/ must hold a build of the current sources (`npm run build`). */
export function checkBuild(): void {
  if (!existsSync(INIT_MAIN)) throw new Error(`${INIT_MAIN} is missing: run \`npm run build\` first`);
  const built = statSync(INIT_MAIN).mtimeMs;
  const sources = ["webhook/init-main.ts", "webhook/init/args.ts", "webhook/init/rules.ts", "webhook/init/run.ts"];
  const newer = sources.filter((s) => existsSync(join(ROOT, s)) && statSync(join(ROOT, s)).mtimeMs > built);
  if (newer.length > 0) throw new Error(`${INIT_MAIN} is older than ${newer.join(", ")}: run \`npm run build\` first`);
}

// ---- processes ----------------------------------------------------------------

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(file: string, args: readonly string[], timeoutMs = COMMAND_TIMEOUT_MS): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: "SIGKILL", encoding: "utf8" }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
      resolve({ code, stdout, stderr: stderr || (err && code === null ? String(err.message) : "") });
    });
  });
}

/** Runs a command inside a network namespace. */
export function inNetns(ns: string, file: string, args: readonly string[]): Promise<RunResult> {
  return run("ip", ["netns", "exec", ns, file, ...args]);
}

async function mustRun(file: string, args: readonly string[]): Promise<string> {
  const r = await run(file, args);
  if (r.code !== 0) throw new Error(`${file} ${args.join(" ")} failed (${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

// ---- what a test created, removed by cleanUp() -----------------------------------

const namespaces = new Set<string>();
const children = new Set<ChildProcess>();
let counter = 0;

/** Kills the servers and deletes the namespaces the current test created. */
export async function cleanUp(): Promise<void> {
  for (const child of children) child.kill("SIGKILL");
  children.clear();
  const errors: string[] = [];
  for (const ns of namespaces) {
    const r = await run("ip", ["netns", "del", ns]);
    if (r.code !== 0 && !r.stderr.includes("No such file")) errors.push(`${ns}: ${r.stderr.trim()}`);
  }
  namespaces.clear();
  if (errors.length > 0) throw new Error(`could not delete namespaces: ${errors.join("; ")}`);
}

// ---- the scenario -------------------------------------------------------------

/**
 * Addresses of a pod/peer pair, linked by a veth pair named eth0 on both
 * sides. The peer also owns EXTRA_PEER_IP (routed from the pod through the
 * peer), so a test can tell two destination CIDRs apart.
 */
export const POD_IP = "10.254.0.1";
export const PEER_IP = "10.254.0.2";
export const EXTRA_PEER_IP = "10.254.1.2";
export const EXTRA_PEER_CIDR = "10.254.1.0/24";
export const POD_IP6 = "fd00:7e11:5::1";
export const PEER_IP6 = "fd00:7e11:5::2";

export interface Pair {
  pod: string;
  peer: string;
}

export async function createPair(opts: { ipv6?: boolean } = {}): Promise<Pair> {
  const id = `trellis-${process.pid}-${++counter}`;
  const pair = { pod: `${id}-pod`, peer: `${id}-peer` };
  for (const ns of [pair.pod, pair.peer]) {
    await mustRun("ip", ["netns", "add", ns]);
    namespaces.add(ns);
    await mustRun("ip", ["-n", ns, "link", "set", "lo", "up"]);
  }
  // Created directly inside the two namespaces, so the names cannot clash with the host's.
  await mustRun("ip", [
    "link",
    "add",
    "eth0",
    "netns",
    pair.pod,
    "type",
    "veth",
    "peer",
    "name",
    "eth0",
    "netns",
    pair.peer,
  ]);
  await mustRun("ip", ["-n", pair.pod, "addr", "add", `${POD_IP}/30`, "dev", "eth0"]);
  await mustRun("ip", ["-n", pair.peer, "addr", "add", `${PEER_IP}/30`, "dev", "eth0"]);
  await mustRun("ip", ["-n", pair.peer, "addr", "add", `${EXTRA_PEER_IP}/32`, "dev", "eth0"]);
  if (opts.ipv6) {
    // nodad: usable at once, no duplicate-address detection delay.
    await mustRun("ip", ["-n", pair.pod, "addr", "add", `${POD_IP6}/64`, "dev", "eth0", "nodad"]);
    await mustRun("ip", ["-n", pair.peer, "addr", "add", `${PEER_IP6}/64`, "dev", "eth0", "nodad"]);
  }
  for (const ns of [pair.pod, pair.peer]) await mustRun("ip", ["-n", ns, "link", "set", "eth0", "up"]);
  await mustRun("ip", ["-n", pair.pod, "route", "add", EXTRA_PEER_CIDR, "via", PEER_IP]);
  return pair;
}

/** What a sockets.py server answered: which listener got the connection, and SO_ORIGINAL_DST. */
export interface Reply {
  tag: string;
  local: [string, number];
  peer: [string, number];
  original_dst: [string, number] | null;
}

/** Starts sockets.py listening on `ports` inside `ns`; resolves once every socket is bound. */
export function startServer(ns: string, tag: string, ports: readonly number[], opts: { ipv6?: boolean } = {}) {
  const args = [
    "netns",
    "exec",
    ns,
    "python3",
    SOCKETS_PY,
    "serve",
    "--tag",
    tag,
    "--lifetime",
    `${SERVER_LIFETIME_S}`,
  ];
  for (const p of ports) args.push("--port", `${p}`);
  if (opts.ipv6) args.push("--ipv6");
  const child = spawn("ip", args, { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  return new Promise<void>((resolve, reject) => {
    let stderr = "";
    const timer = setTimeout(() => reject(new Error(`server ${tag} in ${ns} not ready: ${stderr}`)), READY_TIMEOUT_MS);
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout.on("data", (d: Buffer) => {
      if (d.toString().includes("READY")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server ${tag} in ${ns} exited (${code}): ${stderr}`));
    });
  });
}

export interface ConnectOptions {
  uid?: number;
  gid?: number;
  /** Source address to bind before connecting. */
  bind?: string;
}

/** Connects from inside `ns` (as uid/gid if given) and returns the server's reply, or throws with the error. */
export async function connect(ns: string, host: string, port: number, opts: ConnectOptions = {}): Promise<Reply> {
  const args = [SOCKETS_PY, "connect", "--host", host, "--port", `${port}`, "--timeout", "3"];
  if (opts.uid !== undefined) args.push("--uid", `${opts.uid}`);
  if (opts.gid !== undefined) args.push("--gid", `${opts.gid}`);
  if (opts.bind) args.push("--bind", opts.bind);
  const r = await inNetns(ns, "python3", args);
  if (r.code !== 0) throw new Error(`connect ${host}:${port} from ${ns} failed: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as Reply;
}

/** Runs trellis-init in `ns`. */
export function trellisInit(ns: string, args: readonly string[], opts: { dropCapabilities?: boolean } = {}) {
  const node = [process.execPath, INIT_MAIN, ...args];
  // setpriv as root with every capability dropped from the bounding and inheritable sets: uid 0, but no NET_ADMIN.
  const cmd = opts.dropCapabilities ? ["setpriv", "--inh-caps", "-all", "--bounding-set", "-all", ...node] : node;
  return inNetns(ns, cmd[0] as string, cmd.slice(1));
}

/** The nat table as `iptables-save` prints it, without comments and counters, for comparisons. */
export async function natTable(ns: string, family: 4 | 6, backend: "auto" | "legacy" | "nft" = "auto") {
  const base = family === 4 ? "iptables" : "ip6tables";
  const tool = backend === "auto" ? `${base}-save` : `${base}-${backend}-save`;
  const r = await inNetns(ns, tool, ["-t", "nat"]);
  if (r.code !== 0) throw new Error(`${tool} in ${ns} failed: ${r.stderr}`);
  return r.stdout
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"))
    .map((l) => l.replace(/ \[\d+:\d+\]$/, ""))
    .join("\n");
}
