#!/usr/bin/env bash
# bench/cluster/tables.sh: every measurement of bench/README.md's cluster
# section, again (root; about 25 minutes on a 2-core machine, nothing else
# running). Each run's report, CSV and SVG go to bench/cluster/<name>/;
# summary.txt collects the lines the tables are made from. RESUME=1 keeps
# the runs that finished (their run.txt) and does the rest.
#   4 hosts at 50 Mbit/s and 8 at 25 (the rates where the links, not the
#   CPUs, are what is busy), W3-W5 at 50 % and 80 %, each with uhoma-sim's
#   same experiment beside it; priorities off (one band); incast.
set -euo pipefail
cd "$(dirname "$0")"
CL=${UHOMA_CLUSTER:-../../tools/cluster/uhoma-cluster}
SECS=${SECS:-30}
SAMPLES=${SAMPLES:-/tmp/uhoma-cluster-samples}
: >summary.txt

run() {   # name, run arguments...
	local name=$1
	shift
	if [ "${RESUME:-0}" = 1 ] && [ -f "$name/run.txt" ]; then
		summarize "$name" "$@"
		return
	fi
	rm -rf "$name"
	"$CL" run --out "$name" --seconds "$SECS" "$@" >"$name.log" 2>&1 ||
		{ tail -20 "$name.log"; exit 1; }
	mv "$name.log" "$name/run.txt"
	# The samples (megabytes) stay out of the tree, for report reruns.
	mkdir -p "$SAMPLES/$name"
	mv "$name"/homa.txt "$name"/tcp.txt "$SAMPLES/$name/" 2>/dev/null || true
	rm -f "$name"/*-[0-9].log
	summarize "$name" "$@"
}

summarize() {   # name, run arguments...
	local name=$1
	shift
	{
		echo "## $name: $*"
		grep -E "^(uhoma configuration|unloaded|  (homa|tcp): CPUs|  homa: DATA|SHORT|LONG|  SUMMARY)" "$name/run.txt"
	} | tee -a summary.txt
}

[ "${RESUME:-0}" = 1 ] && [ -f h4-incast/run.txt ] || "$CL" up 4 --rate 50
for w in w3 w4 w5; do
	for l in 0.5 0.8; do
		run "h4-$w-$l" --workload "$w" --load "$l" --sim
	done
done
run h4-w4-0.8-prio-off --workload w4 --load 0.8 --protocols homa \
	--config num_priorities=1 --sim
run h4-incast --pattern incast --seconds 20
"$CL" up 8 --rate 25
for w in w3 w4 w5; do
	for l in 0.5 0.8; do
		run "h8-$w-$l" --workload "$w" --load "$l" --sim
	done
done
run h8-incast --pattern incast --seconds 20
"$CL" down
