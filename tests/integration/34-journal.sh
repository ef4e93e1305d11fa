#!/bin/bash
# The journal probe over real journal files written by systemd-journal-remote
# from export-format input generated here: counts per unit equal an
# independent count of the input (and journalctl -p 3), the cursor means
# nothing is counted twice, new files are picked up, a vacuumed cursor
# resumes from its time and says so, the units option filters, and an agent
# that may not read the journal gets an error and a finding, not a zero.
. "$(dirname "$0")/lib.sh"

PROBE_RUN=$TOOLS/probe_run
REMOTE=/lib/systemd/systemd-journal-remote
[ -x "$PROBE_RUN" ] || bail "probe_run not built ($PROBE_RUN): run make tests"
[ -x "$REMOTE" ] || bail "systemd-journal-remote missing (apt-get install systemd-journal-remote)"
jget() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# gen BATCH N START_OFFSET_S: export-format entries on stdout; the expected
# per-unit counts of PRIORITY <= 3 go to $T/want.BATCH as "unit count" lines.
gen() {
	python3 - "$@" "$T/want.$1" <<'PY'
import random, sys, time, collections
batch, n, off, want = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
random.seed(batch)
t0 = int(time.time() * 1e6) - 86400 * 1000000 + off * 1000000
units = ["odoo.service", "postgresql@15-main.service", "mariadb.service", "nginx.service"]
counts = collections.Counter()
out = sys.stdout
for i in range(n):
    prio = random.choice([0, 1, 2, 3, 3, 3, 4, 5, 6, 6, 6, 7])
    kind = random.random()
    f = {"__REALTIME_TIMESTAMP": str(t0 + i * 1000), "__MONOTONIC_TIMESTAMP": str(1000000 + off * 1000000 + i * 1000),
         "_BOOT_ID": "0123456789abcdef0123456789abcdef", "_MACHINE_ID": "fedcba9876543210fedcba9876543210",
         "_HOSTNAME": "erp01", "PRIORITY": str(prio)}
    if kind < 0.1:  # systemd about a unit
        u = random.choice(units)
        f.update({"_SYSTEMD_UNIT": "init.scope", "_PID": "1", "UNIT": u, "MESSAGE": "Failed to start %s." % u})
    elif kind < 0.15:
        u = "kernel"
        f.update({"_TRANSPORT": "kernel", "MESSAGE": "EXT4-fs error (device sda%d): bad block %d" % (i % 3, i)})
    else:
        u = random.choice(units)
        f.update({"_SYSTEMD_UNIT": u, "_PID": str(1000 + i % 50),
                  "MESSAGE": random.choice(["connection %d refused from 10.0.0.%d" % (i, i % 250),
                                            "duplicate key value violates unique constraint \"k%d\"" % (i % 7),
                                            "request took %d ms" % i, "password=hunter%d rejected" % i])})
    for k, v in f.items():
        out.write("%s=%s\n" % (k, v))
    out.write("\n")
    if prio <= 3:
        counts[u] += 1
with open(want, "w") as w:
    for u, c in sorted(counts.items()):
        w.write("%s %d\n" % (u, c))
PY
}
total() { awk '{s += $2} END {print s + 0}' "$1"; }
units_of() { jget "$1" '"\n".join("%s %d" % (u, c) for u, c in sorted(j["metrics"]["units"].items()))'; }

J=$T/j
mkdir -p "$J"
gen A 3000 0 >"$T/a.export"
"$REMOTE" --output="$J/a.journal" - <"$T/a.export" 2>/dev/null || bail "journal-remote failed"
cat >"$T/agent.conf" <<CONF
[journal]
directory = $J
lookback = 0
CONF
cycle() { "$PROBE_RUN" "$T/agent.conf" journal --state "$T/state.json" >"$T/out.json" 2>"$T/err.txt"; }

cycle
tap_is "status ok" "$(jget "$T/out.json" 'j["status"]')" ok
tap_is "entries = independent count of the export input" "$(jget "$T/out.json" 'j["metrics"]["entries"]')" "$(total "$T/want.A")"
tap_is "... = journalctl -p 3" "$(jget "$T/out.json" 'j["metrics"]["entries"]')" "$(journalctl -D "$J" -p 3 -o export --no-pager | grep -c '^__CURSOR=')"
tap_is "per unit (systemd's 'Failed to start' go to the unit, kernel messages to kernel)" "$(units_of "$T/out.json")" "$(cat "$T/want.A")"
tap_is "a journal_errors finding per unit" "$(jget "$T/out.json" 'len([f for f in j["findings"] if f["kind"] == "journal_errors"])')" "$(wc -l <"$T/want.A")"
tap_is "signatures mask numbers and secrets" "$(jget "$T/out.json" 'any("hunter" in s["sample"] or "hunter" in s["signature"] for s in j["metrics"]["top_signatures"])')" False
tap_is "top signatures are 10" "$(jget "$T/out.json" 'len(j["metrics"]["top_signatures"])')" 10

cycle
tap_is "second cycle: nothing counted twice" "$(jget "$T/out.json" 'j["metrics"]["entries"]')" 0

gen B 1000 600 >"$T/b.export"
"$REMOTE" --output="$J/b.journal" - <"$T/b.export" 2>/dev/null
cycle
tap_is "a new journal file: only its entries" "$(jget "$T/out.json" 'j["metrics"]["entries"]')" "$(total "$T/want.B")"
tap_is "cursor still valid" "$(jget "$T/out.json" 'j["metrics"]["cursor_lost"]')" False

# vacuum: the files holding the cursor are gone
rm -f "$J/a.journal" "$J/b.journal"
gen C 500 1200 >"$T/c.export"
"$REMOTE" --output="$J/c.journal" - <"$T/c.export" 2>/dev/null
cycle
tap_is "after vacuuming: resumed from the saved time, every new entry counted" "$(jget "$T/out.json" 'j["metrics"]["entries"]')" "$(total "$T/want.C")"
tap_is "... and it says the cursor was lost" "$(jget "$T/out.json" 'j["metrics"]["cursor_lost"]')" True
cycle
tap_is "then nothing twice" "$(jget "$T/out.json" 'j["metrics"]["entries"]')" 0

# units filter, fresh state
cat >"$T/units.conf" <<CONF
[journal.erp]
directory = $J
lookback = 0
units = odoo.service, kernel
CONF
"$PROBE_RUN" "$T/units.conf" journal.erp >"$T/u.json" 2>/dev/null
tap_is "units = odoo.service kernel" "$(units_of "$T/u.json")" "$(grep -E '^(odoo.service|kernel) ' "$T/want.C")"

# not allowed to read the journal
P=$T/private
mkdir -p "$P"
cp "$J/c.journal" "$P/"
chmod 700 "$P"
chmod 600 "$P/c.journal"
cat >"$T/priv.conf" <<CONF
[journal]
directory = $P
lookback = 0
CONF
setpriv --reuid=nobody --regid=nogroup --clear-groups "$PROBE_RUN" "$T/priv.conf" journal >"$T/p.json" 2>/dev/null
tap_is "unreadable journal: status error, not zero errors" "$(jget "$T/p.json" 'j["status"]')" error
tap_like "... saying what to do" "$(jget "$T/p.json" 'j["error"]')" "systemd-journal group"
tap_is "... as a finding" "$(jget "$T/p.json" '[f["kind"] for f in j["findings"]]')" "['probe_error']"
tap_done
