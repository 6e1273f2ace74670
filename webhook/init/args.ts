// trellis-init's flags and TRELLIS_INIT_* environment variables, parsed and
// validated once into an InitConfig. Pure: no I/O, no process globals (the
// caller passes argv and env), so the injector can check the arguments it
// emits with the same code the init container runs.
import { isIPv4, isIPv6 } from "node:net";
import { Command, CommanderError } from "commander";

export type IpFamily = 4 | 6;

/** A validated CIDR; `text` is what goes into the rules (`10.0.0.0/8`, `fd00::/8`). */
export interface Cidr {
  family: IpFamily;
  text: string;
}

/** `"*"` = every port / every address; an empty list = capture nothing on that side. */
export type PortSelection = "*" | readonly number[];
export type CidrSelection = "*" | readonly Cidr[];

export type Ipv6Mode = "auto" | "on" | "off";
/** Which iptables-restore to run: `auto` is the system's `iptables-restore` (whatever its alternative points at). */
export type Backend = "auto" | "nft" | "legacy";

export interface InitConfig {
  proxyUid: number;
  proxyGid: number;
  inboundCapturePort: number;
  outboundCapturePort: number;
  inboundPorts: PortSelection;
  excludeInboundPorts: readonly number[];
  outboundIpRanges: CidrSelection;
  excludeOutboundIpRanges: readonly Cidr[];
  excludeOutboundPorts: readonly number[];
  ipv6: Ipv6Mode;
  backend: Backend;
  dryRun: boolean;
}

export type ParseResult = { ok: true; value: InitConfig } | { ok: false; errors: string[] };

interface FlagSpec {
  flag: string;
  /** camelCase key commander uses for the flag. */
  key: string;
  env: string;
  arg: string;
  description: string;
  default: string;
}

/**
 * Every valued flag, its environment variable and its default. Defaults follow
 * Istio's injection defaults: capture every inbound port and every outbound
 * address, proxy UID/GID 1337, 15001 outbound / 15006 inbound.
 */
export const INIT_FLAGS: readonly FlagSpec[] = [
  flag("--proxy-uid", "uid", "UID of the proxy; its traffic is never captured", "1337"),
  flag("--proxy-gid", "gid", "GID of the proxy; its traffic is never captured", "1337"),
  flag("--inbound-capture-port", "port", "port of Envoy's inbound capture listener", "15006"),
  flag("--outbound-capture-port", "port", "port of Envoy's outbound capture listener", "15001"),
  flag("--inbound-ports", "csv|*", "inbound ports to capture; * = all, empty = no inbound capture", "*"),
  flag("--exclude-inbound-ports", "csv", "inbound ports never captured", ""),
  flag("--outbound-ip-ranges", "cidrs|*", "destination CIDRs to capture; * = all, empty = no outbound capture", "*"),
  flag("--exclude-outbound-ip-ranges", "cidrs", "destination CIDRs never captured", ""),
  flag("--exclude-outbound-ports", "csv", "destination ports never captured", ""),
  flag("--ipv6", "auto|on|off", "also program ip6tables; auto = when an interface has a global IPv6 address", "auto"),
  flag("--backend", "auto|nft|legacy", "iptables-restore to use; auto = the system's iptables-restore", "auto"),
];

export const DRY_RUN_ENV = "TRELLIS_INIT_DRY_RUN";

function flag(name: string, arg: string, description: string, def: string): FlagSpec {
  const bare = name.slice(2);
  return {
    flag: name,
    key: bare.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase()),
    env: `TRELLIS_INIT_${bare.replace(/-/g, "_").toUpperCase()}`,
    arg,
    description,
    default: def,
  };
}

