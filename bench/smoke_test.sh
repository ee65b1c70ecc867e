#!/usr/bin/env bash
# Smoke test of conflux-bench (CTest bench/conflux_bench_smoke): starts one
# conflux-node on a free loopback port with its data in a temp dir, runs every
# workload for a few operations and checks the JSON line, then checks that
# --help works and bad flags exit 2 with a message. Stops the node by its PID.
#
#   bench/smoke_test.sh BUILD/bin/conflux-bench BUILD/bin/conflux-node
set -euo pipefail

bench=${1:?usage: smoke_test.sh CONFLUX_BENCH CONFLUX_NODE}
node=${2:?usage: smoke_test.sh CONFLUX_BENCH CONFLUX_NODE}
dir=$(mktemp -d "${TMPDIR:-/tmp}/conflux-bench-smoke-XXXXXX")
node_pid=

cleanup() {
  if [ -n "$node_pid" ]; then
    kill -TERM "$node_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$node_pid" 2>/dev/null || true
    wait "$node_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  [ -f "$dir/node.log" ] && tail -20 "$dir/node.log" >&2
  exit 1
}

# Ports below the kernel's ephemeral range, so that no outgoing connection
# (nor its TIME_WAIT) can hold the one picked.
read -r port_hi _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || port_hi=32768
port_lo=10000
[ "$port_hi" -gt $((port_lo + 1000)) ] || { port_lo=20000 port_hi=52000; }
free_port() {
  local used p
  used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u) || used=
  for _ in $(seq 200); do
    p=$((port_lo + RANDOM % (port_hi - port_lo)))
    grep -qx "$p" <<<"$used" || { echo "$p"; return; }
  done
  return 1
}

# Start the node (a port taken between the check and the bind: retry).
ep=
for attempt in 1 2 3; do
  port=$(free_port)
  ep=127.0.0.1:$port
  rm -rf "$dir/data"
  "$node" --id 1 --listen "$ep" --data "$dir/data" --peers "1=$ep" --cluster-id smoke \
    --log-level warn >"$dir/node.log" 2>&1 &
  node_pid=$!
  ready=no
  for _ in $(seq 60); do
    kill -0 "$node_pid" 2>/dev/null || break
    if "$bench" --endpoints "$ep" --workload put --clients 1 --ops 1 --warmup 0 \
         --timeout-ms 1000 >/dev/null 2>&1; then
      ready=yes
      break
    fi
    sleep 0.25
  done
  [ "$ready" = yes ] && break
  kill -KILL "$node_pid" 2>/dev/null || true
  wait "$node_pid" 2>/dev/null || true
  node_pid=
  echo "node did not come up on $ep (attempt $attempt)" >&2
done
[ -n "$node_pid" ] || fail "conflux-node never became ready"

fields='"workload" "clients" "ops" "seconds" "ops_per_sec" "p50_us" "p99_us" "p999_us" "errors"'
for w in put get get-serializable resolve watch; do
  out=$("$bench" --endpoints "$ep" --workload "$w" --clients 2 --ops 20 --warmup 2 \
          --keys 3 --value-size 64 --pids "$node_pid") || fail "$w exited $?: $out"
  echo "$out"
  # The DESIGN §5 fields, in that order, then the CPU figures.
  want='^\{"workload":"'"$w"'","clients":2,"ops":20,"seconds":[0-9.]+,"ops_per_sec":[0-9.]+,'
  want+='"p50_us":[0-9.]+,"p99_us":[0-9.]+,"p999_us":[0-9.]+,"errors":0,'
  [[ $out =~ $want ]] || fail "$w: unexpected JSON line: $out"
  [[ $out =~ \"server_cpu_us_per_op\":[0-9.]+ ]] || fail "$w: no server CPU: $out"
  [[ $out =~ \"client_cpu_us_per_op\":[0-9.]+ ]] || fail "$w: no client CPU: $out"
done

expect_exit() {
  local want=$1 pattern=$2 out rc
  shift 2
  set +e
  out=$("$bench" "$@" 2>&1)
  rc=$?
  set -e
  [ "$rc" = "$want" ] || fail "'$*' exited $rc, expected $want: $out"
  grep -q -- "$pattern" <<<"$out" || fail "'$*' did not say '$pattern': $out"
}
expect_exit 0 "--workload" --help
expect_exit 2 "workload" --endpoints "$ep"
expect_exit 2 "not in" --endpoints "$ep" --workload scan
expect_exit 2 "bogus" --endpoints "$ep" --workload put --bogus
expect_exit 2 "raise --ops" --endpoints "$ep" --workload put --clients 4 --ops 2
expect_exit 2 "not HOST:PORT" --endpoints nohost --workload put
expect_exit 2 "no process" --endpoints "$ep" --workload put --pids 2147483647
# A cluster that is not there: exit 5 within the timeout, no JSON line.
expect_exit 5 "is the cluster running" --endpoints 127.0.0.1:1 --workload get \
  --timeout-ms 500
echo "conflux-bench smoke test passed"
