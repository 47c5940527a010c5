#!/usr/bin/env bash
# make install's result works: installs the build tree into a scratch
# prefix, builds an example against it with pkg-config alone, renders every
# man page without warnings, and runs the Linux-API test program under the
# installed preload library.
# Usage: install.sh BUILD_DIR SOURCE_DIR HOMA_API
set -euo pipefail
build=$1 src=$2 homa_api=$3
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
# shellcheck disable=SC2086  # SAN_CFLAGS: words on purpose
cc ${SAN_CFLAGS:-} -o "$prefix/echo_client" "$src/examples/echo_client.c" \
   $(pkg-config --cflags --libs uhoma) -Wl,-rpath,"$prefix/lib"
# The example, built only from the installed tree, talks to the build's
# echo server.
# (Outputs captured before grep -q: with pipefail, grep's early exit would
# fail the pipeline through SIGPIPE.)
libs=$(ldd "$prefix/echo_client")
grep -q "$prefix/lib/libuhoma.so" <<<"$libs" ||
  { echo "FAIL: example not linked to the installed libuhoma"; exit 1; }
"$src/examples/run-echo.sh" "$build/echo_server" "$prefix/echo_client" >/dev/null ||
  { echo "FAIL: example built against the install does not work"; exit 1; }
n=0
for page in "$prefix"/share/man/man*/*; do
  out=$(MANWIDTH=80 man --warnings -M "$prefix/share/man" -l "$page" 2>&1 >/dev/null || true)
  [ -z "$out" ] || { echo "FAIL: $page: $out"; exit 1; }
  n=$((n + 1))
done
for name in uhoma_bind uhoma_recv uhoma_memnet_run; do
  page=$(MANWIDTH=80 man -M "$prefix/share/man" 3 "$name")
  grep -q "$name" <<<"$page" ||
    { echo "FAIL: man 3 $name"; exit 1; }
done
last=$(LD_PRELOAD="$prefix/lib/libuhoma-preload.so" "$homa_api" | tail -1)
grep -q PASS <<<"$last" ||
  { echo "FAIL: homa_api under the installed preload"; exit 1; }
test -f "$prefix/share/uhoma/wireshark/homa.lua"
# uhoma-cluster is installed beside the tools it runs, and says how to use
# it (its runs need root: tests/tools/cluster.sh).
test -x "$prefix/bin/uhoma-cluster" && test -x "$prefix/bin/uhoma-bench" &&
  test -x "$prefix/bin/uhoma-sim" ||
  { echo "FAIL: uhoma-cluster and its tools not in $prefix/bin"; exit 1; }
use=$("$prefix/bin/uhoma-cluster" help 2>&1 || true)
grep -q "uhoma-cluster up N" <<<"$use" ||
  { echo "FAIL: uhoma-cluster help: $use"; exit 1; }
# The Linux uapi header compiles as C and as C++ (Homa's own tools, such as
# cp_node, are C++), layouts checked in both.
echo '#include <uhoma/homa.h>' | cc -fsyntax-only -x c -I"$prefix/include" - ||
  { echo "FAIL: homa.h as C"; exit 1; }
echo '#include <uhoma/homa.h>' | c++ -fsyntax-only -x c++ -I"$prefix/include" - ||
  { echo "FAIL: homa.h as C++"; exit 1; }
echo "install: pkg-config build, $n man pages, installed preload: ok"
