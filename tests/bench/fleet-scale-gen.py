#!/usr/bin/env python3
"""fleet-scale-gen: fills an erpulse store (already migrated by the real
collector) with a fleet's state and history by SQL generation, for
tests/bench/fleet-scale.sh (issue 16 item 5, docs/store.md "Fleet scale").

  fleet-scale-gen.py gen   --dialect sqlite --db FILE      [knobs]
  fleet-scale-gen.py gen   --dialect pg     --psql "CMD"   [knobs]   (runs CMD, SQL on stdin)
  fleet-scale-gen.py sizes --dialect sqlite --db FILE
  fleet-scale-gen.py sizes --dialect pg     --psql "CMD"
knobs: --hosts N --customers C --days D --sample-hosts S --now EPOCH --template-id ID
       --retention DAYS --keep-samples DAYS (the windows of the collector's [store])
       --jobs N (PostgreSQL: sessions generating a big history at once; default: the CPUs)

What is generated (and what is not) is listed in TABLES below, the ONE place
to adapt when the schema changes: per table the columns and, per column, an
SQL expression common to SQLite and PostgreSQL (macros in braces, see MACROS).
Raw report bodies are never generated: they come from real signed ingest
(the template hosts, the measured hosts). The template host's stored JSON
(score explanation, forecasts, instances, current findings) is copied into
every generated host, so rows have the real shape and size.
"""
import argparse
import os
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import time

# Row sources: g_<name>(<name>) counts 0..COUNT-1. A table's rows are the
# cross product of its sources, the first outermost (so rows arrive in
# primary-key order: agent ids are hex of the host number).
# Parameters: H hosts, C customers, D days, S sample hosts, NOW, H0 (the
# first hour of the history), SER (series per sampled host).
SERIES = [
    "disk_usage:/var/lib/postgresql",
] + ["index_fragmentation:odoo/public.bench_table_%d_partner_id_index" % i for i in range(7)]

ID32 = "{hex32:n + 1}"  # a host's agent id
SERIES_ID = "1000000000 + s * {SER} + k"  # a sample host's series
BAND = ("CASE WHEN n % 100 < 2 THEN 'unknown' WHEN n % 100 < 10 THEN 'critical'"
        " WHEN n % 100 < 30 THEN 'at_risk' ELSE 'healthy' END")
SCORE = ("CASE WHEN n % 100 < 2 THEN NULL WHEN n % 100 < 10 THEN 20 + n % 40"
         " WHEN n % 100 < 30 THEN 60 + n % 25 ELSE 85 + n % 16 END")
ALERT_OBJ = "'odoo/public.bench_table_' || CAST(n % 7 AS TEXT) || '_partner_id_index'"
ALERT_MSG = ("'Index odoo/public.bench_table_' || CAST(n % 7 AS TEXT) || '_partner_id_index is '"
             " || CAST(40 + n % 50 AS TEXT) || '% fragmented (warning at 30%)'")
ALERT_REM = ("'REINDEX INDEX CONCURRENTLY \"public\".\"bench_table_' || CAST(n % 7 AS TEXT)"
             " || '_partner_id_index\";'")
# open alert: hosts n % 100 in [2, 30) (critical and at-risk); one closed
# alert per host (opened and closed within the history)
OPEN_WHERE = "n % 100 >= 2 AND n % 100 < 30"
OPENED = "{NOW} - 3600 * (1 + n % ({D} * 24 - 1))"

