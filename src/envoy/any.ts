// Typed Any packing for builders: the value is type-checked against its
// generated message type, then carried as proto-loader's `{ "@type", ...fields }`
// form, which protobufjs encodes as a real google.protobuf.Any.
import type { AnyExtension } from "@grpc/proto-loader";
import type { Router } from "./generated/envoy/extensions/filters/http/router/v3/Router.js";
import type { HttpConnectionManager } from "./generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.js";

export const HCM_TYPE_URL =
  "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
export const ROUTER_TYPE_URL = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";

export function packAny<T extends object>(typeUrl: string, value: T): AnyExtension {
  return { "@type": typeUrl, ...value } as AnyExtension;
}

export const httpConnectionManager = (v: HttpConnectionManager) => packAny(HCM_TYPE_URL, v);
export const router = (v: Router = {}) => packAny(ROUTER_TYPE_URL, v);
