#!/bin/sh
# Proves the protocol seam: nothing under worker/, router/ or common/ names a
# protocol (the registries are generated from the Makefile's PROTOS), and a
# protocol's code includes nothing from outside its folder but proto/proto.h
# and common/. Prints TAP lines like the other suites.
cd "$(dirname "$0")/.." || exit 1
protos=$(sed -n 's/^PROTOS *:= *//p' Makefile)
fail=0
for p in $protos; do
	hits=$(grep -rniw --include='*.c' --include='*.h' -e "$p" worker router common | head -5)
	if [ -n "$hits" ]; then
		echo "not ok - seam: worker/, router/ and common/ do not name $p"
		echo "$hits" | sed 's/^/#   /'
		fail=1
	else
		echo "ok - seam: worker/, router/ and common/ do not name $p"
	fi
	[ -f "proto/$p/module.mk" ] && echo "ok - seam: $p has its module.mk" || { echo "not ok - seam: $p has its module.mk"; fail=1; }
	[ -f "proto/$p/README.md" ] && echo "ok - seam: $p has its README.md" || { echo "not ok - seam: $p has its README.md"; fail=1; }
	bad=$(grep -n '#include "' proto/"$p"/*.c proto/"$p"/*.h 2>/dev/null |
		grep -v -e '"\.\./proto\.h"' -e '"\.\./\.\./common/' -e '"[a-z0-9_]*\.h"' | head -5)
	if [ -n "$bad" ]; then
		echo "not ok - seam: $p includes only proto/proto.h, common/ and its own files"
		echo "$bad" | sed 's/^/#   /'
		fail=1
	else
		echo "ok - seam: $p includes only proto/proto.h, common/ and its own files"
	fi
done
exit $fail