TABLES = [
    ("customers", ["c"], None, {
        "id": "{hex16:c + 1}",
        "name": "'fleet-customer-' || CAST(c AS TEXT)",
        "created_at": "{NOW} - {D} * 86400",
        "tier": "CASE WHEN c % 10 = 0 THEN 'gold' ELSE 'standard' END",
        "language": "CASE WHEN c % 4 = 0 THEN 'zh-CN' ELSE 'en' END",
    }),
    ("agents", ["n"], None, {
        "id": "{hex32:n + 1}",
        "customer_id": "{hex16:n % {C} + 1}",
        "hostname": "'erp-' || CAST(n AS TEXT)",
        "public_key": "(SELECT public_key FROM agents WHERE id = '{TID}')",
        "agent_version": "'0.1.0'",
        "enrolled_at": "{NOW} - {D} * 86400",
        "last_seq": "{D} * 288",
        "last_report_at": "{NOW} - n % 300",  # set again by `touch` before each start
        "interval_s": "300",
        "production": "CASE WHEN n % 20 = 0 THEN 0 ELSE 1 END",
        "score": SCORE,
        "band": BAND,
        "top_reason": "CASE WHEN n % 100 < 30 AND n % 100 >= 2 THEN " + ALERT_MSG + " END",
        "stale_since": "CASE WHEN n % 100 < 2 THEN {NOW} - 7200 END",
        "label": "CASE WHEN n % 3 = 0 THEN 'prod-' || CAST(n % 97 AS TEXT) END",
    }),
    # the wide JSON (migration 10): its own table; hashes 0 = written anew by
    # the host's next report
    ("agent_analysis", ["n"], None, {
        "agent_id": "{hex32:n + 1}",
        "score_json": "(SELECT score_json FROM agent_analysis WHERE agent_id = '{TID}')",
        "forecasts_json": "(SELECT forecasts_json FROM agent_analysis WHERE agent_id = '{TID}')",
        "instances": "(SELECT instances FROM agent_analysis WHERE agent_id = '{TID}')",
    }),
    ("current_findings", ["n"], None, {
        "agent_id": "{hex32:n + 1}",
        "seq": "{D} * 288",
        "findings": "(SELECT findings FROM current_findings WHERE agent_id = '{TID}')",
    }),
    # alerts: the open ones first (ids 1..), then one closed per host
    ("alerts", ["n"], OPEN_WHERE, {
        "agent_id": "{hex32:n + 1}",
        "customer_id": "{hex16:n % {C} + 1}",
        "rule": "'index_fragmentation'",
        "object": ALERT_OBJ,
        "severity": "CASE WHEN n % 100 < 10 THEN 'critical' ELSE 'warning' END",
        "value": "40 + n % 50",
        "message": ALERT_MSG,
        "remediation": ALERT_REM,
        "opened_at": OPENED,
        "updated_at": "{NOW} - n % 300",
    }),
    ("alerts", ["n"], None, {
        "agent_id": "{hex32:n + 1}",
        "customer_id": "{hex16:n % {C} + 1}",
        "rule": "'disk_usage'",
        "object": "'/var/lib/postgresql'",
        "severity": "'warning'",
        "value": "85 + n % 10",
        "message": "'File system /var/lib/postgresql is 91% full (warning at 85%)'",
        "remediation": "'Free space or grow the file system'",
        "opened_at": OPENED + " - 86400",
        "updated_at": OPENED + " - 7200",
        "closed_at": OPENED + " - 7200",
    }),
    ("incidents", ["n"], OPEN_WHERE, {
        "customer_id": "{hex16:n % {C} + 1}",
        "agent_id": "{hex32:n + 1}",
        "rule": "'index_fragmentation'",
        "object": ALERT_OBJ,
        "severity": "CASE WHEN n % 100 < 10 THEN 'critical' ELSE 'warning' END",
        "state": "CASE WHEN n % 3 = 0 THEN 'acknowledged' ELSE 'open' END",
        "live": "1",
        "tier": "CASE WHEN (n % {C}) % 10 = 0 THEN 'gold' ELSE 'standard' END",
        "tier_rank": "CASE WHEN (n % {C}) % 10 = 0 THEN 1 ELSE 3 END",
        "unit": "'%'",
        "message": ALERT_MSG,
        "first_opened_at": OPENED,
        "opened_at": OPENED,
        "updated_at": "{NOW} - n % 300",
        "acknowledged_at": "CASE WHEN n % 3 = 0 THEN " + OPENED + " + 600 END",
        "acknowledged_by": "CASE WHEN n % 3 = 0 THEN 'vera' END",
        "first_value": "40 + n % 50",
        "before_value": "40 + n % 50",
        "breach_at": OPENED + " + 7200",
        "next_event_at": OPENED + " + 7200",
        "triage_at": OPENED + " + 7200",
    }),
    ("incidents", ["n"], None, {
        "customer_id": "{hex16:n % {C} + 1}",
        "agent_id": "{hex32:n + 1}",
        "rule": "'disk_usage'",
        "object": "'/var/lib/postgresql'",
        "severity": "'warning'",
        "state": "'closed'",
        "live": "0",
        "tier": "CASE WHEN (n % {C}) % 10 = 0 THEN 'gold' ELSE 'standard' END",
        "tier_rank": "CASE WHEN (n % {C}) % 10 = 0 THEN 1 ELSE 3 END",
        "unit": "'%'",
        "message": "'File system /var/lib/postgresql is 91% full (warning at 85%)'",
        "first_opened_at": OPENED + " - 86400",
        "opened_at": OPENED + " - 86400",
        "updated_at": OPENED + " - 7200",
        "resolved_at": OPENED + " - 7200",
        "verified": "1",
        "first_value": "91",
        "before_value": "91",
        "after_value": "62",
        "closed_at": OPENED + " - 3600",
        "close_reason": "'resolved'",
    }),
    # the store keeps one row per host and hour (the hour's worst score)
    ("score_history", ["n", "h"], None, {
        "agent_id": "{hex32:n + 1}",
        "ts": "{H0} + h * 3600",
        "score": "60 + (n + h) % 41",
        "cat_database": "70 + h % 31",
        "cat_storage": "80 + n % 21",
        "cat_errors": "100",
        "cat_patches": "90",
        "cat_liveness": "100",
    }),
    ("fleet_history", ["c", "h"], None, {
        "customer_id": "{hex16:c + 1}",
        "ts": "{H0} + h * 3600",
        "score": "40 + (c + h) % 50",
        "healthy": "{H} / {C} * 7 / 10",
        "at_risk": "{H} / {C} / 5",
        "critical": "{H} / {C} / 12",
        "unknown": "{H} / {C} / 50",
        "no_score": "0",
    }),
    ("fleet_history", ["h"], None, {
        "customer_id": "'*'",
        "ts": "{H0} + h * 3600",
        "score": "40",
        "healthy": "{H} * 7 / 10",
        "at_risk": "{H} / 5",
        "critical": "{H} / 12",
        "unknown": "{H} / 50",
        "no_score": "0",
    }),
    # samples: the sample hosts only, every series at sample_interval (10 min)
    # over min(D, keep_samples_days + 1) days; hourly rollups for the days before.
    # Keyed by the series' id (migration 12): ids SERIES_ID, far above the
    # collector's own (the hosts of the empty-store run)
    ("series", ["s", "k"], None, {
        "id": SERIES_ID,
        "agent_id": "{hex32:s + 1}",
        "name": "{series:k}",
    }),
    ("samples", ["s", "k", "i"], None, {
        "series_id": SERIES_ID,
        "ts": "{NOW} - ({SD} * 144 - i) * 600",
        "value": "CASE WHEN k = 0 THEN 41 + i * 0.001 ELSE 8 + k + (i % 144) * 0.01 END",
    }),
    ("rollups", ["s", "k", "r"], None, {
        "series_id": SERIES_ID,
        "hour": "{H0} + r * 3600",
        "n": "6",
        "vsum": "300",
        "vmin": "45",
        "vmax": "55",
    }),
]
# counts of the sources per table
COUNTS = {"c": "{C}", "n": "{H}", "h": "{D} * 24", "s": "{S}", "k": "{SER}", "i": "{SD} * 144",
          "r": "{RD} * 24"}


