#!/bin/bash
# Store bytes per host-day (issue 16 item 2, target <= 100 KiB at a 5-minute
# interval INCLUDING samples, findings and history), before (BEFORE_REF,
# default main: every raw body kept as text for retention_days) and after
# (this tree: zstd bodies, every one kept keep_raw_days, then one per host
# and day), on SQLite and on PostgreSQL, side by side with the issue's
# figures (5.0-6.6 KB per report, ~1.4-1.9 MB per host-day).
#
# The report body is real: `erpulse-agent once --print` on this host with
# disk, an ERP PostgreSQL database (fragmented indexes, pgstattuple), an
# ERP log, the journal and patches on. tests/bench/store-size (built from
# each tree) then ingests HOSTS hosts x DAYS days of it every INTERVAL
# seconds through the store's ingest path and analysis, with retention at
# each day's end, and the tables' bytes are read from the store (SQLite:
# dbstat; PostgreSQL: pg_total_relation_size of every table and partition).
#
# Per host-day at steady state (retention_days R = 30, raw window W days):
#   raw bodies  = raw bytes per host-day x (W + 1) / R   (today is raw too)
#   daily       = one body per host and day, kept R - W - 1 of R days
#   samples     = samples bytes per host-day (kept R days, then rollups)
#   rest        = findings, score history, alerts, events, agents ... per host-day
# Before: everything per host-day (every raw body is kept R days).
#
#   HOSTS=4 DAYS=5 INTERVAL=300 KEEP_RAW=2 BEFORE_REF=main tests/bench/store-size.sh
# BODY_OUT=FILE keeps a copy of the agent's report, BODY_IN=FILE uses one
# instead of running the agent, BEFORE_TOOL=PATH a store-size built from the
# "before" tree, STORES="sqlite" or "pg" measures one store only.
# Figures, not a test: exits non-zero only when it could not measure.
. "$(dirname "$0")/../integration/lib.sh"

HOSTS=${HOSTS:-4}
DAYS=${DAYS:-5}
INTERVAL=${INTERVAL:-300}
KEEP_RAW=${KEEP_RAW:-2}
BEFORE_REF=${BEFORE_REF:-main}
R=30
die() { echo "store-size: $*" >&2; exit 1; }
TOOL=$O/build/obj/tests/bench/store-size
[ -x "$TOOL" ] || die "no $TOOL (make tests/bench or make bench)"
[ -x "$AGENT" ] || die "no $AGENT (make)"
[ "$DAYS" -gt $((KEEP_RAW + 1)) ] || die "DAYS must exceed KEEP_RAW + 1 (daily bodies are measured)"

STORES=${STORES:-sqlite pg}
pg_start || die "PostgreSQL did not start"
# ---- a real report -----------------------------------------------------------
if [ -n "${BODY_IN:-}" ]; then
	cp "$BODY_IN" "$T/body.json" || die "no $BODY_IN"
else
MONPW="mon-$RANDOM$RANDOM"
pg_sql -c "CREATE DATABASE odoo" >/dev/null || die "createdb"
pg_sql -c "CREATE ROLE erpulse_monitor LOGIN PASSWORD '$MONPW'; GRANT pg_monitor TO erpulse_monitor" >/dev/null ||
	die "create role"
# an ERP-shaped database: a few large tables whose indexes carry dead space
pg_sql -d odoo >/dev/null <<'SQL' || die "build the ERP tables"
CREATE EXTENSION pgstattuple;
CREATE TABLE account_move_line (id bigserial PRIMARY KEY, move_id bigint, account_id int, partner_id int, date date, debit numeric, credit numeric);
CREATE TABLE stock_move (id bigserial PRIMARY KEY, product_id int, location_id int, state text, date timestamp);
CREATE TABLE sale_order_line (id bigserial PRIMARY KEY, order_id int, product_id int, qty numeric);
INSERT INTO account_move_line (move_id, account_id, partner_id, date, debit, credit)
  SELECT g / 3, g % 97, g % 1013, DATE '2024-01-01' + g % 700, g % 1000, 0 FROM generate_series(1, 120000) g;
