#!/usr/bin/env bash
# bench/auth-cost.sh — what authorization costs: writes and resolves at 64
# clients on this build (every request decided against tokens and roles)
# and on a build from before authorization existed, side by side.
#
#   bench/auth-cost.sh --before DIR [--after DIR] [--reps N] [--quick]
#
#   --before DIR  a build directory of a commit without authorization (its
#                 bin/ holds conflux-node and conflux-bench); make one with
#                 `git worktree add --detach W COMMIT && cd W &&
#                 scripts/dev build conflux-node conflux-bench conflux-cert`
#   --after DIR   the build with authorization (default: BUILD_DIR or build)
#   --reps N      repetitions of each row on each build (default 3; median shown)
#   --quick       one repetition with a fifth of the operations (a smoke run)
#
# Both clusters run at once (3 nodes each, mutual TLS, fsync on, loopback,
# free ports, data under CONFLUX_BENCH_DIR or var/); the runs alternate
# between them. On the build with authorization the load runs as a principal
# whose role holds 16 grants, the one that matches last (so every request
# walks the whole role), not as the bootstrap admin, in a tenant whose rate
# (1,000,000 requests/s) is checked on every request but never reached. Prints a markdown table
# of the medians and the ratio after/before. Every process started here is
# stopped by its PID on exit; the work dir is removed.
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_locate
reps=3
scale_div=1
before=
while [ $# -gt 0 ]; do
  case $1 in
    --before) before=${2:-}; shift 2 ;;
    --after) build_dir=${2:-}; bin=$build_dir/bin; shift 2 ;;
    --reps)
      [[ ${2:-} =~ ^[1-9][0-9]?$ ]] || { echo "auth-cost: --reps needs a number 1..99" >&2; exit 2; }
      reps=$2; shift 2 ;;
    --quick) reps=1; scale_div=5; shift ;;
    -h|--help) print_usage "$0"; exit 0 ;;
    *) echo "auth-cost: unknown argument '$1'; see --help" >&2; exit 2 ;;
  esac
done
log() { printf '[auth-cost] %s\n' "$*" >&2; }
die() { printf 'auth-cost: %s\n' "$*" >&2; exit 1; }
[ -n "$before" ] || die "--before DIR is required (a build without authorization); see --help"
for b in "$before/bin/conflux-node" "$before/bin/conflux-bench" "$bin/conflux-node" \
         "$bin/conflux-bench" "$bin/conflux-cert" "$bin/conflux"; do
  [ -x "$b" ] || die "$b is missing"
done
has_auth() { [[ $("$1/conflux-node" --help 2>&1) == *--bootstrap-token-hash* ]]; }
has_auth "$bin" ||
  die "$bin/conflux-node has no authorization (--bootstrap-token-hash): give the newer build as --after"
if has_auth "$before/bin"; then
  die "$before/bin/conflux-node already has authorization: give an older build as --before"
fi

bench_work_dir auth-cost # $work, removed on exit with every process started here
ports=()
free_ports ports 6 || die "could not find 6 free ports"
make_conflux_certs "$bin/conflux-cert" "$work/tls" authcost 3 ||
  die "conflux-cert could not make the certificates"
export CONFLUX_TLS_DIR=$work/tls/client
make_bench_token "$work/admin.token" || die "could not write $work/admin.token"

# start_cluster NAME BIN FIRST_PORT_INDEX [FLAG...]: 3 nodes of BIN's conflux-node.
start_cluster() {
  local name=$1 nbin=$2 at=$3 i peers="" eps=() pids=()
  shift 3
  for i in 1 2 3; do
    eps+=("127.0.0.1:${ports[$((at + i - 1))]}")
    peers+="${peers:+,}$i=${eps[$((i - 1))]}"
  done
  for i in 1 2 3; do
    "$nbin/conflux-node" --id "$i" --listen "${eps[$((i - 1))]}" --data "$work/$name$i" \
      --peers "$peers" --cluster-id authcost --log-level warn --tls-dir "$work/tls/node$i" \
      "$@" >"$work/$name$i.log" 2>&1 &
    track_pid $!
    pids+=($!)
  done
  printf -v "${name}_eps" '%s' "$(join_comma "${eps[@]}")"
  printf -v "${name}_pids" '%s' "$(join_comma "${pids[@]}")"
}
start_cluster old "$before/bin" 0
start_cluster new "$bin" 3 --bootstrap-token-hash "$bench_token_hash"

