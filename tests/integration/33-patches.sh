#!/bin/bash
# The patches probe live against apt on this machine (counts equal an
# independent `apt-get -s dist-upgrade | grep -c ^Inst`), then with a root
# tree holding an os-release and /var/run/reboot-required(.pkgs), then with
# commands that hang (killed at the timeout) and are missing (clear error).
. "$(dirname "$0")/lib.sh"

PROBE_RUN=$TOOLS/probe_run
[ -x "$PROBE_RUN" ] || bail "probe_run not built ($PROBE_RUN): run make tests"
jget() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
kinds() { jget "$1" '" ".join(sorted(f["kind"] for f in j["findings"]))'; }

if [ -x /usr/bin/apt-get ]; then
	printf '[patches]\n' >"$T/live.conf"
	"$PROBE_RUN" "$T/live.conf" patches >"$T/live.json" 2>"$T/live.err"
	sim=$(LANG=C apt-get -s -o Debug::NoLocking=1 dist-upgrade 2>/dev/null)
	tap_is "live apt: status ok" "$(jget "$T/live.json" 'j["status"]')" ok
	tap_is "pending updates = apt-get -s dist-upgrade | grep -c ^Inst" \
		"$(jget "$T/live.json" 'j["metrics"]["pending_updates"]')" "$(grep -c '^Inst' <<<"$sim")"
	tap_is "security updates = Inst lines from a -security suite" \
		"$(jget "$T/live.json" 'j["metrics"]["security_updates"]')" \
		"$(grep '^Inst' <<<"$sim" | grep -cE '\(.*/[^ ,]*-security')"
	tap_is "findings" "$(kinds "$T/live.json")" "os_eol pending_updates reboot_required security_updates"
	want_db=$(dpkg-query -W -f='${Package}\t${db:Status-Abbrev}\n' 'postgresql-*' 'mariadb-server*' 'mysql-server*' 2>/dev/null |
		awk -F'\t' '$2 ~ /^ii/ && $1 ~ /^(postgresql-[0-9.]+|mariadb-server(-[0-9.]+)?|mysql-server(-[0-9.]+)?)$/ {print $1}' | sort | tr '\n' ' ')
	tap_is "database server packages = dpkg-query" \
		"$(jget "$T/live.json" '" ".join(sorted(p["package"] for p in j["metrics"]["database_packages"])) + " "')" "$want_db"
	tap_is "OS from /etc/os-release" "$(jget "$T/live.json" 'j["metrics"]["os"]["pretty_name"]')" \
		"$(. /etc/os-release && echo "$PRETTY_NAME")"
	tap_is "running kernel" "$(jget "$T/live.json" 'j["metrics"]["kernel_running"]')" "$(uname -r)"
	tap_is "apt ran without a shell, once" "$(jget "$T/live.json" 'j["metrics"]["commands"][0]["command"].split()[0]')" /usr/bin/apt-get
else
	tap_ok "# SKIP no apt-get on this machine"
fi

# ---- a root tree: Ubuntu 22.04 with a pending reboot ----
R=$T/root
mkdir -p "$R/etc" "$R/var/run"
cp "$SRC/tests/fixtures/patches/os-release-ubuntu2204" "$R/etc/os-release"
: >"$R/var/run/reboot-required"
printf 'linux-image-5.15.0-92-generic\nlibssl3\n' >"$R/var/run/reboot-required.pkgs"
printf '[patches]\npackage_manager = none\n' >"$T/root.conf"
"$PROBE_RUN" "$T/root.conf" patches --root "$R" >"$T/root.json" 2>"$T/root.err"
tap_is "root tree: findings" "$(kinds "$T/root.json")" "os_eol reboot_required"
tap_is "reboot required, with the packages that asked" \
	"$(jget "$T/root.json" '(j["metrics"]["reboot_required"], j["metrics"]["reboot_packages"])')" \
	"(True, ['linux-image-5.15.0-92-generic', 'libssl3'])"
tap_is "Ubuntu 22.04 end of standard support" "$(jget "$T/root.json" 'j["metrics"]["os_eol"]')" 2027-06-01
rm "$R/var/run/reboot-required"
"$PROBE_RUN" "$T/root.conf" patches --root "$R" >"$T/root.json" 2>"$T/root.err"
tap_is "no reboot-required file: no reboot finding claimed (package manager none)" "$(kinds "$T/root.json")" "os_eol"

# ---- a command that hangs, one that is missing ----
cat >"$T/hang" <<'SH'
#!/bin/sh
echo $$ >>"${0}.pids"
sleep 60 &
echo $! >>"${0}.pids"
wait
SH
chmod 755 "$T/hang"
printf '[patches]\npackage_manager = apt\ntimeout = 1s\napt_get = %s\ndpkg_query = %s\n' "$T/hang" "$T/hang" >"$T/hang.conf"
t0=$(date +%s%N)
"$PROBE_RUN" "$T/hang.conf" patches >"$T/hang.json" 2>"$T/hang.err"
ms=$((($(date +%s%N) - t0) / 1000000))
tap_is "hanging apt-get: status error" "$(jget "$T/hang.json" 'j["status"]')" error
tap_like "... saying it was killed at the timeout" "$(jget "$T/hang.json" 'j["error"]')" "did not finish within 1 s and was killed"
[ "$ms" -lt 5000 ] && tap_ok "... and the probe returned in ${ms} ms" || tap_fail "probe took ${ms} ms"
sleep 0.2
left=0
for p in $(cat "$T/hang.pids"); do
	st=$(ps -o stat= -p "$p" 2>/dev/null)
	[ -n "$st" ] && [ "${st#Z}" = "$st" ] && left=$((left + 1)) # zombies are dead
