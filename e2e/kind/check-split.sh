#!/usr/bin/env bash
# The traffic-shifting check, through real injected Envoy sidecars: applies
# sample-app.yaml (reviews v1/v2 split 80/20 by a VirtualService, and a curl
# client), then sends REQUESTS (default 1000) requests from the client pod to
# http://reviews:9080/ and passes if v2 answered 20% ± 4 points of them.
#
# Run e2e/kind/up.sh first. Idempotent: re-applies the app and measures again.
# Exit status: 0 passed, 1 failed, 77 skipped (docker, kind or kubectl
# missing, or no Docker engine).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

REQUESTS="${REQUESTS:-1000}"
EXPECTED_V2_PERCENT=20
TOLERANCE_PERCENT=4

require_tools docker kind kubectl
require_engine
require_cluster

log "applying e2e/kind/sample-app.yaml"
kc apply -f "${HERE}/sample-app.yaml"
for d in reviews-v1 reviews-v2 client; do
  if ! kc -n "${APP_NS}" rollout status "deployment/${d}" --timeout=300s; then
    kc -n "${APP_NS}" get pods -o wide >&2 || true
    kc -n "${APP_NS}" get events --sort-by=.lastTimestamp >&2 || true
    printf 'deployment/%s did not become ready\n' "${d}" >&2
    exit 1
  fi
done

# Without a sidecar the client would reach the pods through kube-proxy and the
# VirtualService would not apply at all: make sure injection happened.
pod="$(kc -n "${APP_NS}" get pods -l app=client --field-selector=status.phase=Running \
  --sort-by=.metadata.creationTimestamp -o jsonpath='{.items[-1:].metadata.name}')"
containers="$(kc -n "${APP_NS}" get pod "${pod}" -o jsonpath='{.spec.containers[*].name}')"
init_containers="$(kc -n "${APP_NS}" get pod "${pod}" -o jsonpath='{.spec.initContainers[*].name}')"
if [[ "${containers}" == "client" ]]; then
  printf 'pod %s has no sidecar (containers: %s); is trellis-injector running, and %s labelled istio-injection=enabled?\n' \
    "${pod}" "${containers}" "${APP_NS}" >&2
  exit 1
fi
log "client pod ${pod}: containers [${containers}], init containers [${init_containers:-none}]"

# Runs curl in the client container. curl's URL globbing ([1-N]) sends N
# requests over one reused connection; Envoy picks the weighted subset per
# request. -w adds a newline after each body, so every answer is one line.
fetch() {
  kc -n "${APP_NS}" exec "${pod}" -c client -- \
    curl -s --max-time 60 -w '\n' "http://reviews:9080/?request=[1-$1]"
}

# The client's Envoy may still be receiving its routes: wait until both
# versions answer before measuring.
log "waiting for reviews to answer through the client's sidecar"
deadline=$((SECONDS + 120))
until out="$(fetch 50 2>/dev/null)" && grep -qx v1 <<<"${out}" && grep -qx v2 <<<"${out}"; do
  if ((SECONDS > deadline)); then
    printf 'reviews did not answer with both v1 and v2 within 120 s; last answers:\n%s\n' "${out:-<none>}" >&2
    exit 1
  fi
  sleep 2
done

log "sending ${REQUESTS} requests to http://reviews:9080/"
out="$(fetch "${REQUESTS}")"
v1="$(grep -cx v1 <<<"${out}" || true)"
v2="$(grep -cx v2 <<<"${out}" || true)"
other="$(grep -cvxE 'v1|v2|' <<<"${out}" || true)"
answered=$((v1 + v2))
printf 'v1: %d  v2: %d  other: %d  (of %d requests)\n' "${v1}" "${v2}" "${other}" "${REQUESTS}"
if ((other > 0)); then
  printf 'answers other than v1/v2 (first 5):\n' >&2
  grep -vxE 'v1|v2|' <<<"${out}" | head -5 >&2 || true
fi

# At least 99% of the requests must have been answered by a version at all.
if ((answered * 100 < REQUESTS * 99)); then
  printf 'FAILED: only %d of %d requests answered v1 or v2\n' "${answered}" "${REQUESTS}" >&2
  exit 1
fi
# v2's share in tenths of a percent, to compare without floating point.
share=$((v2 * 1000 / answered))
low=$(((EXPECTED_V2_PERCENT - TOLERANCE_PERCENT) * 10))
high=$(((EXPECTED_V2_PERCENT + TOLERANCE_PERCENT) * 10))
printf 'v2 share: %d.%d%% (expected %d%% ± %d)\n' $((share / 10)) $((share % 10)) \
  "${EXPECTED_V2_PERCENT}" "${TOLERANCE_PERCENT}"
if ((share < low || share > high)); then
  printf 'FAILED: v2 share outside %d%%..%d%%\n' $((low / 10)) $((high / 10)) >&2
  exit 1
fi
printf 'PASSED: traffic split 80/20 through injected Envoy sidecars\n'
