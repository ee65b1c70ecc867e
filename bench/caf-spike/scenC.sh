#!/bin/bash
# Heartbeat settings on one side only, on an idle link (README §4).
# scenC.sh PORT "SERVER ARGS" "CLIENT ARGS", e.g. scenC.sh 7233 "" "--hb-ms=100 --timeout-ms=1000"
set -u
BIN=${BIN:-build/bin}; LOGS=${LOGS:-$(mktemp -d)}
P=$1; SRVARGS=$2; CLIARGS=$3
"$BIN/caf-spike-p3-node" --mode=server --port=$P --lifetime=10 $SRVARGS > "$LOGS/C_srv_$P.log" 2>&1 & S=$!
sleep 0.5
"$BIN/caf-spike-p3-node" --mode=idle --port=$P --lifetime=4 $CLIARGS > "$LOGS/C_cli_$P.log" 2>&1 & C=$!
wait $C
kill -INT $S; wait $S; echo "server rc=$? after SIGINT"
echo "logs in $LOGS"
