// The parts of a Kubernetes Pod that injection reads or writes, as loose
// structural types: an AdmissionReview's `request.object`, or a workload's
// `spec.template` read from a user's YAML. Every other field is carried through
// untouched (index signatures), and nothing here depends on a client library's
// generated types, so the injection stays a pure function of plain JSON.

export type JsonObject = Record<string, unknown>;

export interface ContainerPort extends JsonObject {
  containerPort?: number;
  name?: string;
  protocol?: string;
}

export interface Container extends JsonObject {
  name?: string;
  image?: string;
  ports?: ContainerPort[];
}

export interface OwnerReference extends JsonObject {
  kind?: string;
  name?: string;
  controller?: boolean;
}

export interface ObjectMeta extends JsonObject {
  name?: string;
  generateName?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface PodSpec extends JsonObject {
  containers?: Container[];
  initContainers?: Container[];
  volumes?: JsonObject[];
  hostNetwork?: boolean;
  serviceAccountName?: string;
}

export interface Pod extends JsonObject {
  metadata?: ObjectMeta;
  spec?: PodSpec;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The string entries of a label or annotation map (anything else is not a valid Kubernetes map and is ignored). */
export function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(value)) return out;
  for (const [k, v] of Object.entries(value)) if (typeof v === "string") out[k] = v;
  return out;
}

export function labelsOf(pod: Pod): Record<string, string> {
  return stringMap(pod.metadata?.labels);
}

export function annotationsOf(pod: Pod): Record<string, string> {
  return stringMap(pod.metadata?.annotations);
}

/** The containers of a list field, skipping entries that are not objects. */
export function containersOf(list: unknown): Container[] {
  return Array.isArray(list) ? list.filter(isObject) : [];
}
