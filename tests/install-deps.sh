#!/bin/sh
# Installs the Debian packages named as arguments that are missing.
# As root it runs apt-get; otherwise it only says what is missing.
missing=""
for p in "$@"; do
	# Node may come from elsewhere (e.g. NodeSource, with npm inside)
	case $p in nodejs) command -v node >/dev/null && continue ;; npm) command -v npm >/dev/null && continue ;; esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing Debian packages:$missing (run make as root to install them)" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Some test packages are daemons (nginx, haproxy, stunnel4, inetd): the tests
# start what they need on loopback ports of their own, so the packages'
# services must not start on this machine's ports. A policy-rc.d that denies
# every start does that, for the time of the install (one already there stays).
policy=/usr/sbin/policy-rc.d
ours=""
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# switchboard tests/install-deps.sh: no service starts during this install\nexit 101\n' >"$policy" &&
		chmod 755 "$policy" && ours=1
fi
apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null
rc=$?
[ -n "$ours" ] && rm -f "$policy"
exit $rc
