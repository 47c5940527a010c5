#!/usr/bin/env bash
# Makes sure the Debian packages uhoma builds and tests with are present.
# As root it installs what is missing with apt-get; otherwise it prints the
# exact command to run and fails.
set -euo pipefail

need_pkgs=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }

for p in build-essential cmake pkg-config liburcu-dev libcmocka-dev tshark; do
  have "$p" || need_pkgs+=("$p")
done
# clang is needed only for the fuzz target; ask for it there (make fuzz).
if [ "${UHOMA_DEPS_EXTRA:-}" != "" ]; then
  for p in $UHOMA_DEPS_EXTRA; do have "$p" || need_pkgs+=("$p"); done
fi

[ ${#need_pkgs[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  echo "uhoma: installing missing packages: ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
else
  echo "uhoma: missing packages: ${need_pkgs[*]}" >&2
  echo "uhoma: run:  sudo apt-get install -y ${need_pkgs[*]}" >&2
  exit 1
fi
