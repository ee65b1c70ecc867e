#!/usr/bin/env bash
# bench/compare-etcd.sh — Conflux and etcd side by side on this machine.
#
# Starts a 3-member etcd (Debian's etcd-server, installed with apt-get if
# missing) and a 3-node Conflux (BUILD_DIR/bin/conflux-node) on loopback, free
# ports, data in one temp dir on the same disk, fsync on, default tuning; runs
# the same load shapes against both, alternating the two systems run by run;
# prints a markdown table of the medians and the ratio Conflux/etcd per row.
#
#   bench/compare-etcd.sh [--reps N] [--quick] [--raw FILE]
#
#   --reps N    repetitions of every row on each system (default 3; median shown)
#   --quick     one repetition with a fifth of the operations (a smoke run)
#   --raw FILE  also write every run's JSON line to FILE
#
# Environment: BUILD_DIR (default build): where conflux-node, conflux-bench
# and conflux-etcd-driver are (`scripts/dev build conflux-node conflux-bench
# conflux-etcd-driver`); CONFLUX_BENCH_DIR (default var/ of the repo): the
# disk both clusters' data live on; CONFLUX_TRANSPORT=plaintext runs Conflux
# with --insecure-plaintext instead of mutual TLS (its certificates are made
# with conflux-cert in the work dir), to measure what TLS costs.
#
# Load generators: conflux-bench (the CAF-native client) and
# conflux-etcd-driver (etcd's v3 HTTP/JSON gateway, one keep-alive connection
# per client): same flags, same JSON line. Both get the servers' PIDs, so the
# table also shows server CPU per operation, and each reports its own CPU per
# operation. See docs/benchmarks.md for how to read the ratios.
#
# Every process started here is stopped by its PID on exit (trap); the temp
# dir is removed. The runs stop early (with a note) if 13 minutes have passed,
# so the whole script stays under 15 minutes.
set -euo pipefail

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_locate
reps=3
scale_div=1
raw_out=
while [ $# -gt 0 ]; do
  case $1 in
    --reps)
      [[ ${2:-} =~ ^[1-9][0-9]?$ ]] || { echo "compare-etcd: --reps needs a number 1..99" >&2; exit 2; }
      reps=$2; shift 2 ;;
    --quick) reps=1; scale_div=5; shift ;;
    --raw)
      [ -n "${2:-}" ] || { echo "compare-etcd: --raw needs a file name" >&2; exit 2; }
      raw_out=$2; shift 2 ;;
    -h|--help) print_usage "$0"; exit 0 ;;
    *) echo "compare-etcd: unknown argument '$1'; see --help" >&2; exit 2 ;;
  esac
done

log() { printf '[compare] %s\n' "$*" >&2; }
die() { printf 'compare-etcd: %s\n' "$*" >&2; exit 1; }

for b in conflux-node conflux-cert conflux-bench conflux-etcd-driver; do
  [ -x "$bin/$b" ] || die "$bin/$b is missing: run BUILD_DIR=$build_dir scripts/dev build conflux-node conflux-cert conflux-bench conflux-etcd-driver"
done

