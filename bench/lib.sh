# shellcheck shell=bash disable=SC2034
# (SC2034: globals set for the caller.)
# bench/lib.sh — shell functions shared by the bench/ scripts (smoke tests,
# compare-etcd.sh, profile-etcd-gateway.sh). Sourced, never run:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Written for `set -euo pipefail` callers. The rules they keep: loopback only,
# free ports, every process started is tracked and stopped by its PID (never by
# name), temp dirs removed on exit, every wait bounded in count and time.

# The repository this file belongs to (absolute).
bench_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# -- paths, help ----------------------------------------------------------------

# bench_locate: sets root (the repository), build_dir (BUILD_DIR, default
# build) and bin (build_dir/bin; a relative build_dir is taken from the root).
bench_locate() {
  root=$bench_repo
  build_dir=${BUILD_DIR:-build}
  case $build_dir in /*) bin=$build_dir/bin ;; *) bin=$root/$build_dir/bin ;; esac
}

# print_usage SCRIPT: the script's header comment (line 2 up to the
# `set -euo pipefail` line), without the comment marks.
print_usage() {
  sed -n '2,/^set -euo/p' "$1" | sed '$d' | sed 's/^# \{0,1\}//'
}

# join_comma WORD...: the words joined by commas.
join_comma() {
  local IFS=,
  echo "$*"
}

# -- ports ----------------------------------------------------------------------

# Ports below the kernel's ephemeral range, so that no outgoing connection
# (nor its TIME_WAIT) can hold the one picked.
read -r port_hi _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || port_hi=32768
port_lo=10000
[ "$port_hi" -gt $((port_lo + 1000)) ] || { port_lo=20000 port_hi=52000; }

# free_ports VAR N: sets the array VAR to N distinct loopback TCP ports that no
# socket uses now (one `ss` read, at most 500 draws); returns 1 if it could not
# find N. The caller binds them soon, and retries if one was taken meanwhile.
free_ports() {
  local -n fp_out=$1
  local fp_n=$2 fp_used fp_p
  fp_used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u) || fp_used=
  fp_out=()
  for _ in $(seq 500); do
    fp_p=$((port_lo + RANDOM % (port_hi - port_lo)))
    grep -qx "$fp_p" <<<"$fp_used" && continue
    [[ " ${fp_out[*]} " == *" $fp_p "* ]] && continue
    fp_out+=("$fp_p")
    [ ${#fp_out[@]} -eq "$fp_n" ] && return 0
  done
  return 1
}

# -- processes, cleanup -----------------------------------------------------------

started_pids=() # every process started by the script (track_pid), stopped on exit
cleanup_dirs=() # removed on exit (cleanup_on_exit)

# track_pid PID: stop PID on exit.
track_pid() { started_pids+=("$1"); }

# proc_alive PID: the process exists and is not a zombie.
proc_alive() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }
  [ "${st%% *}" != Z ]
}

# all_alive PID...: every one of them is alive.
all_alive() {
  local p
  for p in "$@"; do proc_alive "$p" || return 1; done
}

# stop_pids GRACE PID...: SIGTERM to each, up to GRACE tenths of a second for
# all of them to exit, SIGKILL to those left, then reap them; they are no
# longer tracked. Only these PIDs are signalled.
stop_pids() {
  local grace=$1 p q waited=0 left still=()
  shift
  [ $# -gt 0 ] || return 0
  for p in "$@"; do kill -TERM "$p" 2>/dev/null || true; done
  while [ $waited -lt "$grace" ]; do
    left=0
    for p in "$@"; do proc_alive "$p" && left=$((left + 1)); done
    [ $left -eq 0 ] && break
    sleep 0.1
    waited=$((waited + 1))
  done
  for p in "$@"; do
    if proc_alive "$p"; then kill -KILL "$p" 2>/dev/null || true; fi
    wait "$p" 2>/dev/null || true
  done
  for q in "${started_pids[@]}"; do
    [[ " $* " == *" $q "* ]] || still+=("$q")
  done
  started_pids=("${still[@]}")
}

# The EXIT trap: every tracked process (10 s of grace), then the dirs.
bench_cleanup() {
  stop_pids 100 "${started_pids[@]}"
  local d
  for d in "${cleanup_dirs[@]}"; do rm -rf "$d"; done
}

# cleanup_on_exit [DIR...]: install the traps (EXIT: bench_cleanup; INT and
# TERM: exit 130, which runs it) and remove the DIRs on exit.
cleanup_on_exit() {
  cleanup_dirs+=("$@")
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

# smoke_temp_dir NAME LOG: sets dir to a new temp dir NAME-XXXXXX under
# TMPDIR (default /tmp), removed on exit, and fail_log to dir/LOG.
smoke_temp_dir() {
  dir=$(mktemp -d "${TMPDIR:-/tmp}/$1-XXXXXX")
  cleanup_on_exit "$dir"
  fail_log=$dir/$2
}

# bench_work_dir NAME: sets work to a new temp dir NAME-XXXXXX under
# CONFLUX_BENCH_DIR (default var/ of the repo, the disk the data should live
# on), removed on exit. Needs bench_locate first.
bench_work_dir() {
  local base=${CONFLUX_BENCH_DIR:-$root/var}
  mkdir -p "$base"
  work=$(mktemp -d "$base/$1-XXXXXX")
  cleanup_on_exit "$work"
}

# -- waiting ----------------------------------------------------------------------

# wait_ready TRIES CHECK [PID...]: runs CHECK (a command or function, output
# discarded) every 0.25 s, at most TRIES times. Returns 0 once it succeeds,
# 2 as soon as one of the PIDs is no longer alive, 1 when the tries run out.
wait_ready() {
  local tries=$1 check=$2 i
  shift 2
  for ((i = 0; i < tries; i++)); do
    all_alive "$@" || return 2
    "$check" >/dev/null 2>&1 && return 0
    sleep 0.25
  done
  return 1
}

# start_until_ready ATTEMPTS TRIES WHAT NPORTS START CHECK: up to ATTEMPTS
# times, picks NPORTS fresh free ports into the array ports, sets ep to
# 127.0.0.1:${ports[0]}, runs START (which starts one process in the
# background on them and calls track_pid on it), then waits for it with
# wait_ready TRIES CHECK. Sets ready_pid and returns 0 once ready; otherwise
# kills the process, says "WHAT did not come up on EP (attempt N)" and tries
# again (a port taken between the check and the bind). Returns 1 if no
# attempt got ready; fails (exit 1) if it cannot find the ports.
start_until_ready() {
  local attempts=$1 tries=$2 what=$3 nports=$4 start=$5 check=$6 attempt pid
  ready_pid=
  for ((attempt = 1; attempt <= attempts; attempt++)); do
    ports=()
    free_ports ports "$nports" || fail "could not find $nports free ports"
    ep=127.0.0.1:${ports[0]}
    "$start"
    pid=${started_pids[-1]}
    if wait_ready "$tries" "$check" "$pid"; then
      ready_pid=$pid
      return 0
    fi
    stop_pids 0 "$pid"
    echo "$what did not come up on $ep (attempt $attempt)" >&2
  done
  return 1
}

# -- checks (smoke tests) -----------------------------------------------------------

# fail MESSAGE: "FAIL: MESSAGE" and the last 20 lines of the file fail_log
# names (if set and present) on stderr; exit 1.
fail() {
  echo "FAIL: $*" >&2
  if [ -n "${fail_log:-}" ] && [ -f "$fail_log" ]; then tail -20 "$fail_log" >&2; fi
  exit 1
}

# check_json_line WORKLOAD LINE: LINE is a load generator's JSON line for
# WORKLOAD run with --clients 2 --ops 20 --pids: the leading fields (workload through
# errors, docs/benchmarks.md) in that order, no errors, and the server CPU figure; fail
# otherwise.
check_json_line() {
  local w=$1 out=$2 want
  want='^\{"workload":"'"$w"'","clients":2,"ops":20,"seconds":[0-9.]+,"ops_per_sec":[0-9.]+,'
  want+='"p50_us":[0-9.]+,"p99_us":[0-9.]+,"p999_us":[0-9.]+,"errors":0,'
  [[ $out =~ $want ]] || fail "$w: unexpected JSON line: $out"
  [[ $out =~ \"server_cpu_us_per_op\":[0-9.]+ ]] || fail "$w: no server CPU: $out"
}

# expect_exit PROG WANT PATTERN ARG...: PROG ARG... exits WANT and its output
# (stdout and stderr) contains PATTERN (any output if PATTERN is empty).
expect_exit() {
  local prog=$1 want=$2 pattern=$3 out rc
  shift 3
  set +e
  out=$("$prog" "$@" 2>&1)
  rc=$?
  set -e
  [ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want: $out"
  [ -z "$pattern" ] || grep -q -- "$pattern" <<<"$out" || fail "'$*' did not say '$pattern': $out"
}

# -- etcd -------------------------------------------------------------------------

# start_etcd3 DIR TOKEN C1 C2 C3 P1 P2 P3 [FLAG...]: a 3-member etcd (e1..e3)
# on 127.0.0.1, client ports C1..C3, peer ports P1..P3, member N's data in
# DIR/etcdN and log in DIR/etcdN.log, cluster token TOKEN, warn-level zap log,
# plus the extra FLAGs. Every PID is tracked. Sets etcd_eps (HOST:PORT per
# member), etcd_pids, etcd_endpoints and etcd_pid_list (comma-separated).
start_etcd3() {
  local dir=$1 token=$2 client=("$3" "$4" "$5") peer=("$6" "$7" "$8") initial="" i
  shift 8
  etcd_eps=() etcd_pids=()
  for i in 1 2 3; do
    initial+="${initial:+,}e$i=http://127.0.0.1:${peer[$((i - 1))]}"
  done
  for i in 1 2 3; do
    etcd_eps+=("127.0.0.1:${client[$((i - 1))]}")
    etcd --name "e$i" --data-dir "$dir/etcd$i" \
      --listen-client-urls "http://${etcd_eps[$((i - 1))]}" \
      --advertise-client-urls "http://${etcd_eps[$((i - 1))]}" \
      --listen-peer-urls "http://127.0.0.1:${peer[$((i - 1))]}" \
      --initial-advertise-peer-urls "http://127.0.0.1:${peer[$((i - 1))]}" \
      --initial-cluster "$initial" --initial-cluster-token "$token" \
      --initial-cluster-state new --logger zap --log-level warn "$@" \
      >"$dir/etcd$i.log" 2>&1 &
    track_pid $!
    etcd_pids+=($!)
  done
  etcd_endpoints=$(join_comma "${etcd_eps[@]}")
  etcd_pid_list=$(join_comma "${etcd_pids[@]}")
}

# etcd_healthy: every member of the cluster start_etcd3 started answers
# `etcdctl endpoint health` (1 s timeout).
etcd_healthy() {
  ETCDCTL_API=3 etcdctl --endpoints "$etcd_endpoints" --command-timeout=1s endpoint health \
    >/dev/null 2>&1
}

# make_bench_token FILE: writes a new Conflux token to FILE (mode 0600),
# exports CONFLUX_TOKEN_FILE=FILE for conflux-bench and sets bench_token_hash
# to its SHA-256, for the nodes' --bootstrap-token-hash: the bench acts as the
# cluster's first admin.
make_bench_token() {
  local file=$1 token
  token="cfx_$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  (umask 077 && printf '%s\n' "$token" >"$file") || return 1
  bench_token_hash=$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)
  export CONFLUX_TOKEN_FILE=$file
}

# make_conflux_certs CERT_BIN DIR CLUSTER N: a CA of CLUSTER in DIR/ca, node
# certificates in DIR/node1..DIR/nodeN (for --tls-dir) and a client
# certificate in DIR/client (for CONFLUX_TLS_DIR), made with conflux-cert.
make_conflux_certs() {
  local cert=$1 dir=$2 cluster=$3 n=$4 i
  "$cert" ca --cluster "$cluster" --out "$dir/ca" >/dev/null || return 1
  for ((i = 1; i <= n; i++)); do
    "$cert" node --ca "$dir/ca" --id "$i" --out "$dir/node$i" >/dev/null || return 1
  done
  "$cert" client --ca "$dir/ca" --name bench --out "$dir/client" >/dev/null
}
