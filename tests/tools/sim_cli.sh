#!/usr/bin/env bash
# uhoma-sim's command line as a user meets it (a test): every bad option
# exits 2 with a message naming it, never a crash, a hang, a wrapped
# number or an exit 0 without the file asked for; the runs that used to
# crash (SIGFPE), hang or lose messages now end and say what happened.
# Each run is tiny: seconds in all, under a timeout.
set -euo pipefail
sim=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# bad WANT ARGS...: exit 2, and stderr holds WANT.
bad() {
	local want=$1 rc=0 err
	shift
	err=$(timeout 20 "$sim" --quiet "$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" -eq 2 ] || fail "uhoma-sim $*: exit $rc, not 2 ($err)"
	grep -qF -- "$want" <<< "$err" || fail "uhoma-sim $*: '$err' lacks '$want'"
}

bad --host-gbps --host-gbps 0.0005
bad --uplink-gbps --uplink-gbps 0
bad --host-gbps --host-gbps 10.0005
bad --prop-ns --prop-ns -5
bad --prop-ns --prop-ns 1e3
bad --prop-ns --prop-ns abc
bad --seed --seed abc
bad --seed --seed -1
bad --seed --seed 99999999999999999999999
bad --warmup --warmup nan
bad --warmup --warmup abc
bad --messages --messages 0.5
bad --messages --messages 1e30
bad --buffer --buffer 1e30
bad --spines --spines 0.5
bad --load --load 1e-300
bad --load --load 1e-9
bad --load --load 1.6
bad --drain-ms --drain-ms -1
bad --topology --topology fabric:4294967297x2
bad --topology --topology rack:1
bad --topology --topology fabric:0x4
bad --topology --topology fabric:1x1
bad --topology --topology mesh:4
bad --workload --workload w9
bad --workload --workload 1000001
bad --workload --workload incast:16,100
bad --workload --workload incast:3,0
bad "garbage (not key=value)" --config garbage
bad "max_overcommit=0 (allowed: 1..8)" --config max_overcommit=0
bad "num_priorities=9 (allowed: 1..8)" --config num_priorities=9
bad "unsched_bytes=0" --config unsched_bytes=0
bad "lanes=4" --config lanes=4
bad "max_nic_backlog_us=0" --config max_nic_backlog_us=0
bad --messages --workload incast:5,1000 --messages 3 --svg "$tmp/x.svg"
[ ! -e "$tmp/x.svg" ] || fail "an SVG from a refused run"
bad "timer ticks" --host-gbps 0.001 --load 0.0001
# One file for both outputs: refused, not the CSV overwritten (helper-41).
bad "name one file" --csv "$tmp/same" --svg "$tmp/same"
: > "$tmp/same"
bad "name one file" --csv "$tmp/same" --svg "$tmp/../$(basename "$tmp")/same"
bad "unknown option" --bogus
# --compare adds ",num_priorities=1" and the like to --config: a --config
# that fits alone but not with them is refused, not cut short.
long=$(printf 'tick_us=1000,%.0s' $(seq 77))tick_us=1000
[ ${#long} -le 1023 ] || fail "test: --config of ${#long} bytes"
bad "--compare" --compare --config "$long"

# run ARGS...: exit 0 within the timeout; the report in $out.
run() {
	local rc=0
	out=$(timeout 60 "$sim" --quiet "$@" 2>"$tmp/err") || rc=$?
	[ "$rc" -eq 0 ] || fail "uhoma-sim $*: exit $rc ($(cat "$tmp/err"))"
}

# Rates that divided by zero (SIGFPE) or were rounded.
run --workload w1 --messages 50 --host-gbps 9000 --uplink-gbps 10000
run --workload w1 --messages 50 --host-gbps 5000 --topology fabric:2x2
# Sends the budget refuses: listed by reason.
run --topology rack:4 --workload 100000 --load 0.9 --messages 60 \
	--config sndbuf=1000
grep -q "^failed by reason: " <<< "$out" || fail "no failures by reason"
# An incast round starts once the last ended at both ends: its senders
# hold no budget, and none is refused (helper-41: 19 of 30 were).
run --workload incast:4,100000 --messages 20 --config sndbuf=1000
grep -q "^rack:16 incast:4,100000 .*: 20 messages, 20 complete, 0 failed" \
	<<< "$out" || fail "$out"
# Messages cut off by the drain are counted and warned of; the SVG asked
# for is written though nothing was measured.
run --workload 1000000 --messages 2 --drain-ms 0 --svg "$tmp/y.svg"
grep -q "2 still in flight at the end" <<< "$out" || fail "$out"
grep -q "^WARNING: 2 messages still in flight" <<< "$out" || fail "$out"
[ -s "$tmp/y.svg" ] || fail "no SVG"
# Spines by number; the compare table's median bucket named as such.
run --topology fabric:2x2 --spines 1 --workload w1 --messages 300
grep -q "spine 0" <<< "$out" || fail "no spine 0 in: $out"
! grep -q "spine [1-9]" <<< "$out" || fail "a spine past the only one"
run --compare --topology rack:4 --workload w1 --messages 100
grep -q "median_bucket_p50" <<< "$out" || fail "no median_bucket_p50"
# An output that cannot be written fails the run, and it leaves no file
# it made behind -- the other output's neither (helper-36: the SVG stayed).
for args in "--svg $tmp/d.svg --csv /dev/full" "--csv $tmp/d.csv --svg /dev/full"; do
	rc=0
	# shellcheck disable=SC2086  # $args: words on purpose
	timeout 60 "$sim" --quiet --topology rack:4 --messages 200 $args \
		>/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 1 ] || fail "uhoma-sim $args: exit $rc, not 1"
	[ ! -e "$tmp/d.svg" ] && [ ! -e "$tmp/d.csv" ] || fail "$args: a file left"
done
rc=0
timeout 60 "$sim" --quiet --topology rack:4 --messages 200 --csv "$tmp/d.csv" \
	>/dev/full 2>/dev/null || rc=$?
[ "$rc" -eq 1 ] || fail "report to /dev/full: exit $rc, not 1"
[ ! -e "$tmp/d.csv" ] || fail "report to /dev/full: the CSV left"
"$sim" --help | grep -q -- "--drain-ms" || fail "--help lacks --drain-ms"
echo "uhoma-sim command line: ok"
