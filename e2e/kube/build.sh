#!/usr/bin/env bash
# Build etcd, kube-apiserver and kubectl from their Go modules into a version-keyed cache.
#
#   e2e/kube/build.sh            # build what is missing, print the three binary paths
#   e2e/kube/build.sh --print    # only print the paths (exit 1 if any is not built)
#
# Env: KUBE_VERSION, ETCD_VERSION override the pins below;
#      TRELLIS_E2E_CACHE overrides the cache root
#      (default: ${XDG_CACHE_HOME:-$HOME/.cache}/trellis-e2e — outside the clone, so a
#      fresh clone, e.g. in CI, reuses binaries built before).
# Nothing here downloads a prebuilt binary: sources come from the Go module proxy.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"

cache="${TRELLIS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/trellis-e2e}"
bindir="$cache/bin"
etcd_bin="$bindir/etcd-$ETCD_VERSION/etcd"
kube_bin="$bindir/kube-apiserver-$KUBE_VERSION/kube-apiserver"
kubectl_bin="$bindir/kubectl-$KUBE_VERSION/kubectl"

print_paths() {
  echo "ETCD_BIN=$etcd_bin"
  echo "KUBE_APISERVER_BIN=$kube_bin"
  echo "KUBECTL_BIN=$kubectl_bin"
}

if [[ "${1:-}" == "--print" ]]; then
  print_paths
  [[ -x "$etcd_bin" && -x "$kube_bin" && -x "$kubectl_bin" ]]
  exit $?
fi

log() { echo "[kube-build $(date -u +%H:%M:%S)] $*" >&2; }

command -v go >/dev/null || { log "go not found on PATH"; exit 1; }
export GOFLAGS="${GOFLAGS:--buildvcs=false} -mod=mod"
export CGO_ENABLED=0
export GOTOOLCHAIN=local   # never try to download a toolchain; use the installed Go

# Wrapper modules live in the cache, never in the tree.
work="$cache/build"
mkdir -p "$work" "$bindir"

# One build at a time per cache (two test runs may both find a binary missing):
# the second waits, then finds the binaries cached.
if command -v flock >/dev/null; then
  exec 9>"$cache/build.lock"
  flock 9
fi

build_etcd() {
  if [[ -x "$etcd_bin" ]]; then log "etcd $ETCD_VERSION cached: $etcd_bin"; return; fi
  local d="$work/etcd-$ETCD_VERSION"
  rm -rf "$d"; mkdir -p "$d"
  log "etcd $ETCD_VERSION: creating wrapper module in $d"
  cat >"$d/go.mod" <<MOD
module trellis.local/e2e/etcd-build

go 1.26.0
MOD
  # server/v3's own go.mod replaces its siblings with ../ paths, so `go install pkg@v`
  # refuses it; as a dependency those replaces are ignored and the published
  # api/client/pkg modules at the same version are used.
  ( cd "$d" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" )
  log "etcd $ETCD_VERSION: compiling"
  mkdir -p "$(dirname "$etcd_bin")"
  with_heartbeat "etcd $ETCD_VERSION" bash -c 'cd "$1" && go build -trimpath -ldflags "-s -w" -o "$2" go.etcd.io/etcd/server/v3' _ "$d" "$etcd_bin.tmp"
  mv "$etcd_bin.tmp" "$etcd_bin"
  log "etcd $ETCD_VERSION: built $etcd_bin"
}

# A wrapper module requiring k8s.io/kubernetes, shared by kube-apiserver and kubectl.
# Reused when its go.mod is already there (kubectl built after kube-apiserver adds to it).
kube_wrapper() {
  local d="$work/kube-$KUBE_VERSION"
  if [[ -f "$d/go.mod" ]] && grep -q "k8s.io/kubernetes $KUBE_VERSION" "$d/go.mod"; then
    echo "$d"; return
  fi
  rm -rf "$d"; mkdir -p "$d"
  local minor patch staging_version
  minor="$(echo "$KUBE_VERSION" | cut -d. -f2)"
  patch="$(echo "$KUBE_VERSION" | cut -d. -f3)"
  staging_version="v0.$minor.$patch"
  log "k8s.io/kubernetes $KUBE_VERSION: fetching its go.mod"
  local gomod
  gomod="$(cd "$d" && GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -f "$gomod" ]] || { log "could not download k8s.io/kubernetes@$KUBE_VERSION go.mod"; exit 1; }
  # Every `k8s.io/<x> => ./staging/...` replace becomes `k8s.io/<x> => k8s.io/<x> v0.Y.Z`.
  local replaces
  # Only modules k8s.io/kubernetes actually requires (some staging modules, e.g.
  # sample-cli-plugin, are not published for every release).
  replaces="$(awk -v v="$staging_version" '
    /^[[:space:]]*k8s\.io\/[^ ]+ v0\.0\.0/ { req[$1] = 1 }
    /^[[:space:]]*k8s\.io\/[^ ]+ => \.\/staging\// { if ($1 in req) print "\t" $1 " => " $1 " " v }
  ' "$gomod")"
  local n; n="$(echo "$replaces" | grep -c . || true)"
  [[ "$n" -gt 10 ]] || { log "found only $n staging replaces in $gomod; layout changed?"; exit 1; }
  log "k8s.io/kubernetes $KUBE_VERSION: wrapper module with $n staging replaces -> $staging_version"
  {
    echo "module trellis.local/e2e/kube-apiserver-build"
    echo
    echo "go 1.26.0"
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    echo "replace ("
    echo "$replaces"
    echo ")"
  } >"$d/go.mod"
  echo "$d"
}

# build_kube_cmd <name> <output>: k8s.io/kubernetes/cmd/<name> at $KUBE_VERSION.
build_kube_cmd() {
  local name="$1" out="$2"
  if [[ -x "$out" ]]; then log "$name $KUBE_VERSION cached: $out"; return; fi
  local d; d="$(kube_wrapper)"
  local minor; minor="$(echo "$KUBE_VERSION" | cut -d. -f2)"
  log "$name $KUBE_VERSION: resolving dependencies (go get)"
  ( cd "$d" && go get "k8s.io/kubernetes/cmd/$name@$KUBE_VERSION" )
  log "$name $KUBE_VERSION: compiling (cold: minutes on 2 cores)"
  # -X so `/version` and `kubectl version` report $KUBE_VERSION instead of v0.0.0-master.
  local pkg=k8s.io/component-base/version
  local ldflags="-s -w -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  mkdir -p "$(dirname "$out")"
  with_heartbeat "$name $KUBE_VERSION" bash -c 'cd "$1" && go build -trimpath -ldflags "$2" -o "$3" "k8s.io/kubernetes/cmd/$4"' _ "$d" "$ldflags" "$out.tmp" "$name"
  mv "$out.tmp" "$out"
  log "$name $KUBE_VERSION: built $out"
}

# `go build` is silent for minutes: print a heartbeat while a command runs.
with_heartbeat() {
  local what="$1"; shift
  local t0; t0=$(date +%s)
  (
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    while :; do
      sleep 30 & sp=$!
      wait "$sp"
      log "$what: still compiling ($(( $(date +%s) - t0 ))s)"
    done
  ) >/dev/null &
  local hb=$!
  local rc=0
  "$@" || rc=$?
  kill "$hb" 2>/dev/null || true
  wait "$hb" 2>/dev/null || true
  return "$rc"
}

start=$(date +%s)
build_etcd
build_kube_cmd kube-apiserver "$kube_bin"
build_kube_cmd kubectl "$kubectl_bin"
log "done in $(( $(date +%s) - start ))s"
print_paths