def macros(dialect):
    if dialect == "sqlite":
        return {"hex16": lambda e: "printf('%%016x', %s)" % e,
                "hex32": lambda e: "printf('%%032x', %s)" % e}
    return {"hex16": lambda e: "lpad(to_hex(%s), 16, '0')" % e,
            "hex32": lambda e: "lpad(to_hex(%s), 32, '0')" % e}


def expand(text, params, dialect):
    """{NAME} parameters, {hex16:EXPR} {hex32:EXPR} {series:EXPR} macros."""
    m = macros(dialect)
    out, i = "", 0
    while i < len(text):
        if text[i] != "{":
            out += text[i]
            i += 1
            continue
        depth, j = 1, i + 1
        while depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        inner = text[i + 1:j - 1]
        if ":" in inner:
            name, arg = inner.split(":", 1)
            arg = expand(arg, params, dialect)
            if name == "series":
                out += "CASE " + arg + " " + " ".join(
                    "WHEN %d THEN '%s'" % (k, s) for k, s in enumerate(SERIES)) + " END"
            else:
                out += m[name](arg)
        else:
            out += str(params[inner])
        i = j
    return out


def statement(table, sources, where, cols, params, dialect, chunk=None):
    """INSERT ... SELECT over the sources; chunk=(lo, hi) limits the first
    source to [lo, hi)."""
    names = list(cols)
    # a host's id is computed once per host, not once per row of its history
    # (materialized below): half the generation time of score_history
    hoist = sources[0] == "n" and len(sources) > 1
    exprs = [("id32" if hoist and cols[c] == ID32 else expand(cols[c], params, dialect)) for c in names]
    counts = [expand(COUNTS[s], params, dialect) for s in sources]
    bounds = []
    for k, s in enumerate(sources):
        lo, hi = ("0", counts[k]) if k or not chunk else (str(chunk[0]), str(chunk[1]))
        bounds.append((s, lo, hi))
    cond = expand(where, params, dialect) if where else None
    ins = "INSERT INTO %s (%s) SELECT %s" % (table, ", ".join(names), ", ".join(exprs))
    hexid = expand(ID32, params, dialect)
    if dialect == "sqlite":
        # every source materialized once (the inner ones are re-read per
        # outer row rather than recomputed by the recursive CTE)
        ctes = ", ".join("r_%s(%s) AS (SELECT %s UNION ALL SELECT %s + 1 FROM r_%s WHERE %s < (%s) - 1),"
                         " g_%s AS MATERIALIZED (SELECT %s%s FROM r_%s)"
                         % (s, s, lo, s, s, s, hi, s, s, ", %s AS id32" % hexid if hoist and not k else "", s)
                         for k, (s, lo, hi) in enumerate(bounds))
        frm = " CROSS JOIN ".join("g_%s" % s for s, _, _ in bounds)
        sql = "WITH RECURSIVE %s %s FROM %s" % (ctes, ins, frm)
    else:
        # LATERAL with a reference to the outer source keeps the loop order
        parts = []
        for k, (s, lo, hi) in enumerate(bounds):
            ref = " + 0 * %s" % bounds[k - 1][0] if k else ""
            src = "generate_series(%s, (%s) - 1%s)" % (lo, hi, ref)
            if hoist and not k:
                parts.append("(SELECT %s, %s AS id32 FROM %s AS r_%s(%s)) AS g_%s" % (s, hexid, src, s, s, s))
            else:
                parts.append("%s%s AS g_%s(%s)" % ("CROSS JOIN LATERAL " if k else "", src, s, s))
        sql = "%s FROM %s" % (ins, " ".join(parts))
    if cond:
        sql += " WHERE " + cond
    return sql


