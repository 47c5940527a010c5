#!/usr/bin/env bash
# uhoma-stat against a live process (a test): the echo server serves a few
# RPCs; uhoma-stat must list its stack, show the counters those RPCs moved
# and the lock and cache sections, refuse a pid without a stack, and a
# killed process's segment must be swept by --clean.
set -euo pipefail
stat=$1 server=$2 client=$3
port=$((14000 + RANDOM % 10000))
"$server" "$port" 127.0.0.1 > /dev/null &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true' EXIT
sleep 0.3
"$client" "$port" 127.0.0.1 50000 4 > /dev/null

# (Whole outputs into variables first: grep -q closing a pipe early would
# fail the writer under pipefail.)
list=$("$stat")
grep -q "pid $pid " <<< "$list" || { echo "FAIL: $pid not listed"; exit 1; }
out=$("$stat" -i 0.2 -n 1 "$pid")
head -5 <<< "$out"
# The cumulative column: 4 requests in, 4 responses out.
req=$(awk '$1 == "requests_received" { print $2 }' <<< "$out")
[ "${req:-0}" -ge 4 ] || { echo "FAIL: requests_received=${req:-none}"; exit 1; }
grep -q '^packets_received_DATA' <<< "$out" || { echo "FAIL: no DATA row"; exit 1; }
grep -q '^lock class' <<< "$out" || { echo "FAIL: no lock section"; exit 1; }
grep -q '^object cache' <<< "$out" || { echo "FAIL: no cache section"; exit 1; }

# Bad values exit 2 and say which (helper-36: each ran, or ran for ever).
for args in "-i abc" "-i -5" "-i 1e99" "-i nan" "-i inf" "-i 0" "-n -1" \
	    "-n 99999999999999999999" "-n abc" "-n 1x" "--bogus"; do
	rc=0
	# shellcheck disable=SC2086  # $args: words on purpose
	err=$(timeout 10 "$stat" $args "$pid" 2>&1) || rc=$?
	[ "$rc" -eq 2 ] || { echo "FAIL: uhoma-stat $args: exit $rc, not 2"; exit 1; }
	[ -n "$err" ] || { echo "FAIL: uhoma-stat $args: no message"; exit 1; }
done
"$stat" --help | grep -q "^usage: uhoma-stat" || { echo "FAIL: --help"; exit 1; }
"$stat" -h | grep -q "^usage: uhoma-stat" || { echo "FAIL: -h"; exit 1; }
if err=$("$stat" -n 1 999999 2>&1); then echo "FAIL: bogus pid accepted"; exit 1; fi
grep -q "no running uhoma stack" <<< "$err" || { echo "FAIL: unclear error: $err"; exit 1; }

kill -9 $pid
wait $pid 2>/dev/null || true
# The killed server left its segment; --clean removes it (or a stack that
# another test created meanwhile swept it first: either way it must go).
"$stat" --clean
if compgen -G "/dev/shm/uhoma.$pid.*" > /dev/null; then echo "FAIL: segment remains"; exit 1; fi
echo "uhoma-stat: ok"
