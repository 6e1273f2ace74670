# Shared by up.sh, check-split.sh and down.sh (sourced, not run).
# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are used by the scripts that source this file

# The cluster, and the kind node image it runs: Kubernetes 1.34, the image kind
# v0.30.0 released (node images are supported at the exact digest their kind
# release lists; 1.34 is also the newest line that still boots on cgroup v1 hosts).
CLUSTER="${KIND_CLUSTER_NAME:-trellis-e2e}"
KIND_NODE_IMAGE="${KIND_NODE_IMAGE:-kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a}"
CONTEXT="kind-${CLUSTER}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="${ROOT}/e2e/kind"
SYSTEM_NS=trellis-system
APP_NS=bookinfo-e2e

# Exit status of a script that could not run here (automake's convention for SKIP).
SKIPPED=77

log() { printf '==> %s\n' "$*" >&2; }

skip() {
  printf 'SKIPPED: %s\n' "$*" >&2
  exit "${SKIPPED}"
}

# require_tools docker kind kubectl: exits SKIPPED naming every missing tool.
require_tools() {
  local missing=() t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  if ((${#missing[@]} > 0)); then
    local hint=""
    for t in "${missing[@]}"; do
      case "$t" in
        docker) hint+=$'\n  docker:  https://docs.docker.com/engine/install/' ;;
        kind) hint+=$'\n  kind:    https://kind.sigs.k8s.io/docs/user/quick-start/#installation (v0.30.0 or newer)' ;;
        kubectl) hint+=$'\n  kubectl: https://kubernetes.io/docs/tasks/tools/' ;;
      esac
    done
    skip "missing: ${missing[*]} (this suite needs docker, kind and kubectl)${hint}"
  fi
}

# A docker CLI is not enough: the engine must answer.
require_engine() {
  local out
  if ! out="$(docker info --format '{{.ServerVersion}}' 2>&1)"; then
    skip "docker is installed but no Docker engine answers: $(tr -s '[:space:]' ' ' <<<"${out}" | sed 's/^ //; s/ $//')"
  fi
}

# The cluster must exist (up.sh creates it).
require_cluster() {
  if ! kind get clusters 2>/dev/null | grep -qx "${CLUSTER}"; then
    printf 'no kind cluster %s: run e2e/kind/up.sh first\n' "${CLUSTER}" >&2
    exit 1
  fi
}

kc() { kubectl --context "${CONTEXT}" "$@"; }