# -- etcd from Debian -----------------------------------------------------------------
if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
  log "installing etcd-server and etcd-client with apt-get"
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  # Debian's postinst does not start the service in containers (policy-rc.d);
  # the etcd started below is ours alone.
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends etcd-server etcd-client >/dev/null
fi
etcd_version=$(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p')

# -- processes, cleanup -------------------------------------------------------------------
bench_work_dir compare-etcd # $work, removed on exit with every process started here

# Nine distinct free loopback ports (3 Conflux, 3 etcd client, 3 etcd peer).
ports=()
free_ports ports 9 || die "could not find 9 free ports"

# -- the two clusters ---------------------------------------------------------------------
cf_eps=() cf_pids=()
peers=""
for i in 1 2 3; do
  cf_eps+=("127.0.0.1:${ports[$((i - 1))]}")
  peers+="${peers:+,}$i=127.0.0.1:${ports[$((i - 1))]}"
done
CF=$(join_comma "${cf_eps[@]}")
# Mutual TLS unless CONFLUX_TRANSPORT=plaintext (loopback only, for the cost of TLS).
if [ "${CONFLUX_TRANSPORT:-tls}" = plaintext ]; then
  cf_transport() { echo --insecure-plaintext; }
  export CONFLUX_BENCH_TRANSPORT=--insecure-plaintext
else
  make_conflux_certs "$bin/conflux-cert" "$work/tls" compare 3 ||
    die "conflux-cert could not make the certificates"
  cf_transport() { echo --tls-dir "$work/tls/node$1"; }
  export CONFLUX_TLS_DIR=$work/tls/client CONFLUX_BENCH_TRANSPORT=
fi
make_bench_token "$work/bench.token" || die "could not write $work/bench.token"
for i in 1 2 3; do
  # shellcheck disable=SC2046 # cf_transport prints separate words on purpose
  "$bin/conflux-node" --id "$i" --listen "${cf_eps[$((i - 1))]}" --data "$work/conflux$i" \
    --peers "$peers" --cluster-id compare --log-level warn $(cf_transport "$i") \
    --bootstrap-token-hash "$bench_token_hash" \
    >"$work/conflux$i.log" 2>&1 &
  track_pid $!
  cf_pids+=($!)
done
start_etcd3 "$work" compare "${ports[@]:3:6}"
ET=$etcd_endpoints ET_PIDS=$etcd_pid_list
CF_PIDS=$(join_comma "${cf_pids[@]}")

show_logs() { local f; for f in "$work"/*.log; do echo "== $f" >&2; tail -15 "$f" >&2; done; }
clusters_ready() {
  etcd_healthy &&
    "$bin/conflux-bench" --endpoints "$CF" --workload put --clients 1 --ops 1 --warmup 0 \
      --keys 1 --timeout-ms 1000 $CONFLUX_BENCH_TRANSPORT
}
rc=0
wait_ready 120 clusters_ready "${started_pids[@]}" || rc=$?
[ $rc -ne 2 ] || { show_logs; die "a server exited during startup (logs above)"; }
[ $rc -eq 0 ] || { show_logs; die "the clusters did not become ready within 30 s"; }
log "etcd $etcd_version at $ET (pids $ET_PIDS); Conflux at $CF (pids $CF_PIDS); data in $work"

# -- context: machine, fsync floor, idle cost ---------------------------------------------
cpu_of() { # summed utime+stime ticks of the given PIDs
  local p s sum=0 f
  for p in "$@"; do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    s=${s##*) }
    read -r -a f <<<"$s"
    sum=$((sum + f[11] + f[12]))
  done
  echo $sum
}
tck=$(getconf CLK_TCK)
c0=$(cpu_of "${cf_pids[@]}") e0=$(cpu_of "${etcd_pids[@]}")
sleep 5
c1=$(cpu_of "${cf_pids[@]}") e1=$(cpu_of "${etcd_pids[@]}")
idle_cf=$(awk -v d=$((c1 - c0)) -v t="$tck" 'BEGIN{printf "%.1f", 100 * d / t / 5}')
idle_etcd=$(awk -v d=$((e1 - e0)) -v t="$tck" 'BEGIN{printf "%.1f", 100 * d / t / 5}')
dd_s=$( { LC_ALL=C dd if=/dev/zero of="$work/ddtest" bs=4k count=1000 oflag=dsync 2>&1 >/dev/null; } |
        sed -n 's/.* copied, \([0-9.]*\) s.*/\1/p')
rm -f "$work/ddtest"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "idle CPU of the 3 servers: Conflux ${idle_cf}% of a core, etcd ${idle_etcd}%; fsync floor: 1000 dsync 4 KiB writes in ${dd_s} s; load ${load_before}"

# -- the runs -------------------------------------------------------------------------
# name | workload | clients | ops (before --quick)
rows=(
  "sequential writes, 1 client|put|1|1500"
  "writes, 16 clients|put|16|6000"
  "writes, 64 clients|put|64|12000"
  "linearizable reads, 16 clients|get|16|30000"
  "linearizable reads, 64 clients|get|64|30000"
  "serializable reads, 16 clients|get-serializable|16|30000"
  "serializable reads, 64 clients|get-serializable|64|30000"
  "watch latency, 16 watchers (100 puts/s)|watch|16|3200"
)
results=$work/results.tsv
: >"$results"
t_start=$(date +%s)
budget_s=$((13 * 60))
out_of_time=no

run_one() { # system row_index rep
  local sys=$1 idx=$2 rep=$3 name workload clients ops line rc prog eps pids
  IFS='|' read -r name workload clients ops <<<"${rows[$idx]}"
  ops=$((ops / scale_div))
  [ "$ops" -ge "$clients" ] || ops=$clients
  local transport=()
  if [ "$sys" = conflux ]; then
    prog=$bin/conflux-bench eps=$CF pids=$CF_PIDS
    [ -z "$CONFLUX_BENCH_TRANSPORT" ] || transport=("$CONFLUX_BENCH_TRANSPORT")
  else
    prog=$bin/conflux-etcd-driver eps=$ET pids=$ET_PIDS
  fi
  set +e
  line=$(timeout 180 "$prog" --endpoints "$eps" --workload "$workload" --clients "$clients" \
           --ops "$ops" --value-size 256 --keys 16 --warmup 10 --pids "$pids" \
           "${transport[@]}" 2>"$work/run.err")
  rc=$?
  set -e
  if [ $rc -ne 0 ] && [ $rc -ne 1 ] || [ -z "$line" ]; then
    log "$sys / $name: failed (exit $rc): $(head -c 300 "$work/run.err")"
    printf '%s\t%s\t%s\n' "$sys" "$idx" "failed" >>"$results"
    return
  fi
  [ $rc -eq 1 ] && log "$sys / $name: some operations failed: $(head -c 300 "$work/run.err")"
  printf '%s\t%s\t%s\n' "$sys" "$idx" "$line" >>"$results"
  [ -n "$raw_out" ] && printf '{"system":"%s","row":"%s",%s\n' "$sys" "$name" "${line#\{}" >>"$raw_out"
  log "rep $rep $sys / $name: $line"
}

[ -n "$raw_out" ] && : >"$raw_out"
for rep in $(seq "$reps"); do
  for idx in "${!rows[@]}"; do
    if [ $(($(date +%s) - t_start)) -ge $budget_s ]; then
      out_of_time=yes
      break 2
    fi
    # Alternate which system goes first, run by run.
    if [ $(((rep + idx) % 2)) -eq 0 ]; then
      run_one conflux "$idx" "$rep"; run_one etcd "$idx" "$rep"
    else
      run_one etcd "$idx" "$rep"; run_one conflux "$idx" "$rep"
    fi
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# -- the table ------------------------------------------------------------------------
field() { sed -n "s/.*\"$1\":\([-0-9.e+]*\).*/\1/p"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print ""; else if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2] + a[NR/2+1]) / 2}'; }
# cell SYSTEM ROW FIELD: the median of FIELD over that row's runs ("" if none).
cell() { awk -F'\t' -v s="$1" -v r="$2" '$1 == s && $2 == r && $3 ~ /^\{/ {print $3}' "$results" | field "$3" | median; }
runs() { awk -F'\t' -v s="$1" -v r="$2" '$1 == s && $2 == r && $3 ~ /^\{/' "$results" | wc -l; }
marker() { awk -F'\t' -v s="$1" -v r="$2" '$1 == s && $2 == r && $3 !~ /^\{/ {print $3; exit}' "$results"; }
fmt() { [ -n "$1" ] && awk -v v="$1" -v d="${2:-0}" 'BEGIN{printf "%.*f", d, v}' || printf -- '-'; }
ms() { [ -n "$1" ] && awk -v v="$1" 'BEGIN{printf "%.2f", v / 1000}' || printf -- '-'; }
ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN{if (b > 0) printf "%.2f", a / b; else printf "-"}' || printf -- '-'; }
errs() { awk -F'\t' -v s="$1" -v r="$2" '$1 == s && $2 == r' "$results" | field errors | awk '{s += $1} END {print s + 0}'; }

