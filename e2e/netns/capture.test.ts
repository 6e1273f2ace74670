// trellis-init for real: each test creates a "pod" and a "peer" network
// namespace joined by a veth pair, runs `node dist/webhook/init-main.js` inside
// the pod's namespace, and proves with real TCP connections where traffic goes:
//
//   pod netns (10.254.0.1, fd00:7e11:5::1)              peer netns (10.254.0.2, 10.254.1.2, fd00:7e11:5::2)
//     sockets.py listening on 15001 (outbound capture),   sockets.py listening on 8080, 8081
//     15006 (inbound capture), 9080, 9081, 15021
//
// Every listener answers with the port it accepted on and SO_ORIGINAL_DST, so
// "captured" means "answered by the pod's 15001/15006 listener, which
// recovered the destination the client dialled", and "untouched" means
// "answered by the real server on the dialled address".
//
// Needs root, ip, iptables, setpriv and python3. Without them every test
// reports itself as skipped, with the reason; TRELLIS_E2E_REQUIRE_NETNS=1 (set
// by .ci/run) makes that a failure instead.
import { afterEach, describe, expect, it, type TestContext } from "vitest";
import {
  checkBuild,
  checkPrerequisites,
  cleanUp,
  connect,
  createPair,
  EXTRA_PEER_CIDR,
  EXTRA_PEER_IP,
  natTable,
  type Pair,
  PEER_IP,
  PEER_IP6,
  POD_IP,
  POD_IP6,
  REQUIRE_ENV,
  type Reply,
  startServer,
  trellisInit,
  which,
} from "./netns.js";

const prerequisites = await checkPrerequisites();

function needsNetns(ctx: TestContext): void {
  if (!prerequisites.ok) {
    if (process.env[REQUIRE_ENV] === "1") throw new Error(`${REQUIRE_ENV}=1 but ${prerequisites.reason}`);
    ctx.skip(prerequisites.reason);
  }
  checkBuild();
}

afterEach(cleanUp);

const APP = { uid: 1000, gid: 1000 };
const PROXY = { uid: 1337, gid: 1337 };
const POD_PORTS = [15001, 15006, 9080, 9081, 15021];
const PEER_PORTS = [8080, 8081];

/** The flags the injector emits for a pod with Istio's defaults; `overrides` replaces some. */
function flags(overrides: Record<string, string> = {}): string[] {
  const all: Record<string, string> = {
    "--proxy-uid": "1337",
    "--proxy-gid": "1337",
    "--inbound-capture-port": "15006",
    "--outbound-capture-port": "15001",
    "--inbound-ports": "*",
    "--exclude-inbound-ports": "15090,15021,15020",
    "--outbound-ip-ranges": "*",
    "--exclude-outbound-ip-ranges": "",
    "--exclude-outbound-ports": "",
    ...overrides,
  };
  return Object.entries(all).flat();
}

async function podAndPeer(opts: { ipv6?: boolean } = {}): Promise<Pair> {
  const pair = await createPair(opts);
  await Promise.all([startServer(pair.pod, "pod", POD_PORTS, opts), startServer(pair.peer, "peer", PEER_PORTS, opts)]);
  return pair;
}

async function applyInit(pod: string, args: string[]): Promise<string> {
  const r = await trellisInit(pod, args);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r.stdout;
}

/** Answered by the pod's capture listener on `capturePort`, which recovered `dialled` as the original destination. */
function expectCaptured(reply: Reply, capturePort: number, dialled: [string, number]): void {
  expect({ tag: reply.tag, port: reply.local[1], original: reply.original_dst }).toEqual({
    tag: "pod",
    port: capturePort,
    original: dialled,
  });
}

/** Answered by the real server `tag` on exactly the address that was dialled. */
function expectUntouched(reply: Reply, tag: "pod" | "peer", dialled: [string, number]): void {
  expect({ tag: reply.tag, local: reply.local }).toEqual({ tag, local: dialled });
}

const backends = ["auto", ...(which("iptables-legacy-restore") ? ["legacy" as const] : [])] as const;

