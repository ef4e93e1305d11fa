#!/bin/bash
# No silent zeros from the log probe (issue 10, "Deliver 4"), with the real
# agent on real trytond 6.0 output (tests/fixtures/log/tryton.log, Debian's
# layout, two failing RPCs with tracebacks):
#  - preset odoo on a Tryton log: before, 0 error records, status ok, every
#    line a continuation line; now a log_format_mismatch warning naming the
#    preset and a sample line, and check-config names preset tryton;
#  - /dev/zero as a source: a log_source_unreadable warning, not ok;
#  - a section without a preset: check-config names the preset that fits;
#  - preset tryton: the error records, their exception types in the
#    signatures, a first run from the beginning rated over the records' own
#    times, the rule (warning and critical lines) in the finding;
#  - once --print after a cycle shows the errors written since, and leaves
#    the saved offsets alone: the next cycle sees the same errors.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/40-collector-ingest.sh" # coll_* helpers only

[ -x "$AGENT" ] || bail "no agent binary at $AGENT"
[ -x "$COLLECTOR" ] || bail "no collector binary at $COLLECTOR"

# jget FILE PYEXPR: evaluates PYEXPR with j = the JSON in FILE and
# p(name) = the probe entry of that instance
jget() {
	python3 -c 'import json,sys
j=json.load(open(sys.argv[1]))
def p(n): return [e for e in j["probes"] if e["name"] == n][0]
def kinds(n): return sorted(f["kind"] for f in p(n)["findings"])
def finding(n, k): return [f for f in p(n)["findings"] if f["kind"] == k][0]
print(eval(sys.argv[2]))' "$1" "$2"
}

mkdir -p "$T/tryton" "$T/state"
pki_make "$T/pki" || bail "cannot make the test PKI"
FIX=$SRC/tests/fixtures/log/tryton.log
# 410 lines of real trytond output (the fixture, repeated)
for i in $(seq 7); do cat "$FIX"; done | head -n 410 >"$T/tryton/trytond.log"
errors_in_log=$(grep -c '^[A-Z][a-z][a-z] [A-Z][a-z][a-z] [0-9][0-9] [0-9:]* [0-9]*\] ERROR:' "$T/tryton/trytond.log")

conf() { # conf PRESET: the agent's config with that preset on the Tryton log
	cat >"$T/a.conf" <<EOF
[agent]
state_dir = $T/state
allow_root = yes
jitter = 0
ca_file = $T/pki/ca.pem
[log.tryton]
paths = $T/tryton/trytond.log
preset = $1
start_at = beginning
[log.zero]
paths = /dev/zero
[log.plain]
paths = $T/tryton/trytond.log
EOF
}
aprint() { "$AGENT" --config "$T/a.conf" once --print 2>>"$T/agent.log"; }

# ---- preset odoo on a Tryton log: a mismatch, not a silent zero ----
conf odoo
aprint >"$T/odoo.json"
tap_is "preset odoo: no error record can be counted" "$(jget "$T/odoo.json" 'p("log.tryton")["metrics"]["error_records"]')" 0
tap_is "  ... every line was a continuation line" "$(jget "$T/odoo.json" 'p("log.tryton")["metrics"]["continuation_lines"]')" 410
tap_is "  ... and is now a log_format_mismatch warning beside log_errors" \
	"$(jget "$T/odoo.json" 'kinds("log.tryton")')" "['log_errors', 'log_format_mismatch']"
tap_is "  ... severity warning, 0.0% of lines fit (below 1%)" \
	"$(jget "$T/odoo.json" '(lambda f: (f["severity"], f["value"], f["threshold"], f["direction"]))(finding("log.tryton","log_format_mismatch"))')" \
	"('warning', 0.0, 1.0, 'below')"
tap_like "  ... it names the preset and shows a sample line" \
	"$(jget "$T/odoo.json" 'finding("log.tryton","log_format_mismatch")["message"]')" \
	'^preset odoo does not fit this log: 0 of 410 lines .*"Sun Dec 06 14:00:20 2026\] INFO:server:using log.conf'
tap_is "  ... and the preset that fits" "$(jget "$T/odoo.json" 'finding("log.tryton","log_format_mismatch")["remediation"]')" \
	"Set preset = tryton in [log.tryton] (it fits 65% of the lines)"

# ---- /dev/zero: a finding, not ok ----
tap_is "/dev/zero: status error" "$(jget "$T/odoo.json" 'p("log.zero")["status"]')" error
tap_is "  ... a log_source_unreadable warning naming the path" \
	"$(jget "$T/odoo.json" '(lambda f: (f["severity"], f["object"], f["message"]))(finding("log.zero","log_source_unreadable"))')" \
	"('warning', 'zero:/dev/zero', 'cannot read /dev/zero: not a regular file')"

# ---- check-config samples the log and names the preset that fits ----
out=$("$AGENT" --config "$T/a.conf" check-config 2>&1)
tap_is "check-config: exit 3 (problems)" "$?" 3
tap_like "  ... preset odoo does not fit; preset tryton fits" "$out" \
	"\[log.tryton\]: preset odoo does not fit $T/tryton/trytond.log \(0 of [0-9]+ sampled lines look like its records\); preset tryton fits 6[0-9]% of lines"
