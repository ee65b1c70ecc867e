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

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_locate
keep=
while [ $# -gt 0 ]; do
  case $1 in
    --out) [ -n "${2:-}" ] || { echo "profile-etcd-gateway: --out needs a directory" >&2; exit 2; }
           keep=$2; shift 2 ;;
    -h|--help) print_usage "$0"; exit 0 ;;
    *) echo "profile-etcd-gateway: unknown argument '$1'; see --help" >&2; exit 2 ;;
  esac
done
die() { printf 'profile-etcd-gateway: %s\n' "$*" >&2; exit 1; }
[ -x "$bin/conflux-etcd-driver" ] ||
  die "$bin/conflux-etcd-driver is missing: run BUILD_DIR=$build_dir scripts/dev build conflux-etcd-driver"
command -v etcd >/dev/null && command -v etcdctl >/dev/null ||
  die "etcd is not installed: run bench/compare-etcd.sh once, or apt-get install etcd-server etcd-client"
command -v curl >/dev/null || die "curl is needed to fetch the profiles (apt-get install curl)"

bench_work_dir etcd-profile # $work, removed on exit with every process started here
ports=()
free_ports ports 6 || die "could not find 6 free ports"
start_etcd3 "$work" profile "${ports[@]}" --enable-pprof
eps=("${etcd_eps[@]}") ET=$etcd_endpoints PIDS=$etcd_pid_list
rc=0
wait_ready 120 etcd_healthy "${etcd_pids[@]}" || rc=$?
[ $rc -ne 2 ] || { tail -5 "$work"/etcd*.log >&2; die "an etcd member exited during startup (log tails above)"; }
[ $rc -eq 0 ] || { tail -5 "$work"/etcd*.log >&2; die "etcd did not become ready within 30 s"; }

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
