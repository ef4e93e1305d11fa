#!/bin/bash
# The log probe's postgresql preset on the log of a real PostgreSQL 15
# (lib.sh's pg_start: log_line_prefix '%m [%p] %u@%d '): failing statements
# of several kinds, a multi-line one, warnings and a FATAL login failure
# are counted as records of the right level, their STATEMENT/DETAIL lines
# and the statement text continue the record, and the counts equal an
# independent grep -c of the new part of the log.
. "$(dirname "$0")/lib.sh"

PROBE_RUN=$TOOLS/probe_run
[ -x "$PROBE_RUN" ] || bail "probe_run not built ($PROBE_RUN): run make tests"
jget() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

pg_start || bail "pg_start"
chmod 755 "$(dirname "$PG_LOG")"
chmod 644 "$PG_LOG"
cat >"$T/agent.conf" <<CONF
[log.pg]
paths = $PG_LOG
preset = postgresql
CONF
cycle() { "$PROBE_RUN" "$T/agent.conf" log.pg --state "$T/state.json" >"$T/out.json" 2>"$T/err.txt"; }

cycle # first run: starts at the end of what the server logged so far
tap_is "first run counts nothing old" "$(jget "$T/out.json" 'j["metrics"]["error_records"]')" 0
from=$(stat -c %s "$PG_LOG")

# 5 division errors, 3 unique violations, 2 syntax errors (one statement on
# three lines), 2 warnings, 1 FATAL (unknown database)
pg_sql -c "CREATE TABLE t (id int PRIMARY KEY)" -c "INSERT INTO t VALUES (1)"
for i in 1 2 3 4 5; do pg_sql -c "SELECT $i / 0" 2>/dev/null; done
for i in 1 2 3; do pg_sql -c "INSERT INTO t VALUES (1)" 2>/dev/null; done
pg_sql -c "SELEC 1" 2>/dev/null
printf 'SELECT 1\nFROM\nWHERE;\n' | pg_sql 2>/dev/null
pg_sql -c "DO \$\$ BEGIN RAISE WARNING 'low disk %', 42; END \$\$" 2>/dev/null
pg_sql -c "DO \$\$ BEGIN RAISE WARNING 'password=hunter2 in a message'; END \$\$" 2>/dev/null
"$PG_BIN/psql" -X -q -h "$PGHOST" -p "$PGPORT" -U "$PG_SUPERUSER" -d nope -c 'SELECT 1' 2>/dev/null
sleep 0.5 # the server writes its log asynchronously
cycle
new=$(tail -c +$((from + 1)) "$PG_LOG")
tap_is "status ok" "$(jget "$T/out.json" 'j["status"]')" ok
tap_is "error records = failing statements" "$(jget "$T/out.json" 'j["metrics"]["records"]["error"]')" 10
tap_is "... = grep -c ' ERROR:  ' of the new log lines" "$(jget "$T/out.json" 'j["metrics"]["records"]["error"]')" "$(grep -c ' ERROR:  ' <<<"$new")"
tap_is "FATAL is critical (1)" "$(jget "$T/out.json" 'j["metrics"]["records"]["critical"]') $(grep -c ' FATAL:  ' <<<"$new")" "1 1"
tap_is "warnings (2)" "$(jget "$T/out.json" 'j["metrics"]["records"]["warning"]') $(grep -c ' WARNING:  ' <<<"$new")" "2 2"
tap_is "STATEMENT/DETAIL/CONTEXT lines and statement text continue their record" \
	"$(jget "$T/out.json" 'j["metrics"]["continuation_lines"]')" \
	"$(grep -cvE '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+ [A-Z]+ \[[0-9]+\] [^ ]* ?(LOG|ERROR|WARNING|FATAL|PANIC|NOTICE|INFO|DEBUG[1-5]):  ' <<<"$new")"
tap_is "top signature: the division" "$(jget "$T/out.json" '(j["metrics"]["top_signatures"][0]["signature"], j["metrics"]["top_signatures"][0]["count"])')" "('division by zero', 5)"
tap_is "no secret in any sample or signature" "$(jget "$T/out.json" 'any("hunter2" in s["sample"] + s["signature"] for s in j["metrics"]["top_signatures"])')" False
cycle
tap_is "next cycle: nothing twice" "$(jget "$T/out.json" 'j["metrics"]["error_records"]')" 0
tap_done
