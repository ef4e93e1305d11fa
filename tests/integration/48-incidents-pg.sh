#!/bin/bash
# Incidents on PostgreSQL: the incident store cases (tests/unit/test_incidents.c)
# through ERPULSE_TEST_PG_URL (the same cases that run on SQLite), then two
# collectors serving one database: an unacknowledged gold incident escalates
# to L2 once, however many collectors run the escalation pass at once
# (FOR UPDATE SKIP LOCKED, and a primary key per incident event).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/40-collector-ingest.sh"

bin=$O/build/obj/tests/unit/test_incidents
[ -x "$bin" ] || bail "test_incidents not built (make tests)"
pg_start || bail "PostgreSQL did not start"
pg_sql -c "CREATE DATABASE erpulse_incidents" || bail "createdb"
url="postgresql://$PG_SUPERUSER:$PG_SUPERPASS@127.0.0.1:$PGPORT/erpulse_incidents"
if ERPULSE_TEST_PG_URL=$url CMOCKA_MESSAGE_OUTPUT=TAP "$bin" >"$T/out" 2>&1; then
	n=$(grep -c '^ok ' "$T/out")
	tap_ok "incident store on PostgreSQL: $n cases pass"
else
	sed 's/^/#   /' "$T/out" | grep -v '^#   ok' | tail -30
	tap_fail "incident store on PostgreSQL"
fi

pg_sql -c "CREATE DATABASE erpulse_two" || bail "createdb"
url="postgresql://$PG_SUPERUSER:$PG_SUPERPASS@127.0.0.1:$PGPORT/erpulse_two"
HOOK=$T/hook
mkdir -p "$HOOK"
WPORT=$(free_port)
/usr/bin/python3 - "$WPORT" "$HOOK" >"$T/hook.log" 2>&1 <<'PY' &
import http.server, os, sys
port, d = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        n = len(os.listdir(d))
        with open(os.path.join(d, "%03d%s.json" % (n, self.path.replace("/", "_"))), "wb") as f:
            f.write(body)
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
on_exit "kill $!"
wait_for 5 port_open "$WPORT" || bail "webhook receiver did not start"
export ERPULSE_TEST_CLOCK_FILE=$T/clock
echo "+0" >"$ERPULSE_TEST_CLOCK_FILE"
conf=("[store]" "url = $url" "[alerts]" "allow_private_targets = yes" "[incidents]"
	"escalation_interval = 1s" "[tier.gold]" "escalation_l1 = l1" "escalation_l2 = l2"
	"[channel.l1]" "type = generic" "url = http://127.0.0.1:$WPORT/l1"
	"[channel.l2]" "type = generic" "url = http://127.0.0.1:$WPORT/l2")
coll_start c1 "${conf[@]}" || bail "collector 1 did not start"
C1_URL=$COLL_URL
coll_start c2 "${conf[@]}" || bail "collector 2 did not start"
A=$(coll_enroll Acme "$T/ka" erp01) && [ -n "$A" ] || bail "enroll"
coll_cli customer tier Acme gold >/dev/null || bail "tier"
coll_report "$A" 1 '[{"kind":"index_fragmentation","object":"odoo/public.x_idx","value":60,"unit":"%","threshold":30,"severity":"critical","method":"pgstatindex","pages":5000}]' >"$T/r1"
COLL_URL=$C1_URL coll_send "$T/ka" "$A" "$T/r1" | grep -q '^200' || bail "report"
l2() { ls "$HOOK" | grep -c '_l2\.json$'; }
l2_ge() { [ "$(l2)" -ge "$1" ]; }
echo "+1800" >"$ERPULSE_TEST_CLOCK_FILE"
wait_for 20 l2_ge 1
# and two more passes at once from the CLI, while both servers keep running theirs
coll_cli incident escalate >"$T/e1" 2>&1 &
p1=$!
coll_cli incident escalate >"$T/e2" 2>&1 &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
tap_is "two CLI passes beside two servers succeed" "$r1 $r2" "0 0"
tap_is "escalate_l2 recorded once" \
	"$(pg_sql -d erpulse_two -c "SELECT COUNT(*) FROM incident_events WHERE event = 'escalate_l2'")" "1"
tap_is "one L2 notice in the outbox" \
	"$(pg_sql -d erpulse_two -c "SELECT COUNT(*) FROM outbox WHERE channel = 'ch:l2'")" "1"
tap_is "the L2 receiver got it once" "$(l2)" "1"
tap_done
