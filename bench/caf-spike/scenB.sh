#!/bin/bash
# SIGSTOP without and with heartbeats; kill -9 with a parked request
cd /tmp/cafspike
P=$1; shift   # extra args, e.g. --hb-ms=100 --timeout-ms=1000
./p3_node.dev --mode=server --port=$P --lifetime=30 "$@" > logs/B_srv_$P.log 2>&1 & S1=$!
sleep 0.5
./p3_node.dev --mode=client --port=$P --lifetime=7 "$@" > logs/B_cli_$P.log 2>&1 & C=$!
sleep 1.5
kill -STOP $S1; echo "SIGSTOP server at client t~1000ms"
sleep 3
kill -CONT $S1; echo "SIGCONT at t~4000ms"
sleep 1
kill -9 $S1; echo "kill -9 at t~5000ms"
wait $C; echo "client rc=$?"
