// What Trellis knows of a proxy's xDS state, read from its admin
// `/debug/syncz`: which types the proxy subscribed to, what was sent, what it
// ACKed or NACKed. The suite waits on this rather than on sleeps, so "Envoy has
// the new config" means Envoy said so.
import { HOST, SERVICE_PORT } from "./mesh.js";

export const XDS_TYPES = ["CDS", "EDS", "LDS", "RDS"] as const;
/** The EDS resources Envoy must subscribe to once the mesh is loaded: one per DestinationRule subset. */
export const SUBSET_CLUSTERS = ["v1", "v2"].map((v) => `outbound|${SERVICE_PORT}|${v}|${HOST}`);
/** The RDS route configuration of the `0.0.0.0_<port>` HTTP listener. */
export const ROUTE_NAME = String(SERVICE_PORT);

export interface TypeSync {
  type: string;
  state: string;
  sentVersion: string;
  ackedVersion: string;
  resourceNames: string[];
  lastNack: unknown;
}

export interface StreamSync {
  streamId: number;
  nodeId: string;
  kind: string;
  types: TypeSync[];
}

/** The latest xDS stream of a proxy (a reconnect opens a new one). */
export async function streamOf(adminPort: number, nodeId: string): Promise<StreamSync | undefined> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/debug/syncz`);
  const streams = ((await res.json()) as StreamSync[]).filter((s) => s.nodeId === nodeId);
  return streams.sort((a, b) => b.streamId - a.streamId)[0];
}

export const routeVersion = (s: StreamSync | undefined) => s?.types.find((t) => t.type === "RDS")?.ackedVersion;

/**
 * Why the stream is not yet in sync with the mesh, or undefined when it is:
 * CDS, EDS, LDS and RDS all ACKed at the version last sent, EDS subscribed to
 * both subsets, RDS to the listener's route configuration, and (after a
 * change) a route version other than `routeVersionBefore` ACKed.
 */
export function notInSync(s: StreamSync | undefined, routeVersionBefore?: string): string | undefined {
  if (!s) return "not connected";
  for (const t of XDS_TYPES) {
    const ts = s.types.find((x) => x.type === t);
    if (!ts) return `${t} not requested yet`;
    if (ts.lastNack) return `${t} NACKed: ${JSON.stringify(ts.lastNack)}`;
    if (ts.state !== "SYNCED" || ts.ackedVersion !== ts.sentVersion) return `${t} is ${ts.state}`;
  }
  const eds = s.types.find((x) => x.type === "EDS");
  const missing = SUBSET_CLUSTERS.filter((c) => !eds?.resourceNames.includes(c));
  if (missing.length > 0) return `EDS not subscribed to ${missing.join(", ")}`;
  if (!s.types.find((x) => x.type === "RDS")?.resourceNames.includes(ROUTE_NAME)) {
    return `RDS not subscribed to "${ROUTE_NAME}"`;
  }
  if (routeVersionBefore !== undefined && routeVersion(s) === routeVersionBefore) return "new routes not ACKed yet";
  return undefined;
}

/** Polls /debug/syncz until the proxy is in sync; the error says what was still missing. */
export async function waitInSync(
  adminPort: number,
  nodeId: string,
  opts: { timeoutMs: number; routeVersionBefore?: string; context?: () => string },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let why: string | undefined = "not checked";
  while (Date.now() < deadline) {
    why = notInSync(await streamOf(adminPort, nodeId), opts.routeVersionBefore);
    if (why === undefined) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${nodeId} not in sync after ${opts.timeoutMs} ms: ${why}\n${opts.context?.() ?? ""}`);
}