describe.each(backends)("trellis-init --backend %s in a pod's network namespace", (backend) => {
  const withBackend = (overrides: Record<string, string> = {}) => [...flags(overrides), "--backend", backend];

  it("redirects an application's outbound TCP to 15001, which recovers the original destination", async (ctx) => {
    needsNetns(ctx);
    const { pod } = await podAndPeer();
    await applyInit(pod, withBackend());

    expectCaptured(await connect(pod, PEER_IP, 8080, APP), 15001, [PEER_IP, 8080]);
    // root is an application too: only the proxy's UID/GID is exempt.
    expectCaptured(await connect(pod, PEER_IP, 8081), 15001, [PEER_IP, 8081]);
  });

  it("redirects inbound TCP to 15006, which recovers the original destination", async (ctx) => {
    needsNetns(ctx);
    const { pod, peer } = await podAndPeer();
    await applyInit(pod, withBackend());

    expectCaptured(await connect(peer, POD_IP, 9080), 15006, [POD_IP, 9080]);
    expectCaptured(await connect(peer, POD_IP, 9081), 15006, [POD_IP, 9081]);
  });

  it("does not capture the proxy's own connections (UID 1337, or GID 1337 alone)", async (ctx) => {
    needsNetns(ctx);
    const { pod } = await podAndPeer();
    await applyInit(pod, withBackend());

    expectUntouched(await connect(pod, PEER_IP, 8080, PROXY), "peer", [PEER_IP, 8080]);
    expectUntouched(await connect(pod, PEER_IP, 8080, { uid: 1337, gid: 1000 }), "peer", [PEER_IP, 8080]);
    expectUntouched(await connect(pod, PEER_IP, 8080, { uid: 1000, gid: 1337 }), "peer", [PEER_IP, 8080]);
  });

  it("lets excluded outbound ports and CIDRs, excluded inbound ports and reserved ports pass untouched", async (ctx) => {
    needsNetns(ctx);
    const { pod, peer } = await podAndPeer();
    await applyInit(
      pod,
      withBackend({
        "--exclude-outbound-ports": "8081",
        "--exclude-outbound-ip-ranges": EXTRA_PEER_CIDR,
        "--exclude-inbound-ports": "15090,15021,15020,9081",
      }),
    );

    expectUntouched(await connect(pod, PEER_IP, 8081, APP), "peer", [PEER_IP, 8081]);
    expectUntouched(await connect(pod, EXTRA_PEER_IP, 8080, APP), "peer", [EXTRA_PEER_IP, 8080]);
    expectCaptured(await connect(pod, PEER_IP, 8080, APP), 15001, [PEER_IP, 8080]);

    expectUntouched(await connect(peer, POD_IP, 9081), "pod", [POD_IP, 9081]);
    expectUntouched(await connect(peer, POD_IP, 15021), "pod", [POD_IP, 15021]);
    expectCaptured(await connect(peer, POD_IP, 9080), 15006, [POD_IP, 9080]);
  });

  it("yields the same nat table when run twice, with one jump from PREROUTING and OUTPUT", async (ctx) => {
    needsNetns(ctx);
    const { pod } = await createPair();
    const before = await natTable(pod, 4, backend);
    expect(before).not.toContain("TRELLIS");

    const first = await applyInit(pod, withBackend());
    const once = await natTable(pod, 4, backend);
    const second = await applyInit(pod, withBackend());
    const twice = await natTable(pod, 4, backend);

    expect(twice).toBe(once);
    expect(once.split("\n").filter((l) => l.startsWith("-A PREROUTING"))).toEqual([
      "-A PREROUTING -p tcp -j TRELLIS_INBOUND",
    ]);
    expect(once.split("\n").filter((l) => l.startsWith("-A OUTPUT"))).toEqual(["-A OUTPUT -p tcp -j TRELLIS_OUTPUT"]);
    // The second run saw the first run's jumps and replaced them in the same commit.
    expect(first).not.toContain("-D PREROUTING");
    expect(second).toContain("-D PREROUTING -p tcp -j TRELLIS_INBOUND");

    // A re-run with other flags replaces the rules instead of adding to them.
    await applyInit(pod, withBackend({ "--inbound-ports": "" }));
    const changed = await natTable(pod, 4, backend);
    expect(changed).not.toContain("-A PREROUTING");
    expect(changed.split("\n").filter((l) => l.startsWith("-A OUTPUT"))).toHaveLength(1);
  });
});