tap_like "  ... /dev/zero is not a regular file" "$out" '\[log.zero\]: /dev/zero is not a regular file'

# ---- preset tryton: the errors, typed signatures, first-run rate ----
conf tryton
out=$("$AGENT" --config "$T/a.conf" check-config 2>&1)
tap_like "preset tryton: check-config has only /dev/zero to complain about" "$out" '\[log.tryton\]: ok'
tap_like "  ... and names the preset that fits a section without one" "$out" \
	"\[log.plain\]: ok; no preset or header set, every line of $T/tryton/trytond.log counts as a record; preset tryton fits 6[0-9]% of lines"
aprint >"$T/tryton.json"
tap_is "  ... error records = grep count of ERROR record lines" \
	"$(jget "$T/tryton.json" 'p("log.tryton")["metrics"]["error_records"]')" "$errors_in_log"
tap_is "  ... no mismatch" "$(jget "$T/tryton.json" 'kinds("log.tryton")')" "['log_errors']"
tap_is "  ... signatures carry the traceback's exception type" \
	"$(jget "$T/tryton.json" 'sorted(s["signature"].split("]")[0] for s in p("log.tryton")["metrics"]["top_signatures"])')" \
	"['[KeyError', '[ValueError']"
# the records span 8 s of the fixture: rated over a minute, not 5 minutes
tap_is "  ... first run from the beginning: rated over the records' own times" \
	"$(jget "$T/tryton.json" '(lambda m: (m["rate_basis"], m["interval_s"], m["error_rate_per_min"]))(p("log.tryton")["metrics"])')" \
	"('record_times', 60, $errors_in_log.0)"
tap_is "  ... the finding carries its rule: warning 1, critical 10 records/min, so critical" \
	"$(jget "$T/tryton.json" '(lambda f: (f["threshold"], f["critical_threshold"], f["severity"]))(finding("log.tryton","log_errors"))')" \
	"(1.0, 10.0, 'critical')"

# ---- once --print after a cycle: the next cycle's view, nothing saved ----
export COLL_TLS=1 COLL_CA=$T/pki/ca.pem
coll_start c1 || bail "collector did not start"
coll_cli customer add Acme >/dev/null 2>&1
tok=$(coll_cli token create Acme --uses 1 --expires 1h 2>/dev/null)
"$AGENT" --config "$T/a.conf" enroll --collector "$COLL_URL" --token "$tok" >>"$T/agent.log" 2>&1
tap_is "enrolled" "$?" 0
"$AGENT" --config "$T/a.conf" once 2>>"$T/agent.log"
tap_is "a cycle (once): exit 0" "$?" 0
S=$T/state/probes/log.tryton.json
[ -f "$S" ] || bail "no saved state at $S"
cp "$S" "$T/saved.json"
cat >>"$T/tryton/trytond.log" <<'EOF'
Sun Dec 06 15:10:00 2026] ERROR:trytond.protocols.dispatcher:<class 'trytond.sale.Sale'>.create(...) from admin@10.0.0.7/erp/
Traceback (most recent call last):
  File "/usr/lib/python3/dist-packages/trytond/protocols/dispatcher.py", line 180, in _dispatch
    result = rpc.result(meth(*c_args, **c_kwargs))
psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "sale_sale_number_uniq"
DETAIL:  Key (number)=(SO-4711) already exists.
Sun Dec 06 15:10:01 2026] ERROR:trytond.protocols.dispatcher:<class 'trytond.sale.Sale'>.create(...) from admin@10.0.0.8/erp/
Traceback (most recent call last):
psycopg2.errors.UniqueViolation: duplicate key value violates unique constraint "sale_sale_number_uniq"
Sun Dec 06 15:10:02 2026] INFO:trytond.wsgi:<JSONRequest 1@10.0.0.7 'http://erp/' [POST] model.sale.sale.create>
EOF
aprint >"$T/p1.json"
tap_is "once --print after a cycle: not a first run" "$(jget "$T/p1.json" 'p("log.tryton")["metrics"]["first_run"]')" False
tap_is "  ... shows the 2 errors written since the cycle" "$(jget "$T/p1.json" 'p("log.tryton")["metrics"]["error_records"]')" 2
tap_is "  ... signed with their exception type" \
	"$(jget "$T/p1.json" '[(s["signature"].split("]")[0], s["count"]) for s in p("log.tryton")["metrics"]["top_signatures"]]')" \
	"[('[psycopg2.errors.UniqueViolation', 2)]"
tap_check "  ... and the saved offsets are untouched" cmp "$S" "$T/saved.json"
aprint >"$T/p2.json"
tap_is "a second once --print sees the same 2" "$(jget "$T/p2.json" 'p("log.tryton")["metrics"]["error_records"]')" 2
"$AGENT" --config "$T/a.conf" once 2>>"$T/agent.log"
aprint >"$T/p3.json"
tap_is "after the next cycle (which counted them), once --print shows 0" \
	"$(jget "$T/p3.json" 'p("log.tryton")["metrics"]["error_records"]')" 0
tap_is "the collector stored the cycle that counted them" \
	"$(coll_sql "$T/c1.db" "select count(*) from reports")" 2
tap_done
