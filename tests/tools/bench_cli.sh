#!/usr/bin/env bash
# uhoma-bench compare --repeat (a test of the tool, not of speed): three
# short rounds must each print their table, RANGES must name every ratio
# with its least and most, and SUMMARY every ratio's median, which lies
# between them. Out-of-range round counts exit 2 and say so.
set -euo pipefail
bench=$1
keys="rtt_p50_vs_udp rtt_p50_vs_tcp rps_vs_tcp bulk_vs_tcp bulk_zerocopy_vs_tcp
      hol_p99_tcp_over_homa api_rtt_vs_tcp api_w4_rps_vs_tcp
      api_w4_short_p99_vs_tcp"

# Every number whole and in range, or exit 2 naming the option
# (helper-36: --seconds 99999999999 reported "1 RPCs in 99999999999.0 s",
# --warmup -0.9 measured 0.1 s, --gbps abc ran closed loop).
for args in "compare --repeat 0" "compare --repeat 51" "compare --repeat -1" \
	    "compare --repeat x" "client --seconds 99999999999" \
	    "client --warmup -0.9" "client --gbps -1" "client --gbps abc" \
	    "client --outstanding 0" "client --seconds 1x"; do
	opt=${args#* }; opt=${opt%% *}
	rc=0
	# shellcheck disable=SC2086  # $args: words on purpose
	err=$("$bench" $args 2>&1) || rc=$?
	[ "$rc" -eq 2 ] || { echo "FAIL: $args: exit $rc, not 2"; exit 1; }
	grep -q -- "$opt" <<< "$err" || { echo "FAIL: $args: '$err' lacks $opt"; exit 1; }
done
"$bench" --help 2>&1 | grep -q "^usage: uhoma-bench" || { echo "FAIL: --help"; exit 1; }
# A CSV that cannot be written, and runs that complete no RPC (nobody
# serves the port): exit 1 (they exited 0).
rc=0
"$bench" client --local --seconds 0.1 --warmup 0 --csv /nonexistent/x.csv \
	>/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { echo "FAIL: unwritable --csv: exit $rc"; exit 1; }
for p in udp homa; do
	rc=0
	"$bench" client --protocol $p --seconds 0.2 --warmup 0 >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 1 ] || { echo "FAIL: $p, no RPC completed: exit $rc"; exit 1; }
done

out=$("$bench" compare --repeat 3 --seconds 0.1 --warmup 0 2>/dev/null)
for k in 1 2 3; do
	grep -q "^round $k of 3:" <<< "$out" || { echo "FAIL: no round $k"; exit 1; }
done
[ "$(grep -c '^100 B RTT p50 (us)' <<< "$out")" = 3 ] ||
	{ echo "FAIL: not one table per round"; exit 1; }
ranges=$(grep '^RANGES ' <<< "$out") || { echo "FAIL: no RANGES"; exit 1; }
summary=$(tail -1 <<< "$out")
grep -q '^SUMMARY ' <<< "$summary" || { echo "FAIL: SUMMARY not last"; exit 1; }
echo "$ranges"
echo "$summary"
for key in $keys; do
	r=$(grep -o " $key=[0-9.]*-[0-9.]*" <<< "$ranges") ||
		{ echo "FAIL: RANGES lacks $key"; exit 1; }
	m=$(grep -o " $key=[0-9.]*" <<< "$summary") ||
		{ echo "FAIL: SUMMARY lacks $key"; exit 1; }
	lo=${r#*=}; hi=${lo#*-}; lo=${lo%-*}; m=${m#*=}
	awk -v lo="$lo" -v m="$m" -v hi="$hi" \
	    'BEGIN { exit !(lo <= hi && lo - 0.051 <= m && m <= hi + 0.051) }' ||
		{ echo "FAIL: $key median $m outside $lo-$hi"; exit 1; }
done
echo "uhoma-bench compare --repeat: ok"
