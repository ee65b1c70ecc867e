#!/usr/bin/env bash
# Smoke test of conflux-bench (CTest bench/conflux_bench_smoke): starts one
# conflux-node on a free loopback port with its data in a temp dir, runs every
# workload for a few operations and checks the JSON line, then checks that
# --help works and bad flags exit 2 with a message. Stops the node by its PID.
#
# The node and the bench speak mutual TLS with certificates made by conflux-cert.
#
#   bench/smoke_test.sh BUILD/bin/conflux-bench BUILD/bin/conflux-node BUILD/bin/conflux-cert
set -euo pipefail

usage="usage: smoke_test.sh CONFLUX_BENCH CONFLUX_NODE CONFLUX_CERT"
bench=${1:?$usage}
node=${2:?$usage}
cert=${3:?$usage}
# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
smoke_temp_dir conflux-bench-smoke node.log # $dir, removed on exit; fail shows the log
make_conflux_certs "$cert" "$dir/tls" smoke 1 || fail "conflux-cert could not make certificates"
export CONFLUX_TLS_DIR=$dir/tls/client
make_bench_token "$dir/bench.token" || fail "could not write the bench token"

# The node on a free loopback port, $ep (start_until_ready picks it and
# retries if it was taken between the check and the bind).
start_node() {
  rm -rf "$dir/data"
  "$node" --id 1 --listen "$ep" --data "$dir/data" --peers "1=$ep" --cluster-id smoke \
    --tls-dir "$dir/tls/node1" --bootstrap-token-hash "$bench_token_hash" --log-level warn >"$dir/node.log" 2>&1 &
  track_pid $!
}
node_ready() {
  "$bench" --endpoints "$ep" --workload put --clients 1 --ops 1 --warmup 0 --timeout-ms 1000
}
start_until_ready 3 60 node 1 start_node node_ready || fail "conflux-node never became ready"
node_pid=$ready_pid

for w in put get get-serializable resolve watch; do
  out=$("$bench" --endpoints "$ep" --workload "$w" --clients 2 --ops 20 --warmup 2 \
          --keys 3 --value-size 64 --pids "$node_pid") || fail "$w exited $?: $out"
  echo "$out"
  # The leading fields (workload through errors), in that order, then the CPU figures.
  check_json_line "$w" "$out"
  [[ $out =~ \"client_cpu_us_per_op\":[0-9.]+ ]] || fail "$w: no client CPU: $out"
done

expect_exit "$bench" 0 "--workload" --help
expect_exit env 2 "no TLS credentials" -u CONFLUX_TLS_DIR "$bench" --endpoints "$ep" \
  --workload put
expect_exit "$bench" 2 "cannot read the TLS" --endpoints "$ep" --workload put \
  --tls-dir "$dir/nonexistent"
expect_exit "$bench" 2 "workload" --endpoints "$ep"
expect_exit env 2 "no token" -u CONFLUX_TOKEN_FILE "$bench" --endpoints "$ep" --workload put
expect_exit "$bench" 2 "not in" --endpoints "$ep" --workload scan
expect_exit "$bench" 2 "bogus" --endpoints "$ep" --workload put --bogus
expect_exit "$bench" 2 "raise --ops" --endpoints "$ep" --workload put --clients 4 --ops 2
expect_exit "$bench" 2 "not HOST:PORT" --endpoints nohost --workload put
expect_exit "$bench" 2 "no process" --endpoints "$ep" --workload put --pids 2147483647
# A cluster that is not there: exit 5 within the timeout, no JSON line.
expect_exit "$bench" 5 "is the cluster running" --endpoints 127.0.0.1:1 --workload get \
  --timeout-ms 500
echo "conflux-bench smoke test passed"
