#!/usr/bin/env python3
"""A fixture month for the monthly report (7x-report.sh, docs/samples/):
November 2026 of one customer in Asia/Shanghai, written into a SQLite store
that `erpulse-collector customer add` and `customer tier` have prepared.
Every figure is fixed so that the report's figures can be asserted:

  now               2026-12-01 02:00 +08:00 (the report runs on the 1st)
  hosts             erp-db-01 (production, score 62, at_risk), erp-app-01 (88,
                    labelled "Odoo app A": the report calls it so)
  fleet_history     customer score per month Jun..Nov: 55 63 68 74 70 62
                    (one row every 6 h; each month's mean is its value)
  score_history     erp-db-01 database category: October 80, November 55
                    (regressed); patches: 70 -> 50; storage 84; errors,
                    liveness 100. erp-app-01: errors 100 -> 80.
  deductions        erp-db-01: security_updates (critical, 4), index
                    sale_order_line_order_id_idx 47.5 % (warning), dead
                    tuples on mail_message, /var/lib/postgresql 86.2 %
                    erp-app-01: log_errors odoo 2.4/min
  samples           twice a day in November: / 40 -> 42.9 %,
                    /var/lib/postgresql 70 -> 86.2 %, the index 20 -> 47.5 %,
                    log errors, security updates 0 until Nov 18, then 4
  forecast          /var/lib/postgresql full in 41.5 days: 12 Jan 2027
  incidents (gold)  #1 index account_move_line_partner_id_idx resolved,
                    verified 62.5 -> 4.5, response 20 min
                    #2 disk /var/log resolved, verified 93.0 -> 61.0, 50 min
                    #3 the sale_order_line index, acknowledged after 45 min
                    #4 security updates, open, not answered
                    #5 closed as a false positive (excluded)
  patches           4 security updates, reboot required, OS EOL 2028-06-30
  signatures        odoo: 3 signatures (count 412, 97, 12)

    report-fixture.py DB CUSTOMER_ID     writes into the SQLite file DB, prints NOW
    report-fixture.py - CUSTOMER_ID      prints the same rows as SQL (for psql)
"""
import json
import sqlite3
import sys
from datetime import datetime, timedelta, timezone

db, cust = sys.argv[1], sys.argv[2]
CST = timezone(timedelta(hours=8))
def ts(y, m, d, h=0, mi=0):
    return int(datetime(y, m, d, h, mi, tzinfo=CST).timestamp())
NOW = ts(2026, 12, 1, 2, 0)
NOV, DEC = ts(2026, 11, 1), ts(2026, 12, 1)
DB_ID, APP_ID = "d" * 32, "a" * 32

def literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (int, float)):
        return repr(v)
    return "'" + str(v).replace("'", "''") + "'"

class Script:
    """The rows as SQL text both stores take (numbers and quoted strings)."""
    def __init__(self):
        self.sql = ["BEGIN;"]
    def execute(self, sql, params=()):
        parts = sql.split("?")
        out = parts[0]
        for p, rest in zip(params, parts[1:]):
            out += literal(p) + rest
        self.sql.append(out + ";")

c = Script()

def category(score):
    return {"weight": 0, "lost": 0, "score": score, "state": "fresh", "stale_since": None}

def deduction(cat, points, sev, value, kind, obj):
    return {"category": cat, "points": points, "full_points": points, "capped": False,
            "severity": sev, "value": value, "kind": kind, "object": obj,
            "reason": "%s %s" % (kind, obj), "remediation": None, "stale": False,
            "stale_since": None}

db_score = {"score": 62, "band": "at_risk", "uncapped_score": 62, "cap": None,
            "unknown_reason": None, "stale_since": None, "top_reason": "security updates",
            "categories": {"database": category(55), "storage": category(84),
                           "errors": category(100), "patches": category(50),
                           "liveness": category(100)},
            "deductions": [
                deduction("patches", 5, "critical", 4, "security_updates", "erp-db-01"),
                deduction("database", 8, "warning", 47.5, "index_fragmentation",
                          "odoo/public.sale_order_line_order_id_idx"),
                deduction("database", 6, "warning", 28, "dead_tuples", "odoo/public.mail_message"),
                deduction("storage", 4, "warning", 86.2, "disk_usage", "/var/lib/postgresql")],
            "omitted": 0}
