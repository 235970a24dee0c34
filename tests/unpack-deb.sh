#!/bin/sh
# Unpacks a Debian package under a directory without installing it:
# openbsd-inetd conflicts with xinetd (both are inet-superservers), and the
# super-server tests (tests/e2e/superservers.test.js) run both. Its libraries
# come from packages in DEB_TEST. Usage: tests/unpack-deb.sh PACKAGE DIR
set -e
pkg=$1
dest=$2
[ -d "$dest/usr" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -q "$pkg" >/dev/null 2>&1) || {
	echo "cannot download $pkg (apt-get download)" >&2
	exit 1
}
mkdir -p "$dest"
dpkg-deb -x "$tmp"/"$pkg"_*.deb "$dest"
