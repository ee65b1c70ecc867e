#!/bin/bash
# one-sided heartbeat config on an idle link
cd /tmp/cafspike
P=$1; SRVARGS=$2; CLIARGS=$3
./p3_node.dev --mode=server --port=$P --lifetime=10 $SRVARGS > logs/C_srv_$P.log 2>&1 & S=$!
sleep 0.5
./p3_node.dev --mode=idle --port=$P --lifetime=4 $CLIARGS > logs/C_cli_$P.log 2>&1 & C=$!
wait $C
kill -INT $S; wait $S; echo "server rc=$? after SIGINT"