/** The commander program for trellis-init; also used by init-main.ts for --help. */
export function initCommand(): Command {
  const cmd = new Command()
    .name("trellis-init")
    .description(
      "Program the pod's network namespace (iptables nat table) so its TCP traffic goes through the Envoy sidecar.\n" +
        "Every flag can also be given as an environment variable (shown in brackets); a flag wins over its variable.",
    )
    .helpOption("-h, --help", "show this help");
  for (const f of INIT_FLAGS) {
    cmd.option(`${f.flag} <${f.arg}>`, `${f.description} [${f.env}] (default: "${f.default}")`);
  }
  cmd.option("--dry-run", `print the iptables-restore input and change nothing [${DRY_RUN_ENV}=1]`);
  return cmd;
}

/**
 * Parses trellis-init's arguments (argv without node and the script) and
 * environment. Reports every invalid value, each naming its flag (or variable)
 * and the value, instead of stopping at the first.
 */
export function parseInitArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): ParseResult {
  // --help is init-main.ts's business; here it is just not a capture option.
  const cmd = initCommand()
    .helpOption(false)
    .exitOverride()
    .configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
  try {
    cmd.parse([...argv], { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) return { ok: false, errors: [err.message.replace(/^error: /, "")] };
    throw err;
  }
  const opts = cmd.opts<Record<string, string | boolean | undefined>>();
  const errors: string[] = [];

  /** The raw text for a flag: the flag, else its environment variable, else the default; and where it came from. */
  const raw = (f: FlagSpec): { text: string; source: string } => {
    const given = opts[f.key];
    if (typeof given === "string") return { text: given, source: f.flag };
    const fromEnv = env[f.env];
    if (fromEnv !== undefined) return { text: fromEnv, source: f.env };
    return { text: f.default, source: f.flag };
  };
  const spec = (name: string): FlagSpec => {
    const f = INIT_FLAGS.find((x) => x.flag === name);
    if (!f) throw new Error(`bug: no flag ${name}`);
    return f;
  };
  const read = <T>(name: string, parse: (text: string, source: string) => Parsed<T>): T | undefined => {
    const { text, source } = raw(spec(name));
    const result = parse(text.trim(), source);
    if ("errors" in result) {
      errors.push(...result.errors);
      return undefined;
    }
    return result.value;
  };

  const proxyUid = read("--proxy-uid", (t, s) => id(t, s));
  const proxyGid = read("--proxy-gid", (t, s) => id(t, s));
  const inboundCapturePort = read("--inbound-capture-port", (t, s) => single(t, s));
  const outboundCapturePort = read("--outbound-capture-port", (t, s) => single(t, s));
  const inboundPorts = read<PortSelection>("--inbound-ports", (t, s) => (t === "*" ? { value: "*" } : portList(t, s)));
  const excludeInboundPorts = read("--exclude-inbound-ports", (t, s) => portList(t, s));
  const outboundIpRanges = read<CidrSelection>("--outbound-ip-ranges", (t, s) =>
    t === "*" ? { value: "*" } : cidrList(t, s),
  );
  const excludeOutboundIpRanges = read("--exclude-outbound-ip-ranges", (t, s) => cidrList(t, s));
  const excludeOutboundPorts = read("--exclude-outbound-ports", (t, s) => portList(t, s));
  const ipv6 = read("--ipv6", (t, s) => oneOf(t, s, ["auto", "on", "off"] as const));
  const backend = read("--backend", (t, s) => oneOf(t, s, ["auto", "nft", "legacy"] as const));

  let dryRun = opts.dryRun === true;
  if (!dryRun && env[DRY_RUN_ENV] !== undefined) {
    const v = env[DRY_RUN_ENV].trim().toLowerCase();
    if (["1", "true", "yes"].includes(v)) dryRun = true;
    else if (!["", "0", "false", "no"].includes(v))
      errors.push(`${DRY_RUN_ENV}: "${env[DRY_RUN_ENV]}" is not 1/true or 0/false`);
  }

  if (inboundCapturePort !== undefined && inboundCapturePort === outboundCapturePort) {
    errors.push(
      `--inbound-capture-port and --outbound-capture-port: both are ${inboundCapturePort}; Envoy needs two listeners`,
    );
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    value: {
      proxyUid: proxyUid as number,
      proxyGid: proxyGid as number,
      inboundCapturePort: inboundCapturePort as number,
      outboundCapturePort: outboundCapturePort as number,
      inboundPorts: inboundPorts as PortSelection,
      excludeInboundPorts: excludeInboundPorts as number[],
      outboundIpRanges: outboundIpRanges as CidrSelection,
      excludeOutboundIpRanges: excludeOutboundIpRanges as Cidr[],
      excludeOutboundPorts: excludeOutboundPorts as number[],
      ipv6: ipv6 as Ipv6Mode,
      backend: backend as Backend,
      dryRun,
    },
  };
}

/** What each value parser returns: the value, or every problem with it (each naming the flag and the item). */
type Parsed<T> = { value: T } | { errors: string[] };

/** Comma-separated items; blanks (from `a,,b` or a trailing comma) are ignored. */
function items(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function port(item: string, source: string): number | string {
  const n = /^\d{1,5}$/.test(item) ? Number(item) : Number.NaN;
  if (!(n >= 1 && n <= 65535)) return `${source}: "${item}" is not a TCP port (1-65535)`;
  return n;
}

function single(text: string, source: string): Parsed<number> {
  const p = port(text, source);
  return typeof p === "string" ? { errors: [p] } : { value: p };
}

function portList(text: string, source: string): Parsed<number[]> {
  const out: number[] = [];
  const bad: string[] = [];
  for (const item of items(text)) {
    if (item === "*") {
      bad.push(`${source}: "*" must be the whole value, not one item of a list`);
      continue;
    }
    const p = port(item, source);
    if (typeof p === "string") bad.push(p);
    else if (!out.includes(p)) out.push(p);
  }
  return bad.length > 0 ? { errors: bad } : { value: out };
}

function id(text: string, source: string): Parsed<number> {
  // 2^32-1 is (uid_t)-1, "no user"; the owner match rejects it.
  const n = /^\d{1,10}$/.test(text) ? Number(text) : Number.NaN;
  if (!(n >= 0 && n <= 4294967294)) return { errors: [`${source}: "${text}" is not a numeric id (0-4294967294)`] };
  return { value: n };
}

function oneOf<const T extends string>(text: string, source: string, allowed: readonly T[]): Parsed<T> {
  const v = text.toLowerCase();
  return (allowed as readonly string[]).includes(v)
    ? { value: v as T }
    : { errors: [`${source}: "${text}" is not one of ${allowed.join(", ")}`] };
}

/** Parses `addr/len` or a bare address (a host, /32 or /128). */
export function parseCidr(item: string): Cidr | undefined {
  const slash = item.indexOf("/");
  const address = slash < 0 ? item : item.slice(0, slash);
  const family: IpFamily | undefined = isIPv4(address) ? 4 : isIPv6(address) ? 6 : undefined;
  if (family === undefined || address.includes("%")) return undefined;
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return { family, text: `${address}/${max}` };
  const len = item.slice(slash + 1);
  if (!/^\d{1,3}$/.test(len) || Number(len) > max) return undefined;
  return { family, text: `${address}/${Number(len)}` };
}

function cidrList(text: string, source: string): Parsed<Cidr[]> {
  const out: Cidr[] = [];
  const bad: string[] = [];
  for (const item of items(text)) {
    if (item === "*") {
      bad.push(`${source}: "*" must be the whole value, not one item of a list`);
      continue;
    }
    const c = parseCidr(item);
    if (!c) bad.push(`${source}: "${item}" is not a CIDR (like 10.0.0.0/8 or fd00::/8)`);
    else if (!out.some((x) => x.text === c.text)) out.push(c);
  }
  return bad.length > 0 ? { errors: bad } : { value: out };
}
