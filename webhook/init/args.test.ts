import { describe, expect, it } from "vitest";
import { type InitConfig, parseInitArgs } from "./args.js";

/** The arguments the injector gives trellis-init for a pod with Istio's default annotations. */
const INJECTED = [
  "--proxy-uid",
  "1337",
  "--proxy-gid",
  "1337",
  "--inbound-capture-port",
  "15006",
  "--outbound-capture-port",
  "15001",
  "--inbound-ports",
  "*",
  "--exclude-inbound-ports",
  "15090,15021,15020",
  "--outbound-ip-ranges",
  "*",
  "--exclude-outbound-ip-ranges",
  "",
  "--exclude-outbound-ports",
  "",
];

function ok(argv: string[], env: Record<string, string> = {}): InitConfig {
  const r = parseInitArgs(argv, env);
  if (!r.ok) throw new Error(`expected to parse, got: ${r.errors.join("; ")}`);
  return r.value;
}

function errors(argv: string[], env: Record<string, string> = {}): string[] {
  const r = parseInitArgs(argv, env);
  if (r.ok) throw new Error("expected errors");
  return r.errors;
}

describe("parseInitArgs", () => {
  it("parses the injector's arguments", () => {
    expect(ok(INJECTED)).toEqual({
      proxyUid: 1337,
      proxyGid: 1337,
      inboundCapturePort: 15006,
      outboundCapturePort: 15001,
      inboundPorts: "*",
      excludeInboundPorts: [15090, 15021, 15020],
      outboundIpRanges: "*",
      excludeOutboundIpRanges: [],
      excludeOutboundPorts: [],
      ipv6: "auto",
      backend: "auto",
      dryRun: false,
    } satisfies InitConfig);
  });

  it("defaults to Istio's: capture all inbound ports and all outbound addresses, proxy 1337, 15006/15001", () => {
    expect(ok([])).toEqual(ok(INJECTED.slice(0, 10)));
    expect(ok([])).toMatchObject({ inboundPorts: "*", outboundIpRanges: "*", excludeInboundPorts: [] });
  });

  it("accepts --flag=value and an empty value, which turns that side's capture off", () => {
    const c = ok(["--inbound-ports=", "--outbound-ip-ranges", "", "--dry-run", "--ipv6=ON"]);
    expect(c.inboundPorts).toEqual([]);
    expect(c.outboundIpRanges).toEqual([]);
    expect(c.dryRun).toBe(true);
    expect(c.ipv6).toBe("on");
  });

  it("tolerates spaces, blank items and repeats in lists, keeping the order", () => {
    const c = ok(["--inbound-ports", " 9080, 9081,,9080,", "--exclude-outbound-ip-ranges", "10.0.0.0/8 ,10.0.0.0/8"]);
    expect(c.inboundPorts).toEqual([9080, 9081]);
    expect(c.excludeOutboundIpRanges).toEqual([{ family: 4, text: "10.0.0.0/8" }]);
  });

  it("reads IPv4 and IPv6 CIDRs, and takes a bare address as a single host", () => {
    const c = ok(["--outbound-ip-ranges", "10.96.0.0/12,fd00::/8,192.168.1.7,2001:db8::1"]);
    expect(c.outboundIpRanges).toEqual([
      { family: 4, text: "10.96.0.0/12" },
      { family: 6, text: "fd00::/8" },
      { family: 4, text: "192.168.1.7/32" },
      { family: 6, text: "2001:db8::1/128" },
    ]);
  });

  it("takes TRELLIS_INIT_* variables when a flag is absent, and the flag when both are given", () => {
    const env = {
      TRELLIS_INIT_PROXY_UID: "2000",
      TRELLIS_INIT_INBOUND_PORTS: "",
      TRELLIS_INIT_EXCLUDE_OUTBOUND_PORTS: "3306",
      TRELLIS_INIT_IPV6: "off",
      TRELLIS_INIT_BACKEND: "legacy",
      TRELLIS_INIT_DRY_RUN: "true",
    };
    const c = ok(["--proxy-uid", "1337"], env);
    expect(c).toMatchObject({
      proxyUid: 1337,
      inboundPorts: [],
      excludeOutboundPorts: [3306],
      ipv6: "off",
      backend: "legacy",
      dryRun: true,
    });
    expect(ok([], { TRELLIS_INIT_DRY_RUN: "0" }).dryRun).toBe(false);
  });

  it("reports every invalid value, each naming its flag and the value", () => {
    const errs = errors([
      "--proxy-uid",
      "-1",
      "--inbound-ports",
      "9080,0,70000,http",
      "--exclude-inbound-ports",
      "80,*",
      "--outbound-ip-ranges",
      "10.0.0.0/33,300.1.2.3/8,fd00::/129,example.com",
      "--ipv6",
      "maybe",
      "--backend",
      "iptables",
    ]);
    expect(errs).toEqual([
      '--proxy-uid: "-1" is not a numeric id (0-4294967294)',
      '--inbound-ports: "0" is not a TCP port (1-65535)',
      '--inbound-ports: "70000" is not a TCP port (1-65535)',
      '--inbound-ports: "http" is not a TCP port (1-65535)',
      '--exclude-inbound-ports: "*" must be the whole value, not one item of a list',
      '--outbound-ip-ranges: "10.0.0.0/33" is not a CIDR (like 10.0.0.0/8 or fd00::/8)',
      '--outbound-ip-ranges: "300.1.2.3/8" is not a CIDR (like 10.0.0.0/8 or fd00::/8)',
      '--outbound-ip-ranges: "fd00::/129" is not a CIDR (like 10.0.0.0/8 or fd00::/8)',
      '--outbound-ip-ranges: "example.com" is not a CIDR (like 10.0.0.0/8 or fd00::/8)',
      '--ipv6: "maybe" is not one of auto, on, off',
      '--backend: "iptables" is not one of auto, nft, legacy',
    ]);
  });

  it("names the environment variable when the bad value came from one", () => {
    expect(errors([], { TRELLIS_INIT_OUTBOUND_CAPTURE_PORT: "15001x", TRELLIS_INIT_DRY_RUN: "perhaps" })).toEqual([
      'TRELLIS_INIT_OUTBOUND_CAPTURE_PORT: "15001x" is not a TCP port (1-65535)',
      'TRELLIS_INIT_DRY_RUN: "perhaps" is not 1/true or 0/false',
    ]);
  });

  it("refuses the same port for inbound and outbound capture", () => {
    expect(errors(["--inbound-capture-port", "15001"])).toEqual([
      "--inbound-capture-port and --outbound-capture-port: both are 15001; Envoy needs two listeners",
    ]);
  });

  it("rejects unknown options, a missing value and stray arguments", () => {
    expect(errors(["--interception-mode", "TPROXY"])).toEqual(["unknown option '--interception-mode'"]);
    expect(errors(["--inbound-ports"])).toEqual(["option '--inbound-ports <csv|*>' argument missing"]);
    expect(errors(["15001"])[0]).toMatch(/too many arguments/);
  });

  it("does not read process.env or exit the process", () => {
    process.env.TRELLIS_INIT_PROXY_UID = "4242";
    try {
      expect(ok([]).proxyUid).toBe(1337);
      expect(errors(["--help"])).toEqual(["unknown option '--help'"]);
    } finally {
      delete process.env.TRELLIS_INIT_PROXY_UID;
    }
  });
});
