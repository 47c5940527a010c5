#!/usr/bin/env bash
# The measurements in sim/README.md, rerunnable: W1-W5 at 50 % and 80 %
# load on the 144-host fabric, the ablations on W4 at 80 %, the load sweep
# on W4 and W5, incast 100 x 1 MB, and the done-when command of the
# simulator's issue. Each run's full report goes to OUT/NAME.txt, its CSV
# and SVG beside it; OUT/summary.txt collects the SUMMARY lines.
# Usage: sim/tables.sh [BUILD_DIR [OUT_DIR]]   (defaults: build, sim-out)
# One run at a time, one core each; about 25 minutes on the project's VM.
# SIM_WRAP: a command each run goes under (e.g. "flock /tmp/cpu.lock").
set -euo pipefail
build=${1:-build}
out=${2:-sim-out}
sim="$build/uhoma-sim"
[ -x "$sim" ] || { echo "tables.sh: no $sim (make first)" >&2; exit 1; }
mkdir -p "$out"
: >"$out/summary.txt"

run() {   # NAME ARGS...
	local name=$1
	shift
	echo "== $name: uhoma-sim $*" >&2
	# shellcheck disable=SC2086  # SIM_WRAP: words on purpose
	${SIM_WRAP:-} "$sim" --quiet --csv "$out/$name.csv" --svg "$out/$name.svg" "$@" \
		>"$out/$name.txt"
	printf '%-22s %s\n' "$name" "$(tail -1 "$out/$name.txt")" \
		>>"$out/summary.txt"
}

fabric=(--topology fabric:9x16 --seed 1)
bare=(--switch-ns 0 --host-ns 0 --nic-ns 0)
# Message counts: enough simulated time (milliseconds) for the largest
# messages (1 MB: 0.85 ms alone on a 10 Gb/s link) to come and go many
# times, and a few million packets at most per run.
declare -A msgs=([w1]=1000000 [w2]=2000000 [w3]=1000000 [w4]=100000 [w5]=20000)
for w in w1 w2 w3 w4 w5; do
	for load in 0.5 0.8; do
		run "$w-$load" "${fabric[@]}" --workload "$w" --load "$load" \
			--messages "${msgs[$w]}"
	done
	# The model before 2026-12-07 (its tables' baseline): NIC FIFOs
	# and no fixed delays; and the FIFO alone.
	run "$w-0.8-fifo" "${fabric[@]}" --workload "$w" --load 0.8 \
		--messages "${msgs[$w]}" --nic-fifo
	run "$w-0.8-bare" "${fabric[@]}" --workload "$w" --load 0.8 \
		--messages "${msgs[$w]}" --nic-fifo "${bare[@]}"
done
# The ablations (one invocation, one plot).
run w4-0.8-compare "${fabric[@]}" --workload w4 --load 0.8 \
	--messages 50000 --compare
# The highest load sustained.
for load in 0.85 0.9; do
	run "w4-$load" "${fabric[@]}" --workload w4 --load "$load" \
		--messages 100000
	run "w5-$load" "${fabric[@]}" --workload w5 --load "$load" \
		--messages 20000
done
# The same, over longer windows: a heavy-tailed backlog settles slowly
# (sim/README.md, "Highest load sustained"; each report's two reference
# lines read the same messages).
run w4-0.7-200k "${fabric[@]}" --workload w4 --load 0.7 --messages 200000
run w5-0.7-40k "${fabric[@]}" --workload w5 --load 0.7 --messages 40000
run w5-0.8-40k "${fabric[@]}" --workload w5 --load 0.8 --messages 40000
run w4-0.8-400k "${fabric[@]}" --workload w4 --load 0.8 --messages 400000
run w4-0.9-400k "${fabric[@]}" --workload w4 --load 0.9 --messages 400000
# Incast: 100 senders, 1 MB each, to one receiver at the same instant.
run incast-100x1M "${fabric[@]}" --workload incast:100,1000000 \
	--messages 100 --warmup 0
# The issue's command, last: its pkts_per_s is the simulator's speed
# (run it alone for that figure).
run w4-0.8-200k-bare "${fabric[@]}" --workload w4 --load 0.8 \
	--messages 200000 --nic-fifo "${bare[@]}"
run w4-0.8-200k "${fabric[@]}" --workload w4 --load 0.8 --messages 200000
cat "$out/summary.txt"
