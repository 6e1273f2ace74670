// Every HTTP error the admin server returns has a stable code, documented in
// docs/diagnostics.md. Never reuse a code.
export const ADMIN_ERRORS = {
  /** /debug/config_dump without ?proxy=. */
  proxyRequired: { code: "TRL9001", status: 400, message: "query parameter proxy=<node id> is required" },
  /** No connected stream has that node id. */
  proxyNotConnected: { code: "TRL9002", status: 404, message: "no connected proxy has this node id" },
  /** Not ready: no configuration has been loaded yet. */
  notReady: { code: "TRL9003", status: 503, message: "no configuration loaded yet" },
} as const;

export type AdminError = (typeof ADMIN_ERRORS)[keyof typeof ADMIN_ERRORS];

export function errorBody(e: AdminError, detail?: string) {
  return { error: { code: e.code, message: detail ? `${e.message}: ${detail}` : e.message } };
}
