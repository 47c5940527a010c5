#!/usr/bin/env bash
# The Wireshark dissector (tools/wireshark/homa.lua) decodes every packet
# type, in the module's raw-IP form (IPv4 and IPv6, protocol 146) and in
# uhoma's UDP carrier: tshark's summary of each packet must match
# dissector.expected, and the display filters must find what they name.
# Usage: dissector.sh WIRE_DUMP LUA EXPECTED
set -euo pipefail
dump=$1 lua=$2 expected=$3
command -v tshark >/dev/null || { echo "tshark missing (apt-get install tshark)"; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$dump" > "$dir/pkts.txt"
text2pcap -q -i 146 "$dir/pkts.txt" "$dir/ip4.pcap"
text2pcap -q -6 ::1,::2 -i 146 "$dir/pkts.txt" "$dir/ip6.pcap"
text2pcap -q -u 40000,1234 "$dir/pkts.txt" "$dir/udp.pcap"
ts() { tshark -X "lua_script:$lua" "$@" 2>/dev/null; }
fail=0
for cap in ip4 ip6 udp; do
  ts -r "$dir/$cap.pcap" -T fields -e _ws.col.Info > "$dir/$cap.out"
  if ! diff -u "$expected" "$dir/$cap.out"; then
    echo "FAIL: $cap capture decodes differently"; fail=1
  fi
  # Filters on decoded fields.
  for f in 'homa.data.offset == 1400' 'homa.resend.all' 'homa.cutoffs.version == 7' \
           'homa.ack.server_port == 81' 'homa.grant.priority == 5' 'homa.short'; do
    n=$(ts -r "$dir/$cap.pcap" -Y "$f" | wc -l)
    [ "$n" -eq 1 ] || { echo "FAIL: $cap: filter '$f' matched $n packets, not 1"; fail=1; }
  done
  n=$(ts -r "$dir/$cap.pcap" -Y 'homa.type == 0x10' | wc -l)
  [ "$n" -eq 2 ] || { echo "FAIL: $cap: $n DATA packets, not 2"; fail=1; }
done
# Without the dissector nothing is Homa: the script is what decodes.
n=$(tshark -r "$dir/udp.pcap" -Y 'frame contains b9:7d' 2>/dev/null | grep -c Homa || true)
[ "$n" -eq 0 ] || { echo "FAIL: Homa decoded without the script"; fail=1; }
[ $fail -eq 0 ] && echo "dissector: 3 captures x 11 packets decoded as expected"
exit $fail