def plan(args):
    """(label, rows estimate, [statements]) per generated table, for one dialect."""
    # the steady state of the windows: raw samples over keep_samples_days
    # full days and today, hourly rollups for the days before them
    # (at least one day of rollups, for their bytes per row)
    sd = max(1, min(args.days - 1, args.keep_samples + 1))
    p = {"H": args.hosts, "C": args.customers, "D": args.days, "S": args.sample_hosts,
         "SER": len(SERIES), "SD": sd, "RD": args.days - sd, "NOW": args.now,
         # the history ends two hours before now: the hours the collector
         # itself wrote (the empty-store run, a minute ago) are its own
         "H0": (args.now - args.now % 3600) - (args.days * 24 + 1) * 3600, "TID": args.template_id}
    out = []
    for table, sources, where, cols in TABLES:
        n = 1
        for s in sources:
            n *= eval(expand(COUNTS[s], p, "sqlite"))  # plain integer arithmetic
        if n <= 0:
            continue
        stmts = []
        step = 2000 if len(sources) > 1 and sources[0] == "n" else None
        if step:
            first = eval(expand(COUNTS[sources[0]], p, "sqlite"))
            for lo in range(0, first, step):
                stmts.append(statement(table, sources, where, cols, p, args.dialect,
                                       (lo, min(first, lo + step))))
        else:
            stmts.append(statement(table, sources, where, cols, p, args.dialect))
        out.append((table, n, stmts))
    return out


# ---- running ----------------------------------------------------------------

def lite_indexes(db, table):
    return [r for r in db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                                  " AND tbl_name = ? AND sql IS NOT NULL", (table,))]


def gen_sqlite(args, steps):
    db = sqlite3.connect(args.db, isolation_level=None)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -1000000")
    db.execute("PRAGMA temp_store = MEMORY")
    for table, n, stmts in steps:
        t0 = time.time()
        # secondary indexes are built once after the rows are in (sorted), as
        # a restore would; the primary key takes the rows in order
        idx = lite_indexes(db, table)
        db.execute("BEGIN")
        for name, _ in idx:
            db.execute('DROP INDEX "%s"' % name)
        for s in stmts:
            db.execute(s)
        for _, sql in idx:
            db.execute(sql)
        db.execute("COMMIT")
        log("%-16s %12d rows  %6.1f s" % (table, n, time.time() - t0))
    t0 = time.time()
    db.execute("PRAGMA analysis_limit = 1000")  # sampled statistics: minutes less at 30 days
    db.execute("ANALYZE")
    db.execute("PRAGMA journal_mode = WAL")
    db.close()
    log("%-16s %12s       %6.1f s" % ("ANALYZE", "", time.time() - t0))


