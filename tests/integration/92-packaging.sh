#!/bin/bash
# Packaging checks that need no package build: the systemd units' exposure
# (systemd-analyze security <= 1.5, and they verify), the RPM spec without an
# rpmlint error, purge keeping the collector's store, every packaging tool
# known to install-deps, and make install honouring the systemd directories
# the spec passes. (The package builds themselves and lintian on the .deb
# files: docs/packaging.md, "Checks".)
. "$(dirname "$0")/lib.sh"

cd "$SRC" || bail "no source tree"
command -v systemd-analyze >/dev/null || bail "no systemd-analyze (scripts/install-deps --packaging)"

for unit in erpulse-agent erpulse-collector; do
	f=packaging/systemd/$unit.service
	level=$(systemd-analyze security --offline=true --no-pager "$f" 2>/dev/null |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) .*/\1/p')
	tap_check "$unit.service: exposure ${level:-?} <= 1.5" \
		python3 -c 'import sys; sys.exit(0 if sys.argv[1] and float(sys.argv[1]) <= 1.5 else 1)' "$level"
	out=$(systemd-analyze verify --man=no "$f" 2>&1 | grep -v "is not executable: No such file" | grep -v "^$")
	tap_is "  ... systemd-analyze verify: no complaint (besides the binary not installed here)" "$out" ""
	tap_like "  ... filters privileged and resource calls" "$(cat "$f")" "SystemCallFilter=~@privileged @resources"
	tap_like "  ... private mounts" "$(cat "$f")" "PrivateMounts=yes"
done

if command -v rpmlint >/dev/null; then
	out=$(rpmlint packaging/rpm/erpulse.spec 2>&1)
	tap_like "rpmlint erpulse.spec: 0 errors" "$out" " 0 errors,"
else
	tap_ok "# SKIP rpmlint not installed (scripts/install-deps --packaging)"
fi

tap_check "purge keeps the collector's store (no rm of /var/lib/erpulse-collector)" \
	sh -c "! grep -E 'rm .*-r.*/var/lib/erpulse-collector\$' packaging/debian/erpulse-collector.postrm"
tap_like "  ... and says how to delete it" "$(cat packaging/debian/erpulse-collector.postrm)" "rm -rf /var/lib/erpulse-collector"

for tool in lintian rpmlint debhelper dpkg-dev; do
	tap_like "install-deps knows $tool" "$(cat scripts/install-deps)" "DEB_PACKAGING=\".*$tool"
done
tap_like "install-deps knows rpmlint and rpm-build (RPM family)" "$(cat scripts/install-deps)" 'RPM_PACKAGING=".*rpm-build.*rpmlint'

make -s O="$O" DESTDIR="$T/root" PREFIX=/usr UNITDIR=/usr/lib/systemd/system \
	SYSUSERSDIR=/usr/lib/sysusers.d TMPFILESDIR=/usr/lib/tmpfiles.d install >"$T/install.log" 2>&1
tap_is "make install with the spec's directories: exit 0" "$?" 0
tap_check "  ... units in UNITDIR" test -s "$T/root/usr/lib/systemd/system/erpulse-agent.service"
tap_check "  ... nothing in /lib (rpmlint: hardcoded-library-path)" test ! -e "$T/root/lib"

tap_done
