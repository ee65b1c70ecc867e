#!/usr/bin/env bash
# Smoke test of conflux-etcd-driver (CTest bench/etcd_driver_smoke): starts a
# 1-member etcd on free loopback ports with its data in a temp dir, runs every
# workload for a few operations and checks the JSON line (so the HTTP/JSON
# client and the watch stream parser keep working), then a bad flag. Skipped
# (exit 77) where etcd is not installed: bench/compare-etcd.sh installs it.
# Stops etcd by its PID.
#
#   bench/etcd_smoke_test.sh BUILD/bin/conflux-etcd-driver
set -euo pipefail

driver=${1:?usage: etcd_smoke_test.sh CONFLUX_ETCD_DRIVER}
if ! command -v etcd >/dev/null; then
  echo "etcd is not installed (apt-get install etcd-server); skipped"
  exit 77
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/conflux-etcd-smoke-XXXXXX")
etcd_pid=

cleanup() {
  if [ -n "$etcd_pid" ]; then
    kill -TERM "$etcd_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$etcd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$etcd_pid" 2>/dev/null || true
    wait "$etcd_pid" 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  [ -f "$dir/etcd.log" ] && tail -20 "$dir/etcd.log" >&2
  exit 1
}

# Ports below the kernel's ephemeral range (see smoke_test.sh).
read -r port_hi _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || port_hi=32768
port_lo=10000
[ "$port_hi" -gt $((port_lo + 1000)) ] || { port_lo=20000 port_hi=52000; }
used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u) || used=
pick() {
  local p
  for _ in $(seq 200); do
    p=$((port_lo + RANDOM % (port_hi - port_lo)))
    grep -qx "$p" <<<"$used" || grep -qx "$p" <<<"${picked:-}" || { echo "$p"; return; }
  done
  return 1
}

ep=
for attempt in 1 2 3; do
  picked=
  cport=$(pick); picked=$cport
  pport=$(pick)
  ep=127.0.0.1:$cport
  rm -rf "$dir/data"
  etcd --name s1 --data-dir "$dir/data" --listen-client-urls "http://$ep" \
    --advertise-client-urls "http://$ep" --listen-peer-urls "http://127.0.0.1:$pport" \
    --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "s1=http://127.0.0.1:$pport" --initial-cluster-state new \
    --logger zap --log-level warn >"$dir/etcd.log" 2>&1 &
  etcd_pid=$!
  ready=no
  for _ in $(seq 80); do
    kill -0 "$etcd_pid" 2>/dev/null || break
    if "$driver" --endpoints "$ep" --workload put --clients 1 --ops 1 --warmup 0 --keys 1 \
         --timeout-ms 1000 >/dev/null 2>&1; then
      ready=yes
      break
    fi
    sleep 0.25
  done
  [ "$ready" = yes ] && break
  kill -KILL "$etcd_pid" 2>/dev/null || true
  wait "$etcd_pid" 2>/dev/null || true
  etcd_pid=
  echo "etcd did not come up on $ep (attempt $attempt)" >&2
done
[ -n "$etcd_pid" ] || fail "etcd never became ready"

for w in put get get-serializable watch; do
  out=$("$driver" --endpoints "$ep" --workload "$w" --clients 2 --ops 20 --warmup 2 \
          --keys 3 --value-size 64 --put-rate 200 --timeout-ms 5000 --pids "$etcd_pid") ||
    fail "$w exited $?: $out"
  echo "$out"
  want='^\{"workload":"'"$w"'","clients":2,"ops":20,"seconds":[0-9.]+,"ops_per_sec":[0-9.]+,'
  want+='"p50_us":[0-9.]+,"p99_us":[0-9.]+,"p999_us":[0-9.]+,"errors":0,'
  [[ $out =~ $want ]] || fail "$w: unexpected JSON line: $out"
  [[ $out =~ \"server_cpu_us_per_op\":[0-9.]+ ]] || fail "$w: no server CPU: $out"
done

set +e
out=$("$driver" --endpoints "$ep" --workload resolve 2>&1)
rc=$?
set -e
[ "$rc" = 2 ] || fail "--workload resolve exited $rc, expected 2: $out"
echo "conflux-etcd-driver smoke test passed"