app_score = {"score": 88, "band": "healthy", "uncapped_score": 88, "cap": None,
             "unknown_reason": None, "stale_since": None, "top_reason": "log errors",
             "categories": {"database": category(100), "storage": category(100),
                            "errors": category(80), "patches": category(100),
                            "liveness": category(100)},
             "deductions": [deduction("errors", 3, "warning", 2.4, "log_errors", "odoo")],
             "omitted": 0}
forecasts = [{"kind": "disk_bytes", "object": "/var/lib/postgresql", "status": "eta",
              "confidence": "high", "days": 41.5}]

for aid, host, score, band, sj, fc in ((DB_ID, "erp-db-01", 62, "at_risk", db_score, forecasts),
                                       (APP_ID, "erp-app-01", 88, "healthy", app_score, [])):
    c.execute("INSERT INTO agents (id, customer_id, hostname, public_key, agent_version,"
              " enrolled_at, last_seq, last_report_at, interval_s, production, score, band,"
              " top_reason) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
              (aid, cust, host, "x", "0.2.0", ts(2026, 5, 1), 2, NOW - 300, 300, 1, score,
               band, sj["top_reason"]))
    c.execute("INSERT INTO agent_analysis (agent_id, score_json, forecasts_json) VALUES (?,?,?)",
              (aid, json.dumps(sj), json.dumps(fc)))

def finding(kind, obj, value, sev, threshold=None, unit="%"):
    return {"kind": kind, "object": obj, "value": value, "unit": unit, "threshold": threshold,
            "severity": sev, "method": "fixture", "message": None, "probe": "fixture"}

db_findings = [
    finding("index_fragmentation", "odoo/public.sale_order_line_order_id_idx", 47.5, "warning", 30),
    finding("index_fragmentation", "odoo/public.stock_move_product_id_idx", 36.0, "warning", 30),
    finding("index_fragmentation", "odoo/public.res_partner_name_idx", 12.0, "info", 30),
    finding("dead_tuples", "odoo/public.mail_message", 28, "warning", 20),
    finding("backup_age", "odoo", 20, "info", 26, "hours"),
    finding("security_updates", "erp-db-01", 4, "critical", 1, "count"),
    finding("reboot_required", "erp-db-01", 1, "warning", None, "bool"),
]
app_findings = [finding("log_errors", "odoo", 2.4, "warning", 1, "records/min")]
c.execute("UPDATE agents SET label = 'Odoo app A' WHERE id = ?", (APP_ID,))
for aid, fs in ((DB_ID, db_findings), (APP_ID, app_findings)):
    c.execute("INSERT INTO current_findings (agent_id, seq, findings) VALUES (?,?,?)",
              (aid, 2, json.dumps(fs)))

def report(host, probes):
    return json.dumps({"schema": "erpulse.report.v1", "host": {"hostname": host},
                       "probes": probes})
patches = {"name": "patches", "status": "ok", "metrics": {
    "security_updates": 4, "pending_updates": 9, "reboot_required": True,
    "os": "Debian GNU/Linux 12", "os_eol": "2028-06-30"}, "findings": []}
logp = {"name": "odoo-log", "status": "ok", "metrics": {"source": "odoo", "top_signatures": [
    {"signature": "psycopg2.OperationalError: could not serialize access due to concurrent update",
     "count": 412, "sample": "..."},
    {"signature": "odoo.addons.stock: Not enough stock for product <N>", "count": 97,
     "sample": "..."},
    {"signature": "werkzeug: Exception on /web/dataset/call_kw", "count": 12, "sample": "..."}]},
    "findings": []}
# codec 0: a plain body (collector/store/codec.h), as an older collector stored it
RAW = "INSERT INTO reports (agent_id, seq, received_at, generated_at, codec, body) VALUES (?,?,?,?,0,?)"
c.execute(RAW, (DB_ID, 2, NOW - 300, NOW - 300, report("erp-db-01", [patches])))
c.execute(RAW, (APP_ID, 2, NOW - 300, NOW - 300, report("erp-app-01", [logp])))