INSERT INTO stock_move (product_id, location_id, state, date)
  SELECT g % 5000, g % 40, CASE WHEN g % 3 = 0 THEN 'done' ELSE 'assigned' END, now() - g * interval '1 minute' FROM generate_series(1, 80000) g;
INSERT INTO sale_order_line (order_id, product_id, qty) SELECT g / 5, g % 5000, g % 17 FROM generate_series(1, 60000) g;
CREATE INDEX aml_move ON account_move_line (move_id);
CREATE INDEX aml_account_date ON account_move_line (account_id, date);
CREATE INDEX aml_partner ON account_move_line (partner_id);
CREATE INDEX sm_product ON stock_move (product_id);
CREATE INDEX sm_state ON stock_move (state, date);
CREATE INDEX sol_order ON sale_order_line (order_id);
DELETE FROM account_move_line WHERE id % 100 < 55;
DELETE FROM stock_move WHERE id % 10 < 4;
VACUUM ANALYZE;
SQL
printf '%s\n' "2026-12-06 02:00:01,000 42 ERROR odoo odoo.sql_db: bad query: SELECT 1" \
	"2026-12-06 02:00:02,000 42 WARNING odoo odoo.http: slow request" \
	"2026-12-06 02:00:03,000 42 INFO odoo odoo.modules: loading" >"$T/odoo.log"
cat >"$T/agent.conf" <<CONF
[agent]
state_dir = $T/state
jitter = 0
allow_root = yes
probe_timeout = 60
log_level = warning

[disk]

[postgres.erp]
conninfo = host=127.0.0.1 port=$PGPORT user=erpulse_monitor password=$MONPW dbname=odoo
databases = odoo
min_index_pages = 100

[log.odoo]
paths = $T/odoo.log
preset = odoo

[journal]

[patches]
CONF
"$AGENT" --config "$T/agent.conf" once --print >"$T/body.json" 2>"$T/agent.err"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/body.json" 2>/dev/null ||
	die "no report from the agent: $(tail -3 "$T/agent.err")"
fi
[ -z "${BODY_OUT:-}" ] || cp "$T/body.json" "$BODY_OUT"
BODY=$(wc -c <"$T/body.json")
PROBES=$(python3 -c 'import json,sys; print(" ".join(p["name"] for p in json.load(open(sys.argv[1]))["probes"]))' "$T/body.json")

# ---- the tool built from the "before" tree -----------------------------------
BTOOL=${BEFORE_TOOL:-$T/before/build/obj/tests/bench/store-size}
if [ -z "${BEFORE_TOOL:-}" ]; then
	mkdir -p "$T/before"
	git -C "$SRC" archive "$BEFORE_REF" | tar -x -C "$T/before" || die "git archive $BEFORE_REF"
	cp "$SRC/tests/bench/store-size.c" "$T/before/tests/bench/"
	make -s -C "$T/before" -j2 build/obj/tests/bench/store-size >"$T/before.log" 2>&1 ||
		die "cannot build $BEFORE_REF: $(tail -3 "$T/before.log")"
fi