echo
echo "Conflux ($(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), $build_dir) vs etcd $etcd_version, 3 members each on 127.0.0.1, $(nproc) cores, $reps repetition(s), median per cell; 256-byte values, 16 keys"
echo "load average before: $load_before, after: $load_after; idle CPU of the 3 servers: Conflux ${idle_cf}% of a core, etcd ${idle_etcd}%; fsync floor: 1000 x 4 KiB dsync writes in ${dd_s} s"
[ $out_of_time = yes ] && echo "NOTE: stopped early at the 13-minute budget; some rows have fewer runs"
echo
echo "| load shape | Conflux ops/s | etcd ops/s | ops/s C/E | Conflux p50 / p99 ms | etcd p50 / p99 ms | p50 C/E | client CPU µs/op C / E | server CPU µs/op C / E | runs C / E | errors C / E |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
declare -A ops lat ccpu scpu rate p50
for idx in "${!rows[@]}"; do
  IFS='|' read -r name _ _ _ <<<"${rows[$idx]}"
  for sys in conflux etcd; do
    if [ "$(runs $sys "$idx")" -eq 0 ]; then
      m=$(marker $sys "$idx")
      m=${m:-not run}
      ops[$sys]=$m lat[$sys]=$m ccpu[$sys]=$m scpu[$sys]=$m rate[$sys]= p50[$sys]=
    else
      rate[$sys]=$(cell $sys "$idx" ops_per_sec)
      p50[$sys]=$(cell $sys "$idx" p50_us)
      ops[$sys]=$(fmt "${rate[$sys]}")
      lat[$sys]="$(ms "${p50[$sys]}") / $(ms "$(cell $sys "$idx" p99_us)")"
      ccpu[$sys]=$(fmt "$(cell $sys "$idx" client_cpu_us_per_op)")
      scpu[$sys]=$(fmt "$(cell $sys "$idx" server_cpu_us_per_op)")
    fi
  done
  echo "| $name | ${ops[conflux]} | ${ops[etcd]} | $(ratio "${rate[conflux]}" "${rate[etcd]}") | ${lat[conflux]} | ${lat[etcd]} | $(ratio "${p50[conflux]}" "${p50[etcd]}") | ${ccpu[conflux]} / ${ccpu[etcd]} | ${scpu[conflux]} / ${scpu[etcd]} | $(runs conflux "$idx") / $(runs etcd "$idx") | $(errs conflux "$idx") / $(errs etcd "$idx") |"
done
echo
echo "ops/s C/E > 1 and p50 C/E < 1 favour Conflux. Watch rows: ops/s counts events (watchers x puts), latency is put-to-event."
echo "took $(($(date +%s) - t_start)) s of runs"
