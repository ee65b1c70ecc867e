#!/usr/bin/env bash
# bench/profile-etcd-gateway.sh — how much of etcd's CPU goes to the HTTP/JSON
# gateway when conflux-etcd-driver loads it (docs/benchmarks.md explains why
# that matters for the Conflux/etcd ratios of bench/compare-etcd.sh).
#
# Starts a 3-member etcd on loopback (free ports, temp data dir, the same
# flags as compare-etcd.sh plus --enable-pprof), runs conflux-etcd-driver
# with 64 clients for serializable reads and then for writes, takes a CPU
# profile of every member meanwhile (/debug/pprof/profile), and, if `go` is
# installed (Debian: golang-go), prints with `go tool pprof` the share of
# etcd's CPU spent:
#   gateway HTTP/JSON side  net/http.(*conn).serve: HTTP/1.1, JSON <-> protobuf,
#                           and the gateway's own gRPC client call
#   gateway gRPC client     the loopback connection's reader goroutine
#   gRPC server path        grpc.(*Server).handleStream: what a native gRPC
#                           client's request costs the server (the KV work
#                           included)
#   GC                      runtime.gcBgMarkWorker (feeds on every allocation)
#
#   bench/profile-etcd-gateway.sh [--out DIR]     (keep the profiles in DIR)
#
# Environment: BUILD_DIR (default build), CONFLUX_BENCH_DIR (default var/).
# Every process started here is stopped by its PID on exit.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-build}
case $build_dir in /*) bin=$build_dir/bin ;; *) bin=$root/$build_dir/bin ;; esac
keep=
while [ $# -gt 0 ]; do
  case $1 in
    --out) [ -n "${2:-}" ] || { echo "profile-etcd-gateway: --out needs a directory" >&2; exit 2; }
           keep=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "profile-etcd-gateway: unknown argument '$1'; see --help" >&2; exit 2 ;;
  esac
done
die() { printf 'profile-etcd-gateway: %s\n' "$*" >&2; exit 1; }
[ -x "$bin/conflux-etcd-driver" ] ||
  die "$bin/conflux-etcd-driver is missing: run BUILD_DIR=$build_dir scripts/dev build conflux-etcd-driver"
command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
  die "etcd is not installed: run bench/compare-etcd.sh once, or apt-get install etcd-server etcd-client"
command -v curl >/dev/null || die "curl is needed to fetch the profiles (apt-get install curl)"

bench_root=${CONFLUX_BENCH_DIR:-$root/var}
mkdir -p "$bench_root"
work=$(mktemp -d "$bench_root/etcd-profile-XXXXXX")
started=()
cleanup() {
  local p
  for p in "${started[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${started[@]}"; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ports below the kernel's ephemeral range, so that no outgoing connection
# (nor its TIME_WAIT) can hold the one picked.
read -r port_hi _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || port_hi=32768
port_lo=10000
[ "$port_hi" -gt $((port_lo + 1000)) ] || { port_lo=20000 port_hi=52000; }
used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u) || used=
ports=()
for _ in $(seq 500); do
  p=$((port_lo + RANDOM % (port_hi - port_lo)))
  grep -qx "$p" <<<"$used" && continue
  [[ " ${ports[*]} " == *" $p "* ]] && continue
  ports+=("$p")
  [ ${#ports[@]} -eq 6 ] && break
done
[ ${#ports[@]} -eq 6 ] || die "could not find 6 free ports"
eps=() initial=""
for i in 1 2 3; do
  eps+=("127.0.0.1:${ports[$((i - 1))]}")
  initial+="${initial:+,}e$i=http://127.0.0.1:${ports[$((i + 2))]}"
done
for i in 1 2 3; do
  etcd --name "e$i" --data-dir "$work/e$i" \
    --listen-client-urls "http://${eps[$((i - 1))]}" --advertise-client-urls "http://${eps[$((i - 1))]}" \
    --listen-peer-urls "http://127.0.0.1:${ports[$((i + 2))]}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${ports[$((i + 2))]}" \
    --initial-cluster "$initial" --initial-cluster-token profile --initial-cluster-state new \
    --logger zap --log-level warn --enable-pprof >"$work/e$i.log" 2>&1 &
  started+=($!)
done
ET=$(IFS=,; echo "${eps[*]}")
PIDS=$(IFS=,; echo "${started[*]}")
ok=no
for _ in $(seq 120); do
  if ETCDCTL_API=3 etcdctl --endpoints "$ET" --command-timeout=1s endpoint health >/dev/null 2>&1; then
    ok=yes
    break
  fi
  sleep 0.25
done
[ $ok = yes ] || { tail -5 "$work"/e*.log >&2; die "etcd did not become ready within 30 s"; }

out=${keep:-$work/profiles}
mkdir -p "$out"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for shape in "get-serializable 60000" "put 20000"; do
  read -r workload ops <<<"$shape"
  "$bin/conflux-etcd-driver" --endpoints "$ET" --workload "$workload" --clients 64 \
    --ops "$ops" --pids "$PIDS" >"$out/$workload.json" &
  driver=$!
  sleep 1.5 # setup and warm-up
  fetch=()
  for i in 1 2 3; do
    curl -sf -o "$out/$workload-e$i.pb.gz" \
      "http://${eps[$((i - 1))]}/debug/pprof/profile?seconds=4" &
    fetch+=($!)
  done
  for p in "${fetch[@]}"; do wait "$p" || die "could not fetch a profile of $workload"; done
  wait "$driver" || die "the driver failed during $workload"
  echo "$workload: $(cat "$out/$workload.json")"
  if ! command -v go >/dev/null; then
    continue
  fi
  top=$(go tool pprof -top -cum -nodecount=100000 "$out/$workload"-e*.pb.gz 2>/dev/null)
  share() { awk -v f="$1" '$6 == f {print $5; exit}' <<<"$top"; }
  http=$(share 'net/http.(*conn).serve')
  reader=$(share 'google.golang.org/grpc/internal/transport.(*http2Client).reader')
  server=$(share 'google.golang.org/grpc.(*Server).handleStream')
  gc=$(share 'runtime.gcBgMarkWorker')
  echo "  share of the 3 members' CPU samples: gateway HTTP/JSON side ${http:-0%}," \
       "gateway gRPC client ${reader:-0%}, gRPC server path ${server:-0%}, GC ${gc:-0%}"
done
command -v go >/dev/null ||
  echo "go is not installed: install golang-go and run 'go tool pprof -top -cum FILE.pb.gz' on the profiles${keep:+ in $keep}"