# (definitions on one line: an expression index's has line breaks)
PG_INDEXES = ("SELECT i.indexname, replace(i.indexdef, chr(10), ' ') FROM pg_indexes i WHERE i.tablename = '%s'"
              " AND i.schemaname = current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint k"
              " WHERE k.conname = i.indexname)")


def psql(args, sql, capture=False):
    r = subprocess.run(args.psql, shell=True, input=sql, text=True,
                       stdout=subprocess.PIPE if capture else None)
    if r.returncode != 0:
        sys.exit("fleet-scale-gen: psql failed")
    return r.stdout


def parallel(args, scripts):
    """Each script (a list of statements) in its own psql at once."""
    with tempfile.TemporaryDirectory() as d:
        procs = []
        for k, script in enumerate(scripts):
            path = os.path.join(d, "part-%d.sql" % k)
            with open(path, "w") as f:
                f.write("\n".join(script) + "\n")
            procs.append(subprocess.Popen("%s < %s" % (args.psql, shlex.quote(path)), shell=True))
        if any([p.wait() != 0 for p in procs]):  # (every one waited for)
            sys.exit("fleet-scale-gen: psql failed")


# the primary key of a history table (no foreign key points at it) is
# dropped and added back after the rows, as pg_restore does
PG_KEYS = ("SELECT k.conname, replace(pg_get_constraintdef(k.oid), chr(10), ' ') FROM pg_constraint k WHERE"
           " k.conrelid = '\"%s\"'::regclass AND k.contype = 'p' AND NOT EXISTS (SELECT 1"
           " FROM pg_constraint f WHERE f.confrelid = k.conrelid)")


# a range or list partitioned table (migration 6 and later) gets a default
# partition when it has none, for the history older than the partitions
# the collector made; the log says so
PG_DEFAULT = ("SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid"
              " WHERE c.relname = '%s' AND p.partstrat IN ('r', 'l') AND p.partdefid = 0")


def gen_pg(args, steps):
    for table, n, stmts in steps:
        t0 = time.time()
        if psql(args, PG_DEFAULT % table, True).strip():
            psql(args, 'CREATE TABLE "%s_bench_default" PARTITION OF "%s" DEFAULT;' % (table, table))
            log("%-16s partitioned: rows outside its partitions go to %s_bench_default"
                % (table, table))
        idx = [line.split("|", 1) for line in psql(args, PG_INDEXES % table, True).splitlines()
               if "|" in line]
        keys = [line.split("|", 1) for line in psql(args, PG_KEYS % table, True).splitlines()
                if "|" in line] if len(stmts) > 1 or n > 1000000 else []
        head = ["SET synchronous_commit = off;", "SET maintenance_work_mem = '512MB';",
                "SET statement_timeout = 0;"]
        drop = ['DROP INDEX "%s";' % name for name, _ in idx]
        drop += ['ALTER TABLE "%s" DROP CONSTRAINT "%s";' % (table, name) for name, _ in keys]
        add = ['ALTER TABLE "%s" ADD CONSTRAINT "%s" %s;' % (table, name, d) for name, d in keys]
        add += [d + ";" for _, d in idx]
        if len(stmts) >= 2 * args.jobs > 2:
            # a big history: its chunks in --jobs sessions at once, each its
            # own transaction, between dropping the keys and adding them back
            psql(args, "\n".join(head + ["BEGIN;"] + drop + ["COMMIT;"]))
            parallel(args, [head + ["BEGIN;"] + [s + ";" for s in stmts[j::args.jobs]] + ["COMMIT;"]
                            for j in range(args.jobs)])
            psql(args, "\n".join(head + ["BEGIN;"] + add + ["COMMIT;"]))
        else:
            psql(args, "\n".join(head + ["BEGIN;"] + drop + [s + ";" for s in stmts] + add + ["COMMIT;"]))
        log("%-16s %12d rows  %6.1f s" % (table, n, time.time() - t0))
    # the generated series took ids of their own: the sequence past them
    psql(args, "SELECT setval(pg_get_serial_sequence('series', 'id'), MAX(id)) FROM series;", True)
    t0 = time.time()
    psql(args, "VACUUM (ANALYZE);")
    log("%-16s %12s       %6.1f s" % ("VACUUM ANALYZE", "", time.time() - t0))


