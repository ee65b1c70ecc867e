#!/bin/bash
# Remote request latency and throughput (README §3): bench.sh PORT POLICY [WINDOW]
# POLICY is stealing or sharing; both processes use it.
set -u
BIN=${BIN:-build/bin}; LOGS=${LOGS:-$(mktemp -d)}
P=$1; POL=$2; W=${3:-64}
"$BIN/caf-spike-p3-node" --mode=server --port=$P --lifetime=60 --scheduler.policy=$POL > "$LOGS/bench_srv_$P.log" 2>&1 & S=$!
sleep 0.5
timeout 60 "$BIN/caf-spike-p3-node" --mode=bench --port=$P --lifetime=55 --n=5000 --pipelined=50000 --window=$W --scheduler.policy=$POL 2>&1 | grep -E "sequential|pipelined|policy"
kill -TERM $S; wait $S
echo "logs in $LOGS"
