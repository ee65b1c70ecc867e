#!/bin/bash
# kill -9 of the server, restart on the same port; the client reconnects (README §3).
# scenA.sh [PORT]
set -u
BIN=${BIN:-build/bin}; LOGS=${LOGS:-$(mktemp -d)}
P=${1:-7231}
"$BIN/caf-spike-p3-node" --mode=server --port=$P --lifetime=30 > "$LOGS/A_srv1.log" 2>&1 & S1=$!
sleep 0.5
"$BIN/caf-spike-p3-node" --mode=client --port=$P --lifetime=8 > "$LOGS/A_cli.log" 2>&1 & C=$!
sleep 2
kill -9 $S1; echo "killed -9 server $S1 at $(date +%s.%N)"
sleep 1.5
"$BIN/caf-spike-p3-node" --mode=server --port=$P --lifetime=30 > "$LOGS/A_srv2.log" 2>&1 & S2=$!
sleep 2
kill -TERM $S2; echo "SIGTERM server2 $S2"
wait $S2; echo "server2 rc=$?"
wait $C; echo "client rc=$?"
echo "logs in $LOGS"
