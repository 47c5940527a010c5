#!/usr/bin/env bash
# Runs the two examples against each other over UDP on loopback (a test).
set -euo pipefail
server=$1 client=$2
port=$((14000 + RANDOM % 10000))
"$server" "$port" 127.0.0.1 > /dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
sleep 0.3
out=$("$client" "$port" 127.0.0.1 100000 5)
echo "$out"
[ "$(echo "$out" | grep -c '^100000 bytes back')" -eq 5 ]
