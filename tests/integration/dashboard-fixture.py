#!/usr/bin/env python3
"""A fixture history for the dashboard tests (70-dashboard-series.sh,
71-dashboard-chromium.sh): writes hourly rows into a SQLite store so that the
history API and the charts have 30 days to show. Values are simple functions
of the hour index i (0 = oldest) so tests can predict them:

  score_history   host A: score 90 - i % 7 (the last hour: 90 - 719 % 7 = 85)
                  categories: database 80, storage 70 + i % 3, errors 100,
                  patches 90, liveness 100
  samples         host A, last 14 days hourly (i = 0..335):
                  disk_usage:/            60 + i / 24      (last: 73.958)
                  index_fragmentation:odoo/public.sale_order_line_order_id_idx
                                           20 + i / 10      (last: 53.5)
                  log_errors:odoo          i % 5
                  security_updates:host    3 + i // 100     (last: 6)
  rollups         host A, disk_usage:/ days 15..30 ago: n = 6, vsum = 6 * 50
  fleet_history   each customer of the store: healthy 2, at_risk 1 + i % 2,
                  critical 0, unknown 0, no_score 0, score 70 + i % 5; and
                  the fleet's row ("*"): the sums

    dashboard-fixture.py DB AGENT_ID NOW
"""
import sqlite3
import sys

db, agent, now = sys.argv[1], sys.argv[2], int(sys.argv[3])
hour = now - now % 3600
c = sqlite3.connect(db, timeout=30)
c.execute("BEGIN IMMEDIATE")
N = 720
for i in range(N):
    ts = hour - (N - 1 - i) * 3600
    c.execute("INSERT OR REPLACE INTO score_history VALUES (?,?,?,?,?,?,?,?)",
              (agent, ts, 90 - i % 7, 80, 70 + i % 3, 100, 90, 100))
    custs = c.execute("SELECT id FROM customers").fetchall()
    for (cust,) in custs:
        c.execute("INSERT OR REPLACE INTO fleet_history VALUES (?,?,?,?,?,?,?,?)",
                  (cust, ts, 70 + i % 5, 2, 1 + i % 2, 0, 0, 0))
    n = len(custs)  # the whole fleet's row, as the maintenance thread writes it
    c.execute("INSERT OR REPLACE INTO fleet_history VALUES (?,?,?,?,?,?,?,?)",
              ("*", ts, 70 + i % 5, 2 * n, (1 + i % 2) * n, 0, 0, 0))
def series_id(name):
    """The id of the host's series (history is keyed by it: migration 12)."""
    c.execute("INSERT OR IGNORE INTO series (agent_id, name) VALUES (?,?)", (agent, name))
    return c.execute("SELECT id FROM series WHERE agent_id = ? AND name = ?",
                     (agent, name)).fetchone()[0]


M = 336
for i in range(M):
    ts = hour - (M - 1 - i) * 3600
    for series, v in (("disk_usage:/", 60 + i / 24),
                      ("index_fragmentation:odoo/public.sale_order_line_order_id_idx", 20 + i / 10),
                      ("log_errors:odoo", i % 5),
                      ("security_updates:host", 3 + i // 100)):
        c.execute("INSERT OR REPLACE INTO samples VALUES (?,?,?)", (series_id(series), ts, v))
for d in range(15, 31):
    for h in range(24):
        ts = hour - d * 86400 + h * 3600
        c.execute("INSERT OR REPLACE INTO rollups VALUES (?,?,?,?,?,?)",
                  (series_id("disk_usage:/"), ts - ts % 3600, 6, 300.0, 49.0, 51.0))
c.commit()
