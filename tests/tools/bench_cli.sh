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

for n in 0 51 -1 x; do
	if err=$("$bench" compare --repeat "$n" 2>&1); then
		echo "FAIL: --repeat $n accepted"; exit 1
	fi
	grep -q "out of range" <<< "$err" || { echo "FAIL: --repeat $n: $err"; exit 1; }
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
