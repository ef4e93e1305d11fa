#!/bin/bash
# The log probe, one cycle at a time through probe_run with a state file:
# first run starts at the end, new files are read from their start, partial
# lines wait for their newline, a truncated-and-regrown file is read again,
# nothing is counted twice, a 5 MiB line counts once, garbage is survived,
# and a missing file or one the agent may not read is a clear error and a
# log_source_unreadable finding while the other sources go on (run as
# nobody: root reads everything).
. "$(dirname "$0")/lib.sh"

PROBE_RUN=$TOOLS/probe_run
[ -x "$PROBE_RUN" ] || bail "probe_run not built ($PROBE_RUN): run make tests"

# jget FILE PYEXPR: evaluates PYEXPR with j = the JSON in FILE
jget() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
cycle() { "$PROBE_RUN" "$T/agent.conf" log.erp --state "$T/state.json" >"$T/out.json" 2>"$T/err.txt"; }
errs() { jget "$T/out.json" 'j["metrics"]["error_records"]'; }

mkdir -p "$T/log"
cat >"$T/agent.conf" <<CONF
[log.erp]
paths = $T/log/*.log
preset = odoo
CONF
line() { printf '2026-11-26 21:40:0%d,123 42 %s erpdb odoo.http: %s\n' "$((RANDOM % 10))" "$1" "$2"; }

for i in $(seq 10); do line ERROR "old error $i"; done >"$T/log/odoo.log"
cycle
tap_is "first run: a pre-existing file starts at its end" "$(errs)" 0
tap_is "first run is flagged" "$(jget "$T/out.json" 'j["metrics"]["first_run"]')" True

{ line ERROR "boom 1"; line INFO "fine"; line ERROR "boom 2"; printf 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: ERROR in a traceback\n'; line CRITICAL "down"; } >>"$T/log/odoo.log"
cycle
tap_is "appended error records counted (traceback lines belong to their record)" "$(errs)" 3
tap_is "continuation lines" "$(jget "$T/out.json" 'j["metrics"]["continuation_lines"]')" 3
tap_is "finding log_errors" "$(jget "$T/out.json" '[f["kind"] for f in j["findings"]]')" "['log_errors']"
cycle
tap_is "nothing new: nothing counted twice" "$(errs)" 0

for i in 1 2 3 4; do line ERROR "new file $i"; done >"$T/log/second.log"
cycle
tap_is "a file created after the first run is read from its first line" "$(errs)" 4

line ERROR "half" | tr -d '\n' >>"$T/log/odoo.log"
cycle
tap_is "a partial last line is not counted" "$(errs)" 0
printf ' done\n' >>"$T/log/odoo.log"
cycle
tap_is "completed, it is counted once" "$(errs)" 1

# replaced in place by longer content (truncate, then regrow past the old offset)
{ for i in $(seq 40); do line ERROR "rewritten $i"; done; } >"$T/log/second.log.new"
cat "$T/log/second.log.new" >"$T/log/second.log"
rm -f "$T/log/second.log.new"
cycle
tap_is "a file rewritten in place is read from its start" "$(errs)" 40

# a 5 MiB line: bounded memory, counted once, sample cut
python3 -c 'import sys; sys.stdout.write("2026-11-26 21:40:00,123 42 ERROR erpdb odoo.big: huge password=hunter2 " + "x" * (5 << 20) + "\n")' >>"$T/log/odoo.log"
cycle
tap_is "a 5 MiB line counts once" "$(errs)" 1
tap_is "... as one long line" "$(jget "$T/out.json" 'j["metrics"]["long_lines"]')" 1
tap_is "its sample is bounded" "$(jget "$T/out.json" 'len(j["metrics"]["top_signatures"][0]["sample"]) <= 512')" True
tap_is "its sample masks the password" "$(jget "$T/out.json" '"hunter2" in j["metrics"]["top_signatures"][0]["sample"]')" False
tap_is "and the next cycle does not count it again" "$(cycle; errs)" 0

# binary garbage and invalid UTF-8
head -c 200000 /dev/urandom >>"$T/log/odoo.log"
printf '\n\xff\xfe ERROR \xc3\x28 bad utf8\n' >>"$T/log/odoo.log"
line ERROR "after garbage" >>"$T/log/odoo.log"
cycle
tap_is "garbage: status ok" "$(jget "$T/out.json" 'j["status"]')" ok
tap_is "garbage: the record after it is counted" "$(jget "$T/out.json" 'j["metrics"]["records"]["error"] >= 1')" True
tap_check "garbage: the report stays valid UTF-8 JSON" python3 -c 'import json,sys; json.loads(open(sys.argv[1],"rb").read().decode("utf-8"))' "$T/out.json"

# restart: a new process with the same state file counts nothing twice
cp "$T/state.json" "$T/state.saved"
line ERROR "once" >>"$T/log/odoo.log"
cycle
a=$(errs)
cp "$T/state.json" "$T/state.after"
cycle
tap_is "across restarts a line is counted exactly once" "$a+$(errs)" "1+0"

# ---- missing files and permission denied (as nobody) ----
mkdir -p "$T/p"
for i in 1 2 3; do line ERROR "readable $i"; done >"$T/p/ok.log"
line ERROR "secret" >"$T/p/denied.log"
chmod 644 "$T/p/ok.log"
chmod 600 "$T/p/denied.log"
chmod 755 "$T/p"
cat >"$T/p.conf" <<CONF
[log.mixed]
paths = $T/p/*.log $T/p/missing.log
preset = odoo
start_at = beginning
CONF
touch "$T/p/state.json"
chmod 666 "$T/p/state.json"
echo '{}' >"$T/p/state.json"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$PROBE_RUN" "$T/p.conf" log.mixed --state "$T/p/state.json" >"$T/p/out.json" 2>"$T/p/err.txt"
tap_is "permission denied / missing: status error" "$(jget "$T/p/out.json" 'j["status"]')" error
tap_like "the error names the unreadable file and what to do" "$(jget "$T/p/out.json" 'j["error"]')" "denied.log: Permission denied.*group adm"
tap_is "the missing file is named" "$(jget "$T/p/out.json" '[f.get("error") for f in j["metrics"]["files"] if f["path"].endswith("denied.log")]')" "['Permission denied']"
tap_is "the readable file is still counted" "$(jget "$T/p/out.json" 'j["metrics"]["error_records"]')" 3
tap_is "each unreadable source is a log_source_unreadable warning" \
	"$(jget "$T/p/out.json" 'sorted((f["severity"], f["object"].rsplit("/", 1)[1]) for f in j["findings"] if f["kind"] == "log_source_unreadable")')" \
	"[('warning', 'denied.log'), ('warning', 'missing.log')]"
rm -f "$T/p/denied.log"
echo '{}' >"$T/p/state.json"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$PROBE_RUN" "$T/p.conf" log.mixed --state "$T/p/state.json" >"$T/p/out.json" 2>"$T/p/err.txt"
tap_like "a missing literal path is a clear error" "$(jget "$T/p/out.json" 'j["error"]')" "missing.log: No such file"

# ---- counts equal an independent count (grep -c) of the same input ----
mkdir -p "$T/g"
python3 - "$T/g/app.log" <<'PY'
import random, sys
random.seed(7)
with open(sys.argv[1], "w") as f:
    for i in range(20000):
        lvl = random.choices(["INFO", "DEBUG", "WARNING", "ERROR", "CRITICAL"], [80, 10, 5, 4, 1])[0]
        f.write("2026-11-26 21:%02d:%02d,%03d %d %s erpdb odoo.addons.sale: order %d state %s\n" % (i // 3600 % 60, i // 60 % 60, i % 1000, 4000 + i % 7, lvl, i, lvl))
        if lvl == "ERROR" and random.random() < 0.5:
            f.write("Traceback (most recent call last):\n  File \"/opt/odoo/x.py\", line 3, in f\nKeyError: 'ERROR CRITICAL'\n")
PY
cat >"$T/g.conf" <<CONF
[log.grep]
paths = $T/g/app.log
preset = odoo
start_at = beginning
CONF
"$PROBE_RUN" "$T/g.conf" log.grep --state "$T/g/state.json" >"$T/g/out.json"
tap_is "error records = grep -c of ERROR header lines" "$(jget "$T/g/out.json" 'j["metrics"]["records"]["error"]')" "$(grep -cE '^[0-9-]+ [0-9:,]+ [0-9]+ ERROR ' "$T/g/app.log")"
tap_is "critical records = grep -c" "$(jget "$T/g/out.json" 'j["metrics"]["records"]["critical"]')" "$(grep -cE '^[0-9-]+ [0-9:,]+ [0-9]+ CRITICAL ' "$T/g/app.log")"
tap_is "continuation lines = grep -vc of header lines" "$(jget "$T/g/out.json" 'j["metrics"]["continuation_lines"]')" "$(grep -vcE '^[0-9]{4}-' "$T/g/app.log")"
tap_done
