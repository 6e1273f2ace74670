#!/usr/bin/env bash
# Deletes the kind cluster trellis-e2e. Idempotent: nothing to delete is fine.
# With REMOVE_IMAGES=1 it also removes the locally built images.
# Exit status: 0 done, 77 skipped (kind missing), anything else failed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

require_tools kind
if kind get clusters 2>/dev/null | grep -qx "${CLUSTER}"; then
  log "deleting kind cluster ${CLUSTER}"
  kind delete cluster --name "${CLUSTER}"
else
  log "no kind cluster ${CLUSTER}; nothing to delete"
fi

if [[ "${REMOVE_IMAGES:-0}" == 1 ]] && command -v docker >/dev/null 2>&1; then
  release="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "${ROOT}/package.json")"
  for name in trellis trellis-injector trellis-init; do
    docker image rm "${name}:dev" "ghcr.io/trellis-mesh/${name}:${release}" 2>/dev/null || true
  done
  log "removed the local trellis images"
fi