describe("trellis-init capture semantics", () => {
  it("sends the proxy's connections to the pod's own IP through the inbound path, but not the app's or Envoy's inbound passthrough from 127.0.0.6", async (ctx) => {
    needsNetns(ctx);
    const { pod } = await podAndPeer();
    await applyInit(pod, flags({ "--exclude-inbound-ports": "15090,15021,15020,9081" }));

    // An app calling its own service: Envoy's outbound side dials the pod IP, which must reach Envoy's inbound side.
    expectCaptured(await connect(pod, POD_IP, 9080, PROXY), 15006, [POD_IP, 9080]);
    // ... unless the port is not captured inbound.
    expectUntouched(await connect(pod, POD_IP, 9081, PROXY), "pod", [POD_IP, 9081]);
    expectUntouched(await connect(pod, POD_IP, 15021, PROXY), "pod", [POD_IP, 15021]);
    // Envoy forwarding captured inbound traffic to the app, from 127.0.0.6.
    const passthrough = await connect(pod, POD_IP, 9080, { ...PROXY, bind: "127.0.0.6" });
    expectUntouched(passthrough, "pod", [POD_IP, 9080]);
    expect(passthrough.peer[0]).toBe("127.0.0.6");
    // The app calling itself, over localhost or its pod IP.
    expectUntouched(await connect(pod, "127.0.0.1", 9080, APP), "pod", ["127.0.0.1", 9080]);
    expectUntouched(await connect(pod, POD_IP, 9080, APP), "pod", [POD_IP, 9080]);
    // The proxy to localhost (e.g. its own admin port).
    expectUntouched(await connect(pod, "127.0.0.1", 9080, PROXY), "pod", ["127.0.0.1", 9080]);
  });

  it("captures only the listed inbound ports and outbound CIDRs", async (ctx) => {
    needsNetns(ctx);
    const { pod, peer } = await podAndPeer();
    await applyInit(pod, flags({ "--inbound-ports": "9080,15021", "--outbound-ip-ranges": "10.254.0.0/30" }));

    expectCaptured(await connect(peer, POD_IP, 9080), 15006, [POD_IP, 9080]);
    expectUntouched(await connect(peer, POD_IP, 9081), "pod", [POD_IP, 9081]);
    // 15021 is listed, but reserved ports are never captured.
    expectUntouched(await connect(peer, POD_IP, 15021), "pod", [POD_IP, 15021]);

    expectCaptured(await connect(pod, PEER_IP, 8080, APP), 15001, [PEER_IP, 8080]);
    expectUntouched(await connect(pod, EXTRA_PEER_IP, 8080, APP), "peer", [EXTRA_PEER_IP, 8080]);
  });

  it("captures nothing when the inbound ports and outbound ranges are empty", async (ctx) => {
    needsNetns(ctx);
    const { pod, peer } = await podAndPeer();
    await applyInit(pod, flags({ "--inbound-ports": "", "--outbound-ip-ranges": "" }));

    expectUntouched(await connect(peer, POD_IP, 9080), "pod", [POD_IP, 9080]);
    expectUntouched(await connect(pod, PEER_IP, 8080, APP), "peer", [PEER_IP, 8080]);
  });

  it("--dry-run prints the iptables-restore input and changes nothing", async (ctx) => {
    needsNetns(ctx);
    const { pod } = await createPair();
    const before = await natTable(pod, 4);

    const r = await trellisInit(pod, [...flags(), "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("# IPv4: iptables-restore --noflush\n*nat\n");
    expect(r.stdout).toContain("-A TRELLIS_REDIRECT -p tcp -j REDIRECT --to-ports 15001");
    expect(r.stdout).toContain("-A TRELLIS_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006");
    expect(r.stdout).not.toContain("IPv6:"); // only link-local IPv6 on this pod
    expect(await natTable(pod, 4)).toBe(before);
  });

  it("exits 2, naming the flag and the value, on invalid flags and changes nothing", async (ctx) => {
    needsNetns(ctx);
    const { pod } = await createPair();
    const before = await natTable(pod, 4);

    const r = await trellisInit(
      pod,
      flags({ "--inbound-ports": "9080,70000", "--exclude-outbound-ip-ranges": "10.0.0.0/33" }),
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--inbound-ports: "70000" is not a TCP port');
    expect(r.stderr).toContain('--exclude-outbound-ip-ranges: "10.0.0.0/33" is not a CIDR');
    expect(r.stdout).toBe("");

    const unknown = await trellisInit(pod, [...flags(), "--redirect-mode", "TPROXY"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown option '--redirect-mode'");
    expect(await natTable(pod, 4)).toBe(before);
  });

  it("exits 1 with a message naming what failed when it lacks NET_ADMIN, and changes nothing", async (ctx) => {
    needsNetns(ctx);
    const { pod } = await createPair();
    const before = await natTable(pod, 4);

    const r = await trellisInit(pod, flags(), { dropCapabilities: true });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot (read|program) the IPv4 nat table: \S*iptables-(save|restore)/);
    expect(r.stderr).toContain("Permission denied"); // iptables' own error, passed on
    expect(r.stderr).toContain("CAP_NET_ADMIN");
    expect(await natTable(pod, 4)).toBe(before);
  });
});

describe("trellis-init with IPv6", () => {
  it("captures IPv6 too when the pod has a ULA address (--ipv6 auto)", async (ctx) => {
    needsNetns(ctx);
    const { pod, peer } = await podAndPeer({ ipv6: true });
    const out = await applyInit(pod, flags());
    expect(out).toContain("programming IPv4 and IPv6");

    expectCaptured(await connect(pod, PEER_IP6, 8080, APP), 15001, [PEER_IP6, 8080]);
    expectCaptured(await connect(peer, POD_IP6, 9080), 15006, [POD_IP6, 9080]);
    expectUntouched(await connect(pod, PEER_IP6, 8080, PROXY), "peer", [PEER_IP6, 8080]);
    expectUntouched(await connect(pod, "::1", 9080, APP), "pod", ["::1", 9080]);
    expectCaptured(await connect(pod, POD_IP6, 9080, PROXY), 15006, [POD_IP6, 9080]);
    // IPv4 is still captured alongside.
    expectCaptured(await connect(pod, PEER_IP, 8080, APP), 15001, [PEER_IP, 8080]);
  });

  it("leaves ip6tables alone when the pod has only link-local IPv6 (--ipv6 auto)", async (ctx) => {
    needsNetns(ctx);
    const { pod } = await createPair();
    const out = await applyInit(pod, flags());
    expect(out).toContain("programming IPv4 (--ipv6 auto: no global IPv6 address)");
    expect(await natTable(pod, 6)).not.toContain("TRELLIS");
    expect(await natTable(pod, 4)).toContain("TRELLIS");
  });
});
