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
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
smoke_temp_dir conflux-etcd-smoke etcd.log # $dir, removed on exit; fail shows the log

# One member on two free loopback ports, client $ep and peer ${ports[1]}
# (start_until_ready picks them and retries if one was taken meanwhile).
start_etcd() {
  local purl=http://127.0.0.1:${ports[1]}
  rm -rf "$dir/data"
  etcd --name s1 --data-dir "$dir/data" --listen-client-urls "http://$ep" \
    --advertise-client-urls "http://$ep" --listen-peer-urls "$purl" \
    --initial-advertise-peer-urls "$purl" \
    --initial-cluster "s1=$purl" --initial-cluster-state new \
    --logger zap --log-level warn >"$dir/etcd.log" 2>&1 &
  track_pid $!
}
etcd_ready() {
  "$driver" --endpoints "$ep" --workload put --clients 1 --ops 1 --warmup 0 --keys 1 \
    --timeout-ms 1000
}
start_until_ready 3 80 etcd 2 start_etcd etcd_ready || fail "etcd never became ready"
etcd_pid=$ready_pid

for w in put get get-serializable watch; do
  out=$("$driver" --endpoints "$ep" --workload "$w" --clients 2 --ops 20 --warmup 2 \
          --keys 3 --value-size 64 --put-rate 200 --timeout-ms 5000 --pids "$etcd_pid") ||
    fail "$w exited $?: $out"
  echo "$out"
  check_json_line "$w" "$out"
done

expect_exit "$driver" 2 "not in" --endpoints "$ep" --workload resolve
echo "conflux-etcd-driver smoke test passed"
