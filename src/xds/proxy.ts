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
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = valueToJson(v);
  return out;
}

function valueToJson(v: StructValue): unknown {
  switch (v.kind) {
    case "number_value":
      return v.number_value;
    case "string_value":
      return v.string_value;
    case "bool_value":
      return v.bool_value;
    case "struct_value":
      return structToJson(v.struct_value);
    case "list_value":
      return (v.list_value?.values ?? []).map(valueToJson);
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
    userAgentVersion: node.user_agent_version ?? node.user_agent_build_version?.version ?? "",
    clientFeatures: node.client_features ?? [],
  };
}