# ---- measure -------------------------------------------------------------------
# bytes by group: raw daily samples rest total (one line)
lite_bytes() {
	python3 - "$1" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
owner = {n: t for n, t in c.execute("SELECT name, tbl_name FROM sqlite_master")}
g = {"raw": 0, "daily": 0, "samples": 0, "rest": 0}
for name, size in c.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
    t = owner.get(name, name)
    k = "daily" if t == "reports_daily" else "raw" if t == "reports" else "samples" if t == "samples" else "rest"
    g[k] += size
print(g["raw"], g["daily"], g["samples"], g["rest"], sum(g.values()))
PY
}
pg_bytes() {
	pg_sql -d "$1" -F' ' -c "VACUUM" -c "
	SELECT COALESCE(SUM(b) FILTER (WHERE g = 'raw'), 0), COALESCE(SUM(b) FILTER (WHERE g = 'daily'), 0),
	       COALESCE(SUM(b) FILTER (WHERE g = 'samples'), 0), COALESCE(SUM(b) FILTER (WHERE g = 'rest'), 0), SUM(b)
	FROM (SELECT pg_total_relation_size(c.oid) AS b,
	             CASE WHEN c.relname LIKE 'reports\_daily%' THEN 'daily'
	                  WHEN c.relname LIKE 'reports%' THEN 'raw'
	                  WHEN c.relname LIKE 'samples%' THEN 'samples' ELSE 'rest' END AS g
	      FROM pg_class c WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace) x"
}
n=0
run() { # run LABEL TOOL STORE(sqlite|pg)
	local label=$1 tool=$2 kind=$3 url out b
	n=$((n + 1))
	if [ "$kind" = sqlite ]; then
		url="sqlite://$T/s$n.db"
	else
		pg_sql -c "CREATE DATABASE s$n" >/dev/null || die "createdb"
		url="postgresql://$PG_SUPERUSER:$PG_SUPERPASS@127.0.0.1:$PGPORT/s$n"
	fi
	out=$("$tool" "$url" "$T/body.json" "$HOSTS" "$DAYS" "$INTERVAL" "$KEEP_RAW") || die "$label $kind: $out"
	if [ "$kind" = sqlite ]; then b=$(lite_bytes "$T/s$n.db"); else b=$(pg_bytes "s$n"); fi
	echo "$label $kind $out $b"
}
for kind in $STORES; do
	run before "$BTOOL" "$kind" || exit 1
	run after "$TOOL" "$kind" || exit 1
done >"$T/runs"

python3 - "$T/runs" "$HOSTS" "$DAYS" "$KEEP_RAW" "$R" "$BODY" "$INTERVAL" "$PROBES" <<'PY'
import sys
runs, H, D, W, R, body, iv, probes = sys.argv[1], *map(int, sys.argv[2:8]), sys.argv[8]
per_day = 86400 // iv
print(f"store bytes per host-day: {H} hosts x {D} days, a report every {iv} s ({per_day}/day),")
print(f"real agent report of {body} B ({probes}); retention_days {R}, keep_raw_days {W}")
print()
print(f"{'store':8} {'tree':7} {'raw bodies':>11} {'daily':>8} {'samples':>9} {'rest':>8} {'KiB/host-day':>13} {'B/report':>9} {'CPU us/rep':>10}  target <= 100 KiB")
for line in open(runs):
    f = line.split()
    label, kind = f[0], f[1]
    kv = dict(zip(f[2:8:2], f[3:8:2]))
    raw, daily, samples, rest, total = map(int, f[8:13])
    hd = H * D
    if label == "before":  # every body kept R days: what one host-day costs
        raw_hd, daily_hd = raw / hd, 0.0
    else:
        raw_hd = raw / (H * W) * (W + 1) / R
        daily_hd = daily / (H * (D - W - 1)) * (R - W - 1) / R if D > W + 1 else 0.0
    s_hd, rest_hd = samples / hd, rest / hd
    tot = raw_hd + daily_hd + s_hd + rest_hd
    per_rep = tot / per_day
    ok = "met" if tot <= 100 * 1024 else "NOT met"
    print(f"{kind:8} {label:7} {raw_hd/1024:9.1f}Ki {daily_hd/1024:6.1f}Ki {s_hd/1024:7.1f}Ki {rest_hd/1024:6.1f}Ki {tot/1024:13.1f} {per_rep:9.0f} {float(kv['cpu_us_per_report']):10.0f}  {ok}")
print()
print("issue 16 (before, 10,000-host fleet-scale store): 5.0-6.6 KB per report, ~1.4-1.9 MB per host-day")
print("(raw bodies while raw, per host-day written: see the 'raw' column of 'before' for the uncompressed text)")
PY
