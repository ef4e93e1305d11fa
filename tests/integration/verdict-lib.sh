# Helpers for the verdict scenarios (tests/integration/6x-verdict-*.sh,
# issue 10): a real collector (SQLite, or PostgreSQL with V_PG=1), a webhook
# receiver, signed reports built as the agent builds them (coll_post signs
# and posts the bytes), the read API, and the dead-man sweep with an
# injected clock (`erpulse-collector sweep --now EPOCH`).
# Source after lib.sh and 40-collector-ingest.sh.

PY=/usr/bin/python3
HOOK=$T/hook
mkdir -p "$HOOK"

# v_hook_start: a webhook receiver storing each body as $HOOK/NNN.json.
v_hook_start() {
	WPORT=$(free_port)
	$PY - "$WPORT" "$HOOK" >"$T/hook.log" 2>&1 <<'PY' &
import http.server, os, sys, threading
port, d = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with lock:
            n = len(os.listdir(d))
            open(os.path.join(d, "%03d.json" % n), "wb").write(body)
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
	V_WPID=$!
	on_exit "kill $V_WPID"
	wait_for 5 port_open "$WPORT"
}
hooks() { ls "$HOOK" | grep -c '\.json$'; }
hooks_ge() { [ "$(hooks)" -ge "$1" ]; }
# hook N EXPR: python expression over j, the Nth notice (0-based)
hook() { json_get "$HOOK/$(printf %03d "$1").json" "$2"; }

# v_start NAME [CONFIG LINES...]: collector with the webhook; on PostgreSQL
# when V_PG=1 (one database per script).
v_start() {
	local name=$1
	shift
	local alerts=("[alerts]" "webhook_url = http://127.0.0.1:$WPORT/hook" "allow_private_targets = yes" "$@")
	if [ "${V_PG:-0}" = 1 ]; then
		if [ -z "${V_URL:-}" ]; then
			pg_start || return 1
			pg_sql -c "CREATE DATABASE erpulse" || return 1
			V_URL="postgresql://$PG_SUPERUSER:$PG_SUPERPASS@127.0.0.1:$PGPORT/erpulse"
		fi
		coll_start "$name" "[store]" "url = $V_URL" "${alerts[@]}"
	else
		V_DB=$T/$name.db
		coll_start "$name" "${alerts[@]}"
	fi
}
# v_sql SQL: one query against the store (rows as a|b lines)
v_sql() {
	if [ "${V_PG:-0}" = 1 ]; then pg_sql -d erpulse -F '|' -c "$1"; else coll_sql "$V_DB" "$1"; fi
}
v_vendor() { V_TOKEN=$(coll_cli user add "vendor$RANDOM" --role vendor 2>/dev/null); }
# v_api PATH EXPR: GET the read API as the vendor, python expression over j
v_api() { curl -s ${COLL_CA:+--cacert "$COLL_CA"} -H "Authorization: Bearer $V_TOKEN" "$COLL_URL$1" | json_get - "$2"; }

# v_rep FILE AGENT SEQ PROBES [CONFIGURED|-] [INTERVAL] [GENERATED_AT]:
# a report as the agent writes it. PROBES: JSON list of
# {name, target, status, error?, findings}; CONFIGURED: JSON list of
# {name, target}, or - for an older agent that sends none.
v_rep() {
	$PY - "$@" <<'PY'
import json, sys, time
out, agent, seq, probes = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
conf = sys.argv[5] if len(sys.argv) > 5 else "-"
interval = int(sys.argv[6]) if len(sys.argv) > 6 else 60
gen = sys.argv[7] if len(sys.argv) > 7 else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
for p in probes:
    p.setdefault("target", None); p.setdefault("status", "ok"); p.setdefault("error", None)
    p.setdefault("duration_ms", 5); p.setdefault("metrics", {}); p.setdefault("findings", [])
    for f in p["findings"]:
        f.setdefault("method", "test"); f.setdefault("message", None); f.setdefault("unit", "%")
        f.setdefault("threshold", None)
r = {"schema": "erpulse.report.v1", "agent_id": agent, "seq": seq, "generated_at": gen,
     "interval_s": interval, "agent_version": "0.1.0", "dropped_reports": 0,
     "host": {"hostname": "erp01", "os": "Debian GNU/Linux 12 (bookworm)",
              "kernel": "6.1.0", "uptime_s": 1000},
     "probes": probes}
if conf != "-":
    r["configured"] = json.loads(conf)
open(out, "w").write(json.dumps(r, sort_keys=True, separators=(",", ":")))
PY
}
# v_send KEYFILE AGENT FILE: posts; true when accepted
v_send() { coll_send "$@" | grep -q '^200 .*accepted'; }

# findings as the agent (with the issue-10 rule fields) writes them
# f_frag OBJECT VALUE SEVERITY [SIZE [MIN_SIZE [EXTRA_JSON_MEMBERS]]]
f_frag() {
	printf '{"kind":"index_fragmentation","object":"%s","value":%s,"unit":"%%","threshold":30,"critical_threshold":60,"severity":"%s","size":%s,"pages":%s,"size_unit":"pages","min_size":%s,"remediation":"REINDEX INDEX CONCURRENTLY %s;"%s}' \
		"$1" "$2" "$3" "${4:-2959}" "${4:-2959}" "${5:-1000}" "$1" "${6:+,$6}"
}
# f_kind KIND OBJECT VALUE SEVERITY [UNIT [THRESHOLD [CRITICAL]]]
f_kind() {
	printf '{"kind":"%s","object":"%s","value":%s,"severity":"%s","unit":"%s","threshold":%s%s}' \
		"$1" "$2" "$3" "$4" "${5:-count}" "${6:-null}" "${7:+,\"critical_threshold\":$7}"
}

# v_agent NAME [CONFIG LINES...]: the real agent over HTTPS (needs the PKI of
# pki_make in $T/pki and COLL_TLS=1): writes $T/a.conf ([agent] with a 60 s
# interval, the lines given, [testblock] mode = ok), enrolls it with customer
# Acme and sets A (its id) and S (its state dir). once [ARGS]: one cycle.
v_agent() {
	S=$T/state
	{
		printf '[agent]\nstate_dir = %s\nallow_root = yes\njitter = 0\ninterval = 60\nca_file = %s\n' \
			"$S" "$T/pki/ca.pem"
		printf '%s\n' "$@"
		printf '[testblock]\nmode = ok\n'
	} >"$T/a.conf"
	coll_cli customer add Acme >/dev/null 2>&1
	local tok
	tok=$(coll_cli token create Acme 2>/dev/null)
	"$AGENT" --config "$T/a.conf" enroll --collector "$COLL_URL" --token "$tok" >"$T/enroll.out" 2>&1 ||
		return 1
	A=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent_id"])' "$S/state")
}
once() { "$AGENT" --config "$T/a.conf" once "$@" 2>>"$T/agent.log"; }
