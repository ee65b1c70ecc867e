#!/bin/bash
# SIGSTOP of the server without and with heartbeats, then kill -9 with a parked
# request (README §4). scenB.sh PORT [extra args, e.g. --hb-ms=100 --timeout-ms=1000]
set -u
BIN=${BIN:-build/bin}; LOGS=${LOGS:-$(mktemp -d)}
P=$1; shift
"$BIN/caf-spike-p3-node" --mode=server --port=$P --lifetime=30 "$@" > "$LOGS/B_srv_$P.log" 2>&1 & S1=$!
sleep 0.5
"$BIN/caf-spike-p3-node" --mode=client --port=$P --lifetime=7 "$@" > "$LOGS/B_cli_$P.log" 2>&1 & C=$!
sleep 1.5
kill -STOP $S1; echo "SIGSTOP server at client t~1000ms"
sleep 3
kill -CONT $S1; echo "SIGCONT at t~4000ms"
sleep 1
kill -9 $S1; echo "kill -9 at t~5000ms"
wait $C; echo "client rc=$?"
echo "logs in $LOGS"
