#!/bin/bash
# kill -9 + restart on same port; client reconnects
cd /tmp/cafspike
P=7231
./p3_node.dev --mode=server --port=$P --lifetime=30 > logs/A_srv1.log 2>&1 & S1=$!
sleep 0.5
./p3_node.dev --mode=client --port=$P --lifetime=8 > logs/A_cli.log 2>&1 & C=$!
sleep 2
kill -9 $S1; echo "killed -9 server $S1 at $(date +%s.%N)"
sleep 1.5
./p3_node.dev --mode=server --port=$P --lifetime=30 > logs/A_srv2.log 2>&1 & S2=$!
sleep 2
kill -TERM $S2; echo "SIGTERM server2 $S2"
wait $S2; echo "server2 rc=$?"
wait $C; echo "client rc=$?"