done
tap_is "the hung command and its child were killed ($(wc -l <"$T/hang.pids") processes)" "$left" 0

printf '[patches]\npackage_manager = apt\napt_get = /nonexistent/apt-get\ndpkg_query = /nonexistent/dpkg-query\n' >"$T/miss.conf"
"$PROBE_RUN" "$T/miss.conf" patches >"$T/miss.json" 2>"$T/miss.err"
tap_is "missing apt-get: status error" "$(jget "$T/miss.json" 'j["status"]')" error
tap_like "... naming the missing command" "$(jget "$T/miss.json" 'j["error"]')" "/nonexistent/apt-get is not installed"
tap_is "... and the other checks still report" "$(kinds "$T/miss.json")" "os_eol reboot_required"
# ---- the simulation is cached until its inputs change (and patches_min_interval
# passed since its last run) or patches_max_age passes ----
# Fake apt-get / dpkg-query print fixture output and count their runs; the
# root tree holds the inputs the cache watches (dpkg status, apt lists).
C=$T/cache
mkdir -p "$C/root/var/lib/dpkg" "$C/root/var/lib/apt/lists" "$C/root/etc"
cp "$SRC/tests/fixtures/patches/os-release-debian12" "$C/root/etc/os-release"
echo "Package: libc6" >"$C/root/var/lib/dpkg/status"
cat >"$C/apt-get" <<SH
#!/bin/sh
echo run >>"$C/apt.runs"
cat "$SRC/tests/fixtures/patches/apt-debian12-dist-upgrade.txt"
SH
cat >"$C/dpkg-query" <<SH
#!/bin/sh
cat "$SRC/tests/fixtures/patches/dpkg-query-debian12.txt"
SH
chmod 755 "$C/apt-get" "$C/dpkg-query"
printf '[patches]\npackage_manager = apt\napt_get = %s\ndpkg_query = %s\n' "$C/apt-get" "$C/dpkg-query" >"$C/p.conf"
pcycle() { "$PROBE_RUN" "$C/p.conf" patches --root "$C/root" --state "$C/state.json" >"$C/out.json" 2>"$C/err" && cp "$C/out.json" "$C/$1.json"; }
runs() { wc -l <"$C/apt.runs" | tr -d ' '; }
pcycle c1
tap_is "first cycle runs apt-get (not cached)" "$(runs) $(jget "$C/c1.json" 'j["metrics"]["cached"]')" "1 False"
pcycle c2
tap_is "second cycle: inputs unchanged, apt-get not run again" "$(runs) $(jget "$C/c2.json" 'j["metrics"]["cached"]')" "1 True"
tap_is "... the cached counts and findings are reported" \
	"$(jget "$C/c2.json" '(j["metrics"]["security_updates"], sorted(f["kind"] for f in j["findings"]))')" \
	"$(jget "$C/c1.json" '(j["metrics"]["security_updates"], sorted(f["kind"] for f in j["findings"]))')"
tap_like "... with their age" "$(jget "$C/c2.json" 'j["metrics"]["cache_age_s"]')" '^[0-9]+$'
tap_is "... and no command ran" "$(jget "$C/c2.json" 'len(j["metrics"]["commands"])')" 0
back() { # moves the cached result N seconds into the past
	python3 -c 'import json,sys; p=sys.argv[1]; j=json.load(open(p)); j["cache"]["at"] -= int(sys.argv[2]); json.dump(j, open(p, "w"))' "$C/state.json" "$1"
}
echo "Package: libc6-new" >>"$C/root/var/lib/dpkg/status"
pcycle c3
tap_is "the package database changed within patches_min_interval (10 min) of the run: cached" \
	"$(runs) $(jget "$C/c3.json" '(j["metrics"]["cached"], j["metrics"]["cache_inputs_changed"])')" "1 (True, True)"
back 600
pcycle c3b
tap_is "... 10 min after the run: apt-get runs again" \
	"$(runs) $(jget "$C/c3b.json" '(j["metrics"]["cached"], j["metrics"]["cache_run_reason"])')" "2 (False, 'changed')"
pcycle c4
tap_is "... and the new result is cached" "$(runs) $(jget "$C/c4.json" 'j["metrics"]["cache_inputs_changed"]')" "2 False"
back 3600
pcycle c4b
tap_is "inputs unchanged: still cached an hour later" "$(runs)" 2
back 82800
pcycle c5
tap_is "older than patches_max_age (24 h): apt-get runs again" \
	"$(runs) $(jget "$C/c5.json" '(j["metrics"]["cached"], j["metrics"]["cache_run_reason"])')" "3 (False, 'expired')"
printf 'patches_interval = 0\n' >>"$C/p.conf"
pcycle c6
pcycle c7
tap_is "patches_interval = 0 (the former name of patches_max_age): every cycle runs apt-get" "$(runs)" 5
printf 'patches_max_age = 2h\n' >>"$C/p.conf"
pcycle c8
tap_is "... patches_max_age wins over it" "$(runs)" 6
pcycle c9
tap_is "... cached again" "$(runs)" 6
tap_done
