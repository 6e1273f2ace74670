// The identity and properties a proxy announces in its xDS `node`.
// Only the first request on a stream is guaranteed to carry the node
// (xDS protocol, "Basic Protocol Overview"), so a stream keeps the one it got first.

export interface ProxyNode {
  id: string;
  cluster: string;
  /** `node.metadata` as plain JSON (from google.protobuf.Struct). */
  metadata: Record<string, unknown>;
  locality: { region?: string; zone?: string; sub_zone?: string };
  userAgentName: string;
  userAgentVersion: string;
  clientFeatures: readonly string[];
}

interface StructValue {
  null_value?: unknown;
  number_value?: number;
  string_value?: string;
  bool_value?: boolean;
  struct_value?: { fields?: Record<string, StructValue> };
  list_value?: { values?: StructValue[] };
  kind?: string;
}

export function structToJson(s: { fields?: Record<string, StructValue> } | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {}))
    out[k] = valueToJson(v as StructValue & Record<string, unknown>);
  return out;
}

// protobufjs substitutes its bundled google/protobuf/struct.proto, whose field
// names are camelCase even with keepCase; accept both spellings.
function valueToJson(v: StructValue & Record<string, unknown>): unknown {
  const kind = String(v.kind ?? "").replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  const pick = (snake: string, camel: string) => v[snake] ?? v[camel];
  switch (kind) {
    case "numberValue":
      return pick("number_value", "numberValue");
    case "stringValue":
      return pick("string_value", "stringValue");
    case "boolValue":
      return pick("bool_value", "boolValue");
    case "structValue":
      return structToJson(pick("struct_value", "structValue") as StructValue["struct_value"]);
    case "listValue": {
      const list = pick("list_value", "listValue") as { values?: StructValue[] } | undefined;
      return (list?.values ?? []).map((x) => valueToJson(x as StructValue & Record<string, unknown>));
    }
    default:
      return null;
  }
}

// biome-ignore lint/suspicious/noExplicitAny: decoded proto-loader object
export function proxyNodeFromRequest(node: any): ProxyNode | undefined {
  if (!node || typeof node.id !== "string" || node.id === "") return undefined;
  return {
    id: node.id,
    cluster: node.cluster ?? "",
    metadata: structToJson(node.metadata),
    locality: node.locality ?? {},
    userAgentName: node.user_agent_name ?? "",
    userAgentVersion: node.user_agent_version ?? buildVersion(node.user_agent_build_version) ?? "",
    clientFeatures: node.client_features ?? [],
  };
}

/**
 * Envoy sends `user_agent_build_version` (envoy.config.core.v3.BuildVersion),
 * whose `version` is a SemanticVersion message, not a string; gRPC clients send
 * the string `user_agent_version` instead. Zero fields may be absent on the wire.
 */
// biome-ignore lint/suspicious/noExplicitAny: decoded proto-loader object
function buildVersion(bv: any): string | undefined {
  const v = bv?.version;
  if (!v || typeof v !== "object") return undefined;
  return `${Number(v.major_number ?? 0)}.${Number(v.minor_number ?? 0)}.${Number(v.patch ?? 0)}`;
}
