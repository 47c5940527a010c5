#!/usr/bin/env bash
# tests/tools/cluster.sh SCRIPT TOOLS_DIR: uhoma-cluster's smoke test.
#
# With root and network namespaces: 4 hosts at 20 Mbit/s, a few hundred
# RPCs of W3 over uhoma and TCP; it checks that
#   - every host completed RPCs over both protocols, none failed;
#   - uhoma's packets reached several priority bands of the switch port,
#     its short messages' and control packets' the first (priority 7), and
#     TCP's only the last (TOS 0);
#   - every host knows the others' MAC addresses for good, and the
#     switch every host's port (no ARP to starve in a band under incast);
#   - a host cut off from the others fails the run, with its name;
#   - bad commands, options and values exit 2 with a reason, and a
#     prefix with pattern characters is refused;
#   - a second `up` over a live cluster, and one after a run killed in
#     the middle, start clean; `down` leaves no namespace behind.
# Without root, or where namespaces cannot be made, it says so and skips
# (exit 77).
set -uo pipefail
SCRIPT=$1
export UHOMA_CLUSTER_TOOLS=$2
export UHOMA_CLUSTER_PREFIX=uhct$$
OUT=$(mktemp -d)
fail() { echo "FAIL: $*"; "$SCRIPT" down >/dev/null 2>&1; exit 1; }
ours() { ip netns list 2>/dev/null | grep -cE "^$UHOMA_CLUSTER_PREFIX-" || true; }
trap '"$SCRIPT" down >/dev/null 2>&1; rm -rf "$OUT"' EXIT

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: uhoma-cluster needs root (network namespaces, qdiscs)"
	exit 77
fi
if ! command -v ip >/dev/null || ! command -v tc >/dev/null ||
	! ip netns add "$UHOMA_CLUSTER_PREFIX-probe" 2>/dev/null; then
	echo "SKIP: cannot create network namespaces here (iproute2, permissions)"
	exit 77
fi
ip netns delete "$UHOMA_CLUSTER_PREFIX-probe"

# Without root the tool says so (as a user it would be told).
if command -v setpriv >/dev/null; then
	msg=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$SCRIPT" up 4 2>&1)
	[ $? = 1 ] && grep -q "needs root" <<<"$msg" || fail "as nobody: '$msg'"
fi
# Bad arguments: exit 1 and a reason.
msg=$("$SCRIPT" up 1 2>&1) && fail "up 1 accepted"
grep -q "2 to 16" <<<"$msg" || fail "up 1: '$msg'"
msg=$("$SCRIPT" run 2>&1) && fail "run without a cluster accepted"
grep -q "no cluster" <<<"$msg" || fail "run without a cluster: '$msg'"
# Bad commands, options and values: exit 2 and a reason.
for args in "up 08 --rate" "up 2 3" "up 4 --rate 1.5" "down extra" \
	"run --seconds 1abc" "run --protocols tcp,tcp" "run --load 5" "frobnicate"; do
	# shellcheck disable=SC2086  # words on purpose
	"$SCRIPT" $args >/dev/null 2>"$OUT/err"
	rc=$?
	[ $rc = 2 ] && [ -s "$OUT/err" ] || fail "'$args': exit $rc, '$(cat "$OUT/err")'"
done
# A prefix is letters and digits: a pattern in it must not reach others.
UHOMA_CLUSTER_PREFIX='uh.t|uhc' "$SCRIPT" down 2>/dev/null && fail "prefix with a pattern accepted"

"$SCRIPT" up 4 --rate 20 >/dev/null || fail "up"
"$SCRIPT" up 4 --rate 20 >/dev/null || fail "up over a live cluster"
[ "$(ours)" = 5 ] || fail "$(ours) namespaces after up 4, want 5"
"$SCRIPT" run --workload w3 --load 0.3 --seconds 2 --warmup 0.5 \
	--out "$OUT" >"$OUT/run.txt" 2>&1 || { cat "$OUT/run.txt"; fail "run"; }

