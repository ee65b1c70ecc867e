#!/bin/bash
cd /tmp/cafspike
P=$1; POL=$2; W=${3:-64}
./p3_node.dev --mode=server --port=$P --lifetime=60 --scheduler.policy=$POL > logs/bench_srv_$P.log 2>&1 & S=$!
sleep 0.5
timeout 60 ./p3_node.dev --mode=bench --port=$P --lifetime=55 --n=5000 --pipelined=50000 --window=$W --scheduler.policy=$POL 2>&1 | grep -E "sequential|pipelined|policy"
kill -TERM $S; wait $S