def log(msg):
    print("gen     " + msg, flush=True)


# ---- sizes ------------------------------------------------------------------

# the series of a sampled host (the first generated one)
SERIES_PER_HOST = ("SELECT COUNT(*) FROM series x WHERE x.agent_id = '%032x' AND EXISTS"
                   " (SELECT 1 FROM samples s WHERE s.series_id = x.id)" % 1)


def sizes_sqlite(args):
    db = sqlite3.connect(args.db)
    owner = dict(db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"))
    total = {}
    for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
        t = owner.get(name, name)
        total[t] = total.get(t, 0) + size
    for t in sorted(total):
        if t.startswith("sqlite_"):
            continue
        rows = db.execute('SELECT COUNT(*) FROM "%s"' % t).fetchone()[0]
        print("size %s %d %d" % (t, rows, total[t]))
    print("size _file %d %d" % (0, os.path.getsize(args.db)))
    print("size _series 0 %d" % db.execute(SERIES_PER_HOST).fetchone()[0])


def sizes_pg(args):
    # a partitioned table (migration 6 and later) counts its partitions
    q = ("SELECT c.relname, CASE WHEN c.relkind = 'p' THEN (SELECT COALESCE(SUM("
         "pg_total_relation_size(p.relid)), 0) FROM pg_partition_tree(c.oid) p) ELSE"
         " pg_total_relation_size(c.oid) END FROM pg_class c WHERE c.relkind IN ('r', 'p')"
         " AND c.relnamespace = current_schema()::regnamespace AND NOT c.relispartition"
         " ORDER BY c.relname")
    tables = [line.split("|") for line in psql(args, q, True).splitlines() if "|" in line]
    counts = psql(args, "SELECT " + ", ".join("(SELECT COUNT(*) FROM \"%s\")" % t
                                              for t, _ in tables), True).strip().split("|")
    for (t, size), rows in zip(tables, counts):
        print("size %s %s %s" % (t, rows, size))
    print("size _file 0 %s" % psql(args, "SELECT pg_database_size(current_database())", True).strip())
    print("size _series 0 %s" % psql(args, SERIES_PER_HOST, True).strip())


def touch(args):
    """The generated hosts' last report: within 5 minutes before --now (the
    caller passes a time past its measurement window, so that the dead-man
    sweep sees an active fleet throughout)."""
    sql = "UPDATE agents SET last_report_at = %d WHERE hostname LIKE 'erp-%%'" % args.now
    if args.dialect == "sqlite":
        db = sqlite3.connect(args.db, timeout=60)
        db.execute(sql)
        db.commit()
    else:
        psql(args, sql + ";")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["gen", "sizes", "sql", "touch"])
    ap.add_argument("--dialect", choices=["sqlite", "pg"], required=True)
    ap.add_argument("--db")
    ap.add_argument("--psql", help="a psql command line reading SQL on stdin (-qAt)")
    ap.add_argument("--hosts", type=int, default=100000)
    ap.add_argument("--customers", type=int, default=0)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--retention", type=int, default=30)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                    help="PostgreSQL: sessions generating a big history at once")
    ap.add_argument("--keep-samples", type=int, default=2, help="[store] keep_samples_days")
    ap.add_argument("--sample-hosts", type=int, default=200)
    ap.add_argument("--now", type=int, default=int(time.time()))
    ap.add_argument("--template-id", default="")
    args = ap.parse_args()
    if args.customers <= 0:
        args.customers = max(1, args.hosts // 50)
    args.sample_hosts = min(args.sample_hosts, args.hosts)
    if args.what == "touch":
        return touch(args)
    if args.what == "sizes":
        return sizes_sqlite(args) if args.dialect == "sqlite" else sizes_pg(args)
    steps = plan(args)
    if args.what == "sql":
        for _, _, stmts in steps:
            print(";\n".join(stmts) + ";")
        return 0
    return gen_sqlite(args, steps) if args.dialect == "sqlite" else gen_pg(args, steps)


if __name__ == "__main__":
    sys.exit(main())
