// Which endpoints have a sidecar, as Istio tells: the label
// `security.istio.io/tlsMode: istio` that injection adds to the pod
// (webhook/inject adds it; WorkloadEntries carry it themselves). Endpoints
// carry the value in their EDS metadata under `envoy.transport_socket_match`,
// and auto-mTLS clusters pick their transport socket by it, so an endpoint
// gaining or losing its sidecar changes only EDS, not the cluster.
import type { Struct } from "../../envoy/generated/google/protobuf/Struct.js";

export const TLS_MODE_LABEL = "security.istio.io/tlsMode";
/** The value injection sets: the endpoint's sidecar terminates Istio mTLS. */
export const ISTIO_TLS_MODE = "istio";
/** Envoy's metadata namespace for transport_socket_matches. */
export const TRANSPORT_SOCKET_MATCH_KEY = "envoy.transport_socket_match";

/** The endpoint's tlsMode, unless it has none or says `disabled` (Istio's AppendLbEndpointMetadata). */
export function endpointTlsMode(labels: Readonly<Record<string, string>>): string | undefined {
  const v = labels[TLS_MODE_LABEL];
  return v && v !== "disabled" ? v : undefined;
}

export function hasSidecar(labels: Readonly<Record<string, string>>): boolean {
  return labels[TLS_MODE_LABEL] === ISTIO_TLS_MODE;
}

/** `{tlsMode: <mode>}` as a google.protobuf.Struct (the match and the endpoint metadata share it). */
export function tlsModeStruct(mode: string): Struct {
  return { fields: { tlsMode: { stringValue: mode } } };
}