# Every host's RPCs completed over both protocols, none failed.
for p in uhoma tcp; do
	n=$(grep -c "^  node .* $p: [1-9][0-9]* RPCs .* 0 errors" "$OUT/run.txt")
	[ "$n" = 4 ] || { cat "$OUT/run.txt"; fail "$p: $n of 4 hosts completed RPCs without errors"; }
	c=$(sed -n "s/^SHORT $p count=\([0-9]*\).*/\1/p" "$OUT/run.txt")
	[ "${c:-0}" -ge 50 ] || fail "$p: ${c:-0} short RPCs measured"
done
# The bands of host 0's switch port: BANDS proto b1 .. b8 (b1: priority 7).
read -r -a hb <<<"$(awk '$1 == "BANDS" && $2 == "homa" { print $3, $4, $5, $6, $7, $8, $9, $10 }' "$OUT/bands.txt")"
read -r -a tb <<<"$(awk '$1 == "BANDS" && $2 == "tcp" { print $3, $4, $5, $6, $7, $8, $9, $10 }' "$OUT/bands.txt")"
[ "${#hb[@]}" = 8 ] && [ "${#tb[@]}" = 8 ] || fail "no band counts: $(cat "$OUT/bands.txt")"
used=0
for b in "${hb[@]}"; do [ "$b" -gt 0 ] && used=$((used + 1)); done
[ "$used" -ge 3 ] || fail "uhoma used $used bands: ${hb[*]}"
[ "${hb[0]}" -gt 0 ] || fail "nothing of uhoma's at priority 7: ${hb[*]}"
for i in 0 1 2 3 4 5 6; do
	[ "${tb[$i]}" = 0 ] || fail "TCP in band $((i + 1)): ${tb[*]}"
done
[ "${tb[7]}" -gt 0 ] || fail "TCP's packets not counted in the last band: ${tb[*]}"

# No ARP during a run: permanent neighbours, static forwarding entries.
for h in 0 1 2 3; do
	n=$(ip netns exec "$UHOMA_CLUSTER_PREFIX-h$h" ip neigh show dev eth0 nud permanent | grep -c lladdr)
	[ "$n" = 3 ] || fail "host $h: $n permanent neighbours, want 3: $(ip netns exec "$UHOMA_CLUSTER_PREFIX-h$h" ip neigh)"
done
n=$(ip netns exec "$UHOMA_CLUSTER_PREFIX-sw" bridge fdb show br br0 | grep -c ' dev p[0-9]* master br0 static')
[ "$n" = 4 ] || fail "$n static forwarding entries, want 4"

# A host that cannot reach anyone completes no RPC: the run fails, loudly.
ip netns exec "$UHOMA_CLUSTER_PREFIX-h2" ip link set eth0 down
"$SCRIPT" run --workload w3 --load 0.3 --seconds 2 --warmup 0.5 --protocols homa \
	--out "$OUT/down" >"$OUT/down.txt" 2>&1 && fail "a run with a host cut off passed"
grep -q "host 2 (homa) failed" "$OUT/down.txt" || { cat "$OUT/down.txt"; fail "no word of host 2"; }
ip netns exec "$UHOMA_CLUSTER_PREFIX-h2" ip link set eth0 up

# A run killed in the middle leaves processes and queues; up starts clean.
"$SCRIPT" run --workload w3 --load 0.3 --seconds 30 --out "$OUT/killed" \
	>/dev/null 2>&1 &
pid=$!
disown "$pid"
sleep 5
kill -9 "$pid" 2>/dev/null
"$SCRIPT" up 4 --rate 20 >/dev/null || fail "up after a killed run"
[ "$(ours)" = 5 ] || fail "$(ours) namespaces after up over a killed run"
"$SCRIPT" down || fail "down"
[ "$(ours)" = 0 ] || fail "$(ours) namespaces left after down"
echo "PASS: uhoma and TCP over 4 namespaced hosts; bands uhoma ${hb[*]}, TCP ${tb[*]}; nothing left"
