#!/bin/sh
# layers.sh SRC_DIR - the dependency rule (docs/design.md §1): the protocol
# core includes only the core, sync, mem and util layers and the public
# headers -- nothing from net, runtime, api or preload. Prints each
# offending line; fails if there is one.
src="$1/src"
bad=$(grep -n '#include "' "$src"/core/*.c "$src"/core/*.h |
	grep -v '#include "\(core\|sync\|mem\|util\|uhoma\)/')
# The layers under the core must not reach up into it either.
below=$(grep -n '#include "' "$src"/sync/* "$src"/mem/* "$src"/util/* |
	grep -v '#include "\(sync\|mem\|util\|uhoma\)/')
if [ -n "$bad$below" ]; then
	echo "layers: includes across the dependency rule:"
	[ -n "$bad" ] && echo "$bad"
	[ -n "$below" ] && echo "$below"
	exit 1
fi
echo "layers: core, sync, mem and util include nothing above them"
