// Request path normalisation on every sidecar HTTP connection manager, from
// MeshConfig `pathNormalization.normalization` (Istio's setting, Istio's
// mapping in pilot's listener_builder.go):
//
// | value                    | normalize_path | merge_slashes | escaped slashes (%2F, %5C) |
// | NONE                     | false          | false         | KEEP_UNCHANGED             |
// | BASE                     | true           | false         | KEEP_UNCHANGED             |
// | MERGE_SLASHES            | true           | true          | KEEP_UNCHANGED             |
// | DECODE_AND_MERGE_SLASHES | true           | true          | UNESCAPE_AND_FORWARD       |
//
// Routing and the RBAC filters see the normalised path, and so does the
// application (forwarded as normalised), so a DENY on `/admin*` cannot be
// walked around with `/a/../admin` (BASE), `//admin` (MERGE_SLASHES) or
// `/%2Fadmin` (DECODE_AND_MERGE_SLASHES) — CVE-2019-9901, CVE-2021-31920.
//
// `DEFAULT` (the value when MeshConfig says nothing) is where Trellis parts
// from Istio: Istio's DEFAULT is BASE, which leaves the last two open;
// Trellis's is DECODE_AND_MERGE_SLASHES, the profile Istio itself recommends
// for authorization. The fragment (`#…`) never reaches matching: Envoy strips
// it, and RBAC path rules match `url_path`, which excludes the query.
//
// Proxyless gRPC does not read these fields: grpc-js dispatches a call by the
// exact `:path` of a registered method, so a non-canonical path reaches no
// handler at all (UNIMPLEMENTED), and its RBAC sees the method's own path.
import type { MeshConfig } from "../../config/mesh-config.js";
import type { HttpConnectionManager } from "../../envoy/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager.js";

export type PathNormalization = MeshConfig["pathNormalization"]["normalization"];

export type PathNormalizationFields = Pick<
  HttpConnectionManager,
  "normalize_path" | "merge_slashes" | "path_with_escaped_slashes_action"
>;

/** The profile `DEFAULT` stands for in Trellis (Istio: BASE). */
export const DEFAULT_PATH_NORMALIZATION: Exclude<PathNormalization, "DEFAULT"> = "DECODE_AND_MERGE_SLASHES";

/** The HCM fields for a MeshConfig normalisation setting. Every field is written, so the choice is visible in config dumps. */
export function pathNormalization(setting: PathNormalization = "DEFAULT"): PathNormalizationFields {
  const effective = setting === "DEFAULT" ? DEFAULT_PATH_NORMALIZATION : setting;
  switch (effective) {
    case "NONE":
      return {
        normalize_path: { value: false },
        merge_slashes: false,
        path_with_escaped_slashes_action: "KEEP_UNCHANGED",
      };
    case "BASE":
      return {
        normalize_path: { value: true },
        merge_slashes: false,
        path_with_escaped_slashes_action: "KEEP_UNCHANGED",
      };
    case "MERGE_SLASHES":
      return {
        normalize_path: { value: true },
        merge_slashes: true,
        path_with_escaped_slashes_action: "KEEP_UNCHANGED",
      };
    case "DECODE_AND_MERGE_SLASHES":
      return {
        normalize_path: { value: true },
        merge_slashes: true,
        path_with_escaped_slashes_action: "UNESCAPE_AND_FORWARD",
      };
  }
}