old_ready() {
  CONFLUX_TOKEN_FILE= "$before/bin/conflux-bench" --endpoints "$old_eps" --workload put \
    --clients 1 --ops 1 --warmup 0 --keys 1 --timeout-ms 1000
}
new_ready() {
  "$bin/conflux" --endpoints "$new_eps" --timeout 1000 auth whoami
}
show_logs() { local f; for f in "$work"/*.log; do echo "== $f" >&2; tail -15 "$f" >&2; done; }
rc=0
wait_ready 200 old_ready "${started_pids[@]}" || rc=$?
[ $rc -eq 0 ] && { wait_ready 200 new_ready "${started_pids[@]}" || rc=$?; }
[ $rc -eq 0 ] || { show_logs; die "the clusters did not become ready (rc $rc)"; }

# The principal the load runs as on the new build: 15 grants on other
# tenants, then the one on the bench's keys.
allow=()
for i in $(seq 1 15); do allow+=(--allow "other$i/app:read,write,release"); done
allow+=(--allow "bench:read,write,release")
"$bin/conflux" --endpoints "$new_eps" auth role create bench-load "${allow[@]}" >/dev/null ||
  die "could not create the role"
# The tenant's request rate well above what the load can reach, so the
# rate limiter is paid for on every request but never refuses one.
"$bin/conflux" --endpoints "$new_eps" auth tenant set bench --rate 1000000 >/dev/null ||
  die "could not set the tenant's rate"
"$bin/conflux" --endpoints "$new_eps" auth token create bench-load --role bench-load \
  --out "$work/load.token" >/dev/null || die "could not create the load token"
log "before: $before (pids $old_pids); after: $build_dir (pids $new_pids); data in $work"

rows=("writes, 64 clients|put|64|12000" "resolves, 64 clients|resolve|64|30000")
declare -A results
run_one() { # SYSTEM ROW REP
  local sys=$1 idx=$2 name workload clients ops prog eps pids tok line
  IFS='|' read -r name workload clients ops <<<"${rows[$idx]}"
  ops=$((ops / scale_div))
  if [ "$sys" = old ]; then
    prog=$before/bin/conflux-bench eps=$old_eps pids=$old_pids tok=
  else
    prog=$bin/conflux-bench eps=$new_eps pids=$new_pids tok=$work/load.token
  fi
  line=$(CONFLUX_TOKEN_FILE=$tok timeout 300 "$prog" --endpoints "$eps" --workload "$workload" \
           --clients "$clients" --ops "$ops" --value-size 256 --keys 16 --warmup 10 \
           --pids "$pids" --key-prefix "bench/r$3x$idx") || die "$sys $workload failed: $line"
  log "$sys $workload rep $3: $line"
  results[$sys,$idx]+="$(sed -n 's/.*"ops_per_sec":\([0-9.]*\).*/\1/p' <<<"$line") "
  results[$sys,$idx,p99]+="$(sed -n 's/.*"p99_us":\([0-9.]*\).*/\1/p' <<<"$line") "
  results[$sys,$idx,cpu]+="$(sed -n 's/.*"server_cpu_us_per_op":\([0-9.]*\).*/\1/p' <<<"$line") "
}
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for ((rep = 1; rep <= reps; rep++)); do
  for idx in "${!rows[@]}"; do
    # Alternate which build goes first, so drift on the machine hits both.
    if ((rep % 2)); then run_one old "$idx" "$rep"; run_one new "$idx" "$rep"
    else run_one new "$idx" "$rep"; run_one old "$idx" "$rep"; fi
  done
done

echo "| row | before ops/s | after ops/s | after/before | before p99 µs | after p99 µs | before server CPU µs/op | after server CPU µs/op |"
echo "|---|---|---|---|---|---|---|---|"
for idx in "${!rows[@]}"; do
  IFS='|' read -r name _ <<<"${rows[$idx]}"
  o=$(median <<<"${results[old,$idx]}") n=$(median <<<"${results[new,$idx]}")
  op=$(median <<<"${results[old,$idx,p99]}") np=$(median <<<"${results[new,$idx,p99]}")
  oc=$(median <<<"${results[old,$idx,cpu]}") nc=$(median <<<"${results[new,$idx,cpu]}")
  ratio=$(awk -v a="$n" -v b="$o" 'BEGIN{printf "%.2f", a / b}')
  echo "| $name | $o | $n | $ratio | $op | $np | $oc | $nc |"
done
echo
echo "($reps repetitions each, median; $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg))"
