#!/bin/bash
# erpulse-collector over HTTPS with SQLite: the admin CLI, enrollment and the
# report ingest path of docs/protocol.md against forged, truncated and
# other-agent signatures, unknown and revoked agents, replays, oversized,
# deeply nested, invalid UTF-8, wrongly typed and duplicate-key bodies, and
# SQL metacharacters in every string field (stored byte for byte).
#
# The coll_* helpers below are shared by the other 4x scripts, which source
# this file after lib.sh (sourcing stops right after the helpers).

# coll_start NAME [CONFIG LINES...]: writes $T/NAME.conf (listen on a free
# port, SQLite in $T/NAME.db unless a [store] url is given, TLS when
# COLL_TLS=1 with $T/pki) and starts `serve` in the background; waits for
# /healthz. Sets COLL_URL COLL_PID COLL_CONF COLL_LOG.
coll_start() {
	local name=$1 port i extra store="url = sqlite://$T/$1.db"
	shift
	port=$(free_port)
	extra=$(printf '%s\n' "$@")
	COLL_CONF=$T/$name.conf
	COLL_LOG=$T/$name.log
	{
		echo "[server]"
		echo "listen = 127.0.0.1:$port"
		if [ "${COLL_TLS:-0}" = 1 ]; then
			echo "tls_cert = $T/pki/server.pem"
			echo "tls_key = $T/pki/server.key"
			COLL_URL=https://127.0.0.1:$port
		else
			echo "tls = no"
			COLL_URL=http://127.0.0.1:$port
		fi
		printf '%s\n' "$extra" | sed -n '/^\[/q;p'
		if printf '%s\n' "$extra" | grep -q '^\[store\]'; then
			printf '%s\n' "$extra" | sed -n '/^\[store\]/,$p'
		else
			printf '[store]\n%s\n' "$store"
			printf '%s\n' "$extra" | sed -n '/^\[alerts\]/,$p'
		fi
	} >"$COLL_CONF"
	"$COLLECTOR" --config "$COLL_CONF" serve >>"$COLL_LOG" 2>&1 &
	COLL_PID=$!
	on_exit "kill $COLL_PID; wait $COLL_PID"
	for ((i = 0; i < 100; i++)); do
		curl -s -o /dev/null ${COLL_CA:+--cacert "$COLL_CA"} "$COLL_URL/healthz" && return 0
		kill -0 "$COLL_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "# collector did not start:" && sed 's/^/#   /' "$COLL_LOG" | tail -20
	return 1
}
coll_stop() {
	kill "$COLL_PID" 2>/dev/null
	wait "$COLL_PID" 2>/dev/null
}
coll_cli() { "$COLLECTOR" --config "$COLL_CONF" "$@"; }
# coll_enroll CUSTOMER KEYFILE [HOSTNAME]: new token + key + enrollment;
# prints the agent id.
coll_enroll() {
	local tok
	coll_cli customer add "$1" >/dev/null 2>&1
	tok=$(coll_cli token create "$1" 2>/dev/null) || return 1
	"$TOOLS/coll_post" keygen "$2" >/dev/null || return 1
	COLL_POST_CA=${COLL_CA:-} "$TOOLS/coll_post" enroll "$COLL_URL" "$tok" "$2" "${3:-erp01}" |
		sed -n 's/^201 .*"agent_id":"\([0-9a-f]*\)".*/\1/p'
}
# coll_send KEYFILE AGENT FILE...: "STATUS FILE BODY" lines
coll_send() {
	local key=$1 agent=$2
	shift 2
	COLL_POST_CA=${COLL_CA:-} "$TOOLS/coll_post" send "$COLL_URL" "$key" "$agent" "$@"
}
# coll_status KEYFILE AGENT FILE: the HTTP status only
coll_status() { coll_send "$@" | awk '{print $1}'; }
coll_report() { "$TOOLS/coll_post" report "$@"; }
# coll_sql DB SQL: one query against a SQLite store file
coll_sql() { /usr/bin/python3 -c 'import sqlite3,sys
c=sqlite3.connect(sys.argv[1], timeout=10)
for r in c.execute(sys.argv[2]).fetchall(): print("|".join("" if v is None else str(v) for v in r))
c.commit()' "$@"; }
# coll_body DB WHERE: the stored raw body of the report row WHERE picks,
# decoded (zstd frame, codec 1; plain text, codec 0) -- byte for byte
coll_body() { /usr/bin/python3 -c 'import sqlite3,sys
c=sqlite3.connect(sys.argv[1], timeout=10)
codec,b=c.execute("SELECT codec, body FROM reports WHERE " + sys.argv[2]).fetchone()
sys.stdout.buffer.write(b if isinstance(b, bytes) else b.encode())
sys.exit(0 if codec in (0, 1) else 3)' "$@" | if [ "$(coll_sql "$1" "SELECT codec FROM reports WHERE $2")" = 1 ]; then zstd -dcq; else cat; fi; }
# json_get FILE_OR_- EXPR: python expression over j (the parsed JSON)
json_get() { /usr/bin/python3 -c 'import json,sys
j=json.load(open(sys.argv[1]) if sys.argv[1]!="-" else sys.stdin)
print(eval(sys.argv[2]))' "$@"; }

[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

[ -x "$TOOLS/coll_post" ] || bail "no coll_post at $TOOLS (make tools)"
[ -x "$COLLECTOR" ] || bail "no collector at $COLLECTOR"

# ---- CLI ------------------------------------------------------------------------
tap_check "--version" "$COLLECTOR" --version
tap_check "--help" "$COLLECTOR" --help
printf '[server]\nlisten = 127.0.0.1:1\nbogus = 1\n' >"$T/bad.conf"
out=$("$COLLECTOR" --config "$T/bad.conf" migrate 2>&1)
tap_like "unknown config key is an error naming file and line" "$out" "bad.conf:3.*bogus"

printf '[server]\nlisten = 127.0.0.1:1\ntls_cert = /nonexistent.pem\ntls_key = /nonexistent.key\n[store]\nurl = sqlite://%s/cc.db\n' "$T" >"$T/cc.conf"
out=$("$COLLECTOR" --config "$T/cc.conf" check-config 2>&1)
tap_like "check-config names an unreadable TLS file" "$out" "tls_cert: cannot read '/nonexistent.pem'"
printf '[server]\ntls = no\n[store]\nurl = sqlite://%s/cc.db\n[alerts]\nwebhook_url = http://127.0.0.1:9/h\nwebhook_format = dingtalkk\n' "$T" >"$T/cc.conf"
tap_like "check-config: a misspelled webhook format, with the near one" "$("$COLLECTOR" --config "$T/cc.conf" check-config 2>&1)" "webhook_format: 'dingtalkk' is not .*did you mean 'dingtalk'"
printf '[server]\ntls = no\n[store]\nurl = sqlite://%s/cc.db\n' "$T" >"$T/cc.conf"
tap_like "check-config: configuration OK" "$("$COLLECTOR" --config "$T/cc.conf" check-config 2>&1)" '^configuration OK$'

pki_make "$T/pki" || bail "cannot make the test PKI"
COLL_TLS=1 COLL_CA=$T/pki/ca.pem
export COLL_CA
coll_start c1 "max_body_kb = 64" "enroll_burst = 6" "enroll_per_minute = 1" ||
	bail "collector did not start over TLS"
DB=$T/c1.db
tap_like "customer add prints an id" "$(coll_cli customer add Acme)" '^[0-9a-f]{16}$'
tap_check "a second customer of the same name is refused" bash -c "! $COLLECTOR --config $COLL_CONF customer add Acme"
tap_like "customer list shows it" "$(coll_cli customer list)" 'Acme'
TOKEN=$(coll_cli token create Acme --uses 1 --expires 1h 2>/dev/null)
tap_like "token create prints the token once" "$TOKEN" '^ept_[0-9a-f]{40}$'
tap_is "the token is stored hashed only" \
	"$(coll_sql "$DB" "SELECT COUNT(*) FROM enroll_tokens WHERE hash LIKE 'ept_%'")" "0"
tap_check "token create for an unknown customer fails" bash -c "! $COLLECTOR --config $COLL_CONF token create Nobody"
tap_like "healthz over https" "$(curl -s --cacert "$COLL_CA" "$COLL_URL/healthz")" '"status":"ok"'

# ---- enrollment ---------------------------------------------------------------------
P=$TOOLS/coll_post
"$P" keygen "$T/k1" >/dev/null
"$P" keygen "$T/k2" >/dev/null
out=$(COLL_POST_CA=$COLL_CA "$P" enroll "$COLL_URL" "$TOKEN" "$T/k1" erp01)
tap_like "enroll: 201 with agent_id, customer_id, interval_s" "$out" \
	'^201 .*"agent_id":"[0-9a-f]{32}".*"customer_id":"[0-9a-f]{16}".*"interval_s":300'
A1=$(printf '%s' "$out" | sed -n 's/.*"agent_id":"\([0-9a-f]*\)".*/\1/p')
tap_like "enroll with a used-up token: 401 token_used_up" \
	"$(COLL_POST_CA=$COLL_CA "$P" enroll "$COLL_URL" "$TOKEN" "$T/k2")" '^401 .*token_used_up'
tap_like "enroll with an unknown token: 401 token_invalid" \
	"$(COLL_POST_CA=$COLL_CA "$P" enroll "$COLL_URL" ept_0000 "$T/k2")" '^401 .*token_invalid'
T2=$(coll_cli token create Acme --uses 5 2>/dev/null)
out=$(COLL_POST_CA=$COLL_CA "$P" enroll "$COLL_URL" "$T2" "$T/k2" erp02)
A2=$(printf '%s' "$out" | sed -n 's/.*"agent_id":"\([0-9a-f]*\)".*/\1/p')
tap_like "a second agent enrolls with a multi-use token" "$A2" '^[0-9a-f]{32}$'
coll_sql "$DB" "UPDATE enroll_tokens SET expires_at = 1 WHERE uses_left = 4" >/dev/null
"$P" keygen "$T/k3" >/dev/null
tap_like "enroll with an expired token: 401 token_expired" \
	"$(COLL_POST_CA=$COLL_CA "$P" enroll "$COLL_URL" "$T2" "$T/k3")" '^401 .*token_expired'
code=$(curl -s -o "$T/e.out" -w '%{http_code}' --cacert "$COLL_CA" -H 'Content-Type: application/json' \
	--data '{"token":"x","hostname":"h","public_key":"AAAA","agent_version":"1"}' "$COLL_URL/api/v1/enroll")
tap_is "enroll with a bad public key: 400" "$code" "400"
# the limit (burst 6, 1/min) is reached by now: six enrollments
tap_like "enroll rate limit answers 429 with Retry-After" \
	"$(curl -s -i --cacert "$COLL_CA" --data '{}' "$COLL_URL/api/v1/enroll" | tr -d '\r')" \
	'HTTP/[0-9.]+ 429.*'

# ---- reports ----------------------------------------------------------------------------
FRAG='[{"kind":"index_fragmentation","object":"odoo/public.sale_order_line_order_id_idx","value":41.2,"unit":"%","threshold":30,"severity":"warning","method":"pgstatindex","message":"41% wasted","remediation":"REINDEX INDEX CONCURRENTLY x;","pages":5000}]'
coll_report "$A1" 1 "$FRAG" >"$T/r1"
coll_report "$A1" 2 >"$T/r2"
tap_like "a signed report is accepted" "$(coll_send "$T/k1" "$A1" "$T/r1")" '^200 .*"status":"accepted","seq":1'
tap_like "the same report again: duplicate" "$(coll_send "$T/k1" "$A1" "$T/r1")" \
	'^200 .*"status":"duplicate","seq":1,"last_seq":1'
tap_like "seq 2 accepted" "$(coll_send "$T/k1" "$A1" "$T/r2")" '"status":"accepted","seq":2'
tap_like "a replay of seq 1 after 2: duplicate with last_seq 2" "$(coll_send "$T/k1" "$A1" "$T/r1")" \
	'"status":"duplicate","seq":1,"last_seq":2'
tap_is "one raw report row per seq" "$(coll_sql "$DB" "SELECT COUNT(*) FROM reports")" "2"
tap_is "the replay is flagged as a seq rewind" \
	"$(coll_sql "$DB" "SELECT seq_rewinds FROM agents WHERE id='$A1'")" "1"
tap_is "the stored raw body is compressed (zstd)" \
	"$(coll_sql "$DB" "SELECT codec, typeof(body) FROM reports WHERE seq=2")" "1|blob"
tap_is "  ... and decodes byte-identical" \
	"$(coll_body "$DB" "seq=2" | sha256sum)" "$(sha256sum <"$T/r2")"

coll_report "$A1" 3 >"$T/r3"
b_forged=$(coll_send "$T/k2" "$A1" "$T/r3")
tap_like "forged signature (another key): 401" "$b_forged" '^401 '
sig=$("$P" sign "$T/k1" "$T/r3")
tap_like "truncated signature: 401" "$(COLL_POST_SIG=${sig:0:40} coll_send "$T/k1" "$A1" "$T/r3")" '^401 '
tap_like "signature of other bytes: 401" \
	"$(COLL_POST_SIG=$("$P" sign "$T/k1" "$T/r2") coll_send "$T/k1" "$A1" "$T/r3")" '^401 '
tap_like "not base64: 401" "$(COLL_POST_SIG='!!!!' coll_send "$T/k1" "$A1" "$T/r3")" '^401 '
b_unknown=$(COLL_POST_AGENT_HEADER=0123456789abcdef0123456789abcdef coll_send "$T/k1" "$A1" "$T/r3")
tap_is "unknown agent: the same 401 answer as a bad signature" "${b_unknown#* * }" "${b_forged#* * }"
if [ -n "$A2" ]; then
	# agent 2's own key signing a report that claims to be agent 1
	coll_report "$A1" 9 >"$T/r9"
	tap_like "another agent's key for agent 1's header: 401" "$(coll_send "$T/k2" "$A1" "$T/r9")" '^401 '
	tap_like "agent 2 signing a body naming agent 1 under its own header: 400" \
		"$(coll_send "$T/k2" "$A2" "$T/r9")" '^400 .*agent_id'
else
	tap_fail "second agent missing"
fi
tap_is "nothing of that was stored" "$(coll_sql "$DB" "SELECT COUNT(*) FROM reports")" "2"

# malformed bodies, properly signed
mk() { /usr/bin/python3 -c "$1" "$T/r3" >"$T/$2"; }
mk 'import sys; sys.stdout.write("[" * 10000 + "]" * 10000)' nested
mk 'import sys; d=open(sys.argv[1],"rb").read(); sys.stdout.buffer.write(d.replace(b"erp01", b"erp\xff\xfe1"))' badutf8
mk 'import sys,json; j=json.load(open(sys.argv[1])); j["seq"]="3"; sys.stdout.write(json.dumps(j))' wrongtype
mk 'import sys,json; j=json.load(open(sys.argv[1])); j["probes"]="none"; sys.stdout.write(json.dumps(j))' wrongtype2
mk 'import sys; d=open(sys.argv[1]).read(); sys.stdout.write(d[:-1] + ",\"seq\":99}")' dupkey
mk 'import sys; d=open(sys.argv[1]).read(); sys.stdout.write(d[:len(d)//2])' truncated
mk 'import sys; sys.stdout.write("")' empty
mk 'import sys,json; j=json.load(open(sys.argv[1])); j["schema"]="erpulse.report.v0"; sys.stdout.write(json.dumps(j))' schema
mk 'import sys; d=open(sys.argv[1]).read(); sys.stdout.write(d.replace("erp01", "erp\\u0000x"))' nul
for f in nested badutf8 wrongtype wrongtype2 dupkey truncated empty schema nul; do
	tap_like "signed but malformed ($f): 400 bad_request" "$(coll_send "$T/k1" "$A1" "$T/$f")" '^400 .*bad_request'
done
mk 'import sys; sys.stdout.write("{\"pad\":\"" + "x" * (70 * 1024) + "\"}")' big
tap_like "body over max_body_kb: 413" "$(coll_send "$T/k1" "$A1" "$T/big")" '^413 .*too_large'
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$COLL_CA" -H 'Transfer-Encoding: chunked' \
	-H "X-Erpulse-Agent: $A1" -H 'X-Erpulse-Signature: x' --data-binary @"$T/big" "$COLL_URL/api/v1/reports")
tap_like "chunked body over the cap (no Content-Length): refused, never 2xx/5xx" "$code" '^(413|000)$'

# SQL metacharacters in every string field, stored as sent
EVIL="x'); DROP TABLE reports; -- \\\" ? \$1 %s ; \`id\` — é"
/usr/bin/python3 - "$T/r3" "$EVIL" >"$T/evil" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); e = sys.argv[2]
j["agent_version"] = e
for k in ("hostname", "os", "kernel"): j["host"][k] = e
p = j["probes"][0]; p["name"] = e; p["target"] = e
p["findings"] = [{"kind": e, "object": e, "value": 1, "unit": e, "threshold": None,
  "severity": "info", "method": e, "message": e, "remediation": e, "extra": e}]
p["metrics"] = {e: e}
sys.stdout.write(json.dumps(j, separators=(",", ":"), sort_keys=True, ensure_ascii=False))
PY
tap_like "SQL metacharacters in every string field: accepted" "$(coll_send "$T/k1" "$A1" "$T/evil")" '^200 .*accepted'
tap_is "the body is stored byte for byte" \
	"$(coll_body "$DB" "seq=3" | sha256sum)" "$(sha256sum <"$T/evil")"
got=$(coll_sql "$DB" "SELECT findings FROM current_findings WHERE agent_id='$A1'" | /usr/bin/python3 -c '
import json, sys; f = json.load(sys.stdin)[0]
print("".join(f[k] for k in ("kind", "object", "unit", "method", "message", "remediation", "probe", "extra")))')
tap_is "finding fields stored as-is" "$got" "$EVIL$EVIL$EVIL$EVIL$EVIL$EVIL$EVIL$EVIL"
tap_is "hostname stored as-is" "$(coll_sql "$DB" "SELECT hostname FROM agents WHERE id='$A1'")" "$EVIL"
tap_is "schema intact (all tables there)" \
	"$(coll_sql "$DB" "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name IN ('reports','agents','customers','current_findings','alerts','outbox')")" "6"

# revocation
tap_like "agent revoke" "$(coll_cli agent revoke "$A1")" "revoked $A1"
coll_report "$A1" 4 >"$T/r4"
tap_like "a revoked agent's genuine report: 403 revoked" "$(coll_send "$T/k1" "$A1" "$T/r4")" '^403 .*revoked'
tap_like "a revoked agent with a bad signature still gets 401" "$(coll_send "$T/k2" "$A1" "$T/r4")" '^401 '

# answers and metrics
tap_like "unknown path: 404 JSON error" "$(curl -s --cacert "$COLL_CA" "$COLL_URL/nope")" '"error":\{"code":"not_found"'
tap_like "GET on the report endpoint: 405" \
	"$(curl -s -o /dev/null -w '%{http_code}' --cacert "$COLL_CA" "$COLL_URL/api/v1/reports")" '^405$'
m=$(curl -s --cacert "$COLL_CA" "$COLL_URL/metrics")
tap_like "metrics: accepted count" "$m" 'erpulse_reports_accepted_total 3'
tap_like "metrics: rejected by reason" "$m" 'erpulse_reports_rejected_total\{reason="unauthorized"\} [1-9]'
tap_like "metrics: bad_request counted" "$m" 'erpulse_reports_rejected_total\{reason="bad_request"\} [1-9]'
tap_like "metrics: latency histogram" "$m" 'erpulse_ingest_seconds_bucket\{le="\+Inf"\} [1-9]'
tap_like "metrics: agents by state" "$m" 'erpulse_agents\{state="revoked"\} 1'
tap_like "metrics: outbox depth" "$m" 'erpulse_outbox_depth [0-9]+'
tap_like "scores prints the fleet table" "$(coll_cli scores)" 'SCORE +BAND'
tap_check "the collector is still running" kill -0 "$COLL_PID"
coll_stop
tap_is "SIGTERM stops it cleanly" "$(grep -c 'stopping (signal 15)' "$COLL_LOG")" "1"
tap_done
