#!/usr/bin/env bash
# Creates the kind cluster trellis-e2e (or reuses it), builds the three Trellis
# images from this checkout, loads them into the cluster, installs manifests/
# through overlay/ (local images, imagePullPolicy IfNotPresent) and waits for
# the control plane and the injector to roll out.
#
# Idempotent: run it again after changing the code; it rebuilds, reloads, and
# restarts only the Deployments whose image changed.
# Exit status: 0 ready, 77 skipped (docker, kind or kubectl missing, or no
# Docker engine), anything else failed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

require_tools docker kind kubectl
require_engine

kind_version="$(kind version 2>/dev/null | awk '{print $2}')"
case "${kind_version}" in
  v0.[0-9].* | v0.[12][0-9].*)
    log "warning: kind ${kind_version} is older than v0.30.0, which ${KIND_NODE_IMAGE%@*} was released for" ;;
esac

# ---- cluster ----------------------------------------------------------------
if kind get clusters 2>/dev/null | grep -qx "${CLUSTER}"; then
  log "kind cluster ${CLUSTER} exists; reusing it"
else
  log "creating kind cluster ${CLUSTER} (${KIND_NODE_IMAGE%@*})"
  kind create cluster --name "${CLUSTER}" --image "${KIND_NODE_IMAGE}" --wait 120s
fi

# ---- images -----------------------------------------------------------------
# Each image is tagged twice: <name>:dev, which overlay/ points the Deployments
# at, and the release name ghcr.io/trellis-mesh/<name>:<version>, so that a
# reference kustomize cannot rewrite (the trellis-init image the injector writes
# into pods) also finds the local build in the node (pull policy IfNotPresent).
release="$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "${ROOT}/package.json")"
revision="$(git -C "${ROOT}" rev-parse HEAD 2>/dev/null || echo unknown)"
for name in trellis trellis-injector trellis-init; do
  log "building ${name}:dev (images/${name}/Dockerfile)"
  docker build \
    --file "${ROOT}/images/${name}/Dockerfile" \
    --tag "${name}:dev" \
    --tag "ghcr.io/trellis-mesh/${name}:${release}" \
    --build-arg VERSION=dev \
    --build-arg REVISION="${revision}" \
    "${ROOT}"
done
for name in trellis trellis-injector trellis-init; do
  log "loading ${name}:dev into ${CLUSTER}"
  kind load docker-image --name "${CLUSTER}" "${name}:dev" "ghcr.io/trellis-mesh/${name}:${release}"
done

# ---- install ----------------------------------------------------------------
if [[ ! -f "${ROOT}/manifests/kustomization.yaml" ]]; then
  printf 'manifests/kustomization.yaml is missing: nothing to install\n' >&2
  exit 1
fi
log "installing manifests/ through e2e/kind/overlay"
# Server-side: the CRDs are too large for the last-applied annotation.
kc apply --server-side --force-conflicts -k "${HERE}/overlay"
kc wait --for=condition=Established --timeout=60s \
  crd/virtualservices.networking.istio.io crd/destinationrules.networking.istio.io

# A rebuilt image keeps its tag, so Kubernetes would not notice it: stamp the
# image id on the pod template, which rolls the Deployment only when it changed.
for name in trellis trellis-injector; do
  id="$(docker image inspect --format '{{.Id}}' "${name}:dev")"
  kc -n "${SYSTEM_NS}" patch deployment "${name}" --type merge --patch \
    "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"e2e.trellis.dev/image-id\":\"${id}\"}}}}}"
done

for name in trellis trellis-injector; do
  log "waiting for deployment/${name} to roll out"
  if ! kc -n "${SYSTEM_NS}" rollout status "deployment/${name}" --timeout=300s; then
    kc -n "${SYSTEM_NS}" get pods -o wide >&2 || true
    kc -n "${SYSTEM_NS}" logs "deployment/${name}" --all-containers --tail=50 >&2 || true
    printf 'deployment/%s did not become ready\n' "${name}" >&2
    exit 1
  fi
done

log "ready: kubectl --context ${CONTEXT} -n ${SYSTEM_NS} get pods"
log "next: e2e/kind/check-split.sh   (and e2e/kind/down.sh to delete the cluster)"
