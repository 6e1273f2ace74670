// Headers (request/response set, add, remove) → Envoy header operations, as
// Istio's TranslateHeadersOperations: `set` overwrites, `add` appends, each
// sorted by name; a `host`/`:authority` header becomes a host rewrite instead;
// other pseudo-headers cannot be changed by Envoy and are left out.
import type { Headers } from "../../config/networking/virtual-service.js";
import type { HeaderValueOption } from "../../envoy/generated/envoy/config/core/v3/HeaderValueOption.js";
import { isHeaderText } from "./regex.js";

export interface HeaderOperations {
  request_headers_to_add?: HeaderValueOption[];
  request_headers_to_remove?: string[];
  response_headers_to_add?: HeaderValueOption[];
  response_headers_to_remove?: string[];
  /** From a `host` or `:authority` header in request set/add (set wins). */
  authority?: string;
}

export function isAuthorityHeader(name: string): boolean {
  const n = name.toLowerCase();
  return n === ":authority" || n === "host";
}

/** Headers Envoy does not let a route modify. */
export function isInternalHeader(name: string): boolean {
  return name.startsWith(":") || name.toLowerCase() === "host";
}

/** Names and values Envoy would reject (rejecting the whole route configuration with them). */
export function isInvalidHeader(name: string, value = ""): boolean {
  return !name || !isHeaderText(name) || !isHeaderText(value);
}

function options(map: Record<string, string> | undefined, append: boolean): HeaderValueOption[] {
  return Object.keys(map ?? {})
    .filter((k) => !isInternalHeader(k) && !isInvalidHeader(k, map?.[k]))
    .sort()
    .map((key) => ({
      header: { key, value: map?.[key] ?? "" },
      append_action: append ? "APPEND_IF_EXISTS_OR_ADD" : "OVERWRITE_IF_EXISTS_OR_ADD",
    }));
}

function authorityIn(map: Record<string, string> | undefined): string | undefined {
  let found: string | undefined;
  for (const [k, v] of Object.entries(map ?? {})) if (isAuthorityHeader(k) && isHeaderText(v)) found = v;
  return found;
}

export function headerOperations(h: Headers): HeaderOperations {
  const out: HeaderOperations = {};
  const reqAdd = [...options(h.request?.set, false), ...options(h.request?.add, true)];
  const respAdd = [...options(h.response?.set, false), ...options(h.response?.add, true)];
  const removable = (k: string) => !isInternalHeader(k) && !isInvalidHeader(k);
  const reqRemove = (h.request?.remove ?? []).filter(removable);
  const respRemove = (h.response?.remove ?? []).filter(removable);
  if (reqAdd.length > 0) out.request_headers_to_add = reqAdd;
  if (reqRemove.length > 0) out.request_headers_to_remove = reqRemove;
  if (respAdd.length > 0) out.response_headers_to_add = respAdd;
  if (respRemove.length > 0) out.response_headers_to_remove = respRemove;
  const authority = authorityIn(h.request?.set) ?? authorityIn(h.request?.add);
  if (authority !== undefined) out.authority = authority;
  return out;
}

/** Appends `more` to the operations already on a route (Istio appends per-destination headers after the route's). */
export function appendOperations(
  target: Omit<HeaderOperations, "authority">,
  more: HeaderOperations,
): Omit<HeaderOperations, "authority"> {
  const cat = <T>(a: T[] | undefined, b: T[] | undefined) => (a || b ? [...(a ?? []), ...(b ?? [])] : undefined);
  const out: Omit<HeaderOperations, "authority"> = {};
  const reqAdd = cat(target.request_headers_to_add, more.request_headers_to_add);
  const reqRemove = cat(target.request_headers_to_remove, more.request_headers_to_remove);
  const respAdd = cat(target.response_headers_to_add, more.response_headers_to_add);
  const respRemove = cat(target.response_headers_to_remove, more.response_headers_to_remove);
  if (reqAdd) out.request_headers_to_add = reqAdd;
  if (reqRemove) out.request_headers_to_remove = reqRemove;
  if (respAdd) out.response_headers_to_add = respAdd;
  if (respRemove) out.response_headers_to_remove = respRemove;
  return out;
}