# the customer's score per month, Jun..Nov, one row every 6 hours
monthly = [(6, 55), (7, 63), (8, 68), (9, 74), (10, 70), (11, 62)]
for m, score in monthly:
    t, end = ts(2026, m, 1), ts(2026, m + 1, 1)
    while t < end:
        c.execute("INSERT INTO fleet_history VALUES (?,?,?,?,?,?,?,?)",
                  (cust, t, score, 1, 1, 0, 0, 0))
        t += 6 * 3600

# host category scores, October and November, every 6 hours
for aid, octo, nove in ((DB_ID, (62, 80, 84, 100, 70, 100), (55, 55, 84, 100, 50, 100)),
                        (APP_ID, (95, 100, 100, 100, 100, 100), (88, 100, 100, 80, 100, 100))):
    for start, end, row in ((ts(2026, 10, 1), NOV, octo), (NOV, DEC, nove)):
        t = start
        while t < end:
            c.execute("INSERT INTO score_history VALUES (?,?,?,?,?,?,?,?)",
                      (aid, t) + row)
            t += 6 * 3600

# samples twice a day in November (60 points), linear so the ends are known
N = 60
for i in range(N):
    t = NOV + i * 43200
    f = i / (N - 1)
    rows = [(DB_ID, "disk_usage:/", 40 + 2.9 * f),
            (DB_ID, "disk_usage:/var/lib/postgresql", 70 + 16.2 * f),
            (DB_ID, "index_fragmentation:odoo/public.sale_order_line_order_id_idx", 20 + 27.5 * f),
            (DB_ID, "index_fragmentation:odoo/public.stock_move_product_id_idx", 30 + 6 * f),
            (DB_ID, "security_updates:erp-db-01", 4 if t >= ts(2026, 11, 18) else 0),
            (APP_ID, "log_errors:odoo", 0.5 + (i % 7) * 0.3)]
    for aid, series, v in rows:  # (keyed by the series' id: migration 12)
        c.execute("INSERT INTO series (agent_id, name) VALUES (?,?) ON CONFLICT DO NOTHING",
                  (aid, series))
        c.execute("INSERT INTO samples VALUES ((SELECT id FROM series WHERE agent_id = ? AND"
                  " name = ?),?,?)", (aid, series, t, round(v, 3)))

def incident(id_, aid, rule, obj, sev, state, opened, responded=None, resolved=None,
             before=None, after=None, close_reason=None, closed=None):
    live = 0 if state in ("resolved", "closed") else 1
    c.execute("INSERT INTO incidents (id, customer_id, agent_id, rule, object, severity, state,"
              " live, tier, tier_rank, unit, message, first_opened_at, opened_at, updated_at,"
              " acknowledged_at, responded_at, resolved_at, resolved_by, verified, first_value,"
              " before_value, after_value, closed_at, close_reason) VALUES"
              " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
              (id_, cust, aid, rule, obj, sev, state, live, "gold", 1, "%", rule, opened, opened,
               resolved or responded or opened, responded, responded, resolved,
               "erpulse" if resolved else None, 1 if resolved else 0, before, before, after,
               closed, close_reason))

incident(1, DB_ID, "index_fragmentation", "odoo/public.account_move_line_partner_id_idx",
         "warning", "resolved", ts(2026, 11, 5, 10), ts(2026, 11, 5, 10, 20),
         ts(2026, 11, 5, 13), 62.5, 4.5)
incident(2, DB_ID, "disk_usage", "/var/log", "critical", "resolved", ts(2026, 11, 9, 8),
         ts(2026, 11, 9, 8, 50), ts(2026, 11, 9, 11), 93.0, 61.0)
incident(3, DB_ID, "index_fragmentation", "odoo/public.sale_order_line_order_id_idx",
         "warning", "acknowledged", ts(2026, 11, 20, 9), ts(2026, 11, 20, 9, 45))
incident(4, DB_ID, "security_updates", "erp-db-01", "critical", "open", ts(2026, 11, 25, 14))
incident(5, APP_ID, "log_errors", "odoo", "warning", "closed", ts(2026, 11, 12, 16),
         ts(2026, 11, 12, 16, 10), close_reason="false_positive", closed=ts(2026, 11, 12, 16, 10))
c.sql.append("COMMIT;")
if db == "-":
    print("\n".join(c.sql))
else:
    con = sqlite3.connect(db, timeout=30)
    con.executescript("\n".join(c.sql))
    con.close()
    print(NOW)
