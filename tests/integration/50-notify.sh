#!/bin/bash
# Alert notices reach a real local webhook receiver (python3 http.server) in
# every format and a real SMTP sink (aiosmtpd, Debian's python3-aiosmtpd),
# through collector/notify/ (driven by tests/tools/notify_send). Loopback
# targets are refused unless allow_private is set; redirects are not
# followed; 5xx and timeouts are retryable, 4xx and 3xx permanent.
. "$(dirname "$0")/lib.sh"

SEND=$TOOLS/notify_send
[ -x "$SEND" ] || bail "missing $SEND (make tests)"
PY=/usr/bin/python3 # Debian's python3: it has the aiosmtpd package
[ -x "$PY" ] || PY=python3

# ---- webhook receiver: every POST body goes to $T/hooks/<n>-<path>.json ----
mkdir -p "$T/hooks" "$T/mail/tmp" "$T/mail/new" "$T/mail/cur"
cat >"$T/receiver.py" <<'EOF'
import http.server, os, sys, threading, time
out = sys.argv[2]
lock = threading.Lock()
count = [0]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with lock:
            count[0] += 1
            n = count[0]
        name = self.path.strip("/").replace("/", "_") or "root"
        with open(os.path.join(out, "%03d-%s.json" % (n, name)), "wb") as f:
            f.write(body)
        with open(os.path.join(out, "requests.log"), "a") as f:
            f.write("%s %s %s\n" % (self.path, self.headers.get("Content-Type"),
                                    self.headers.get("User-Agent")))
        if self.path.startswith("/hook"):
            self.send_response(200); self.end_headers(); self.wfile.write(b'{"ok":true}')
        elif self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:%s/hook/redirected" % sys.argv[1])
            self.end_headers()
        elif self.path == "/busy":
            self.send_response(503); self.send_header("Retry-After", "5"); self.end_headers()
        elif self.path == "/bad":
            self.send_response(400); self.end_headers(); self.wfile.write(b'{"error":"bad"}')
        elif self.path.startswith("/chat/"):
            # chat robots answer 200 and put the verdict in the body
            answers = {"/chat/ok": b'{"code":0,"msg":"success","data":{}}',
                       "/chat/keyword": b'{"errcode":310000,"errmsg":"keywords not in content"}',
                       "/chat/fast": b'{"errcode":130101,"errmsg":"send too fast"}',
                       "/chat/sign": b'{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}'}
            self.send_response(200); self.send_header("Content-Type", "application/json"); self.end_headers()
            self.wfile.write(answers.get(self.path, b"{}"))
        elif self.path == "/slow":
            time.sleep(5)
            self.send_response(200); self.end_headers()
        else:
            self.send_response(404); self.end_headers()
http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
HPORT=$(free_port)
"$PY" "$T/receiver.py" "$HPORT" "$T/hooks" >"$T/receiver.log" 2>&1 &
HPID=$!
on_exit "kill $HPID"

SPORT=$(free_port)
"$PY" -m aiosmtpd -n -l "127.0.0.1:$SPORT" -c aiosmtpd.handlers.Mailbox "$T/mail" \
	>"$T/smtp.log" 2>&1 &
SPID=$!
on_exit "kill $SPID"

port_open() { "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1)" "$1"; }
wait_for 10 port_open "$HPORT" || bail "webhook receiver did not start: $(cat "$T/receiver.log")"
wait_for 10 port_open "$SPORT" || bail "SMTP sink did not start: $(cat "$T/smtp.log")"

nreq() { [ -f "$T/hooks/requests.log" ] && wc -l <"$T/hooks/requests.log" || echo 0; }
last_body() { ls "$T/hooks"/*-"$1".json 2>/dev/null | tail -1; }

# run_send WANT_RC ARGS...: runs notify_send, keeps its output in $OUT
run_send() {
	local want=$1 rc
	shift
	OUT=$("$SEND" "$@" 2>&1)
	rc=$?
	[ "$rc" -eq "$want" ] || {
		echo "# notify_send $*: exit $rc, wanted $want: $OUT"
		return 1
	}
}

# checks a received body with python: $1 file, $2 python expression over j
json_check() {
	"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1],encoding="utf-8")); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2"
}

# ---- every webhook format delivered and parsed by the receiver ----
declare -A CHECK=(
	[generic]='j["source"]=="erpulse" and j["state"]=="raise" and j["host"]=="erp01" and j["customer"]=="ACME 制造" and j["rule"]=="index_fragmentation" and abs(j["value"]-41.2)<1e-9 and j["remediation"].startswith("REINDEX")'
	[dingtalk]='j["msgtype"]=="markdown" and "erp01" in j["markdown"]["title"] and "REINDEX INDEX CONCURRENTLY" in j["markdown"]["text"]'
	[wecom]='j["msgtype"]=="markdown" and "**Host:** erp01" in j["markdown"]["content"]'
	[feishu]='j["msg_type"]=="post" and "erp01" in j["content"]["post"]["zh_cn"]["title"] and any(s.get("tag")=="a" for line in j["content"]["post"]["zh_cn"]["content"] for s in line)'
	[slack]='"erp01" in j["text"] and j["blocks"][0]["type"]=="header" and any(b["type"]=="section" for b in j["blocks"])'
)
for fmt in generic dingtalk wecom feishu slack; do
	if run_send 0 webhook "http://127.0.0.1:$HPORT/hook/$fmt" "$fmt" --allow-private; then
		f=$(last_body "hook_$fmt")
		if [ -n "$f" ] && json_check "$f" "${CHECK[$fmt]}"; then
			tap_ok "webhook $fmt: delivered, receiver parsed the documented shape"
		else
			tap_fail "webhook $fmt: body at the receiver is wrong"
			[ -n "$f" ] && sed 's/^/#   /' "$f" | head -5
		fi
	else
		tap_fail "webhook $fmt: send failed"
	fi
done
tap_like "webhook sent as application/json with our User-Agent" \
	"$(head -1 "$T/hooks/requests.log")" '^/hook/generic application/json; charset=utf-8 erpulse-collector/'

# ---- refusals: loopback without allow_private, by address and by name ----
before=$(nreq)
run_send 3 webhook "http://127.0.0.1:$HPORT/hook/refused" generic
rc=$?
tap_is "loopback address refused without allow_private (permanent)" "$rc" 0
tap_like "refusal says why" "$OUT" 'outcome=permanent .*refused: .*127\.0\.0\.1'
run_send 3 webhook "http://localhost:$HPORT/hook/refused" generic
tap_is "loopback by host name refused" "$?" 0
tap_is "nothing reached the receiver while refused" "$(nreq)" "$before"

# ---- a redirect answer is not followed ----
before=$(nreq)
run_send 3 webhook "http://127.0.0.1:$HPORT/redirect" generic --allow-private
tap_is "302 answer is a permanent failure" "$?" 0
tap_like "result carries the 302" "$OUT" 'status=302'
sleep 0.3
tap_is "the redirect target was never requested" "$(($(nreq) - before))" 1
tap_check "no body arrived at the redirect target" bash -c "! ls '$T/hooks'/*-hook_redirected.json"

# ---- retryable vs permanent ----
run_send 2 webhook "http://127.0.0.1:$HPORT/busy" generic --allow-private
tap_is "503 is retryable" "$?" 0
run_send 3 webhook "http://127.0.0.1:$HPORT/bad" generic --allow-private
tap_is "400 is permanent" "$?" 0
run_send 0 webhook "http://127.0.0.1:$HPORT/chat/ok" feishu --allow-private
tap_is "200 with code 0 (Feishu success) is delivered" "$?" 0
run_send 3 webhook "http://127.0.0.1:$HPORT/chat/keyword" dingtalk --allow-private
tap_is "200 with a DingTalk errcode (keyword missing) is permanent, not silently ok" "$?" 0
tap_like "the robot's error text is kept" "$OUT" 'code 310000: keywords not in content'
run_send 2 webhook "http://127.0.0.1:$HPORT/chat/fast" dingtalk --allow-private
tap_is "200 with DingTalk's rate-limit errcode is retryable" "$?" 0
run_send 3 webhook "http://127.0.0.1:$HPORT/chat/sign" feishu --allow-private
tap_is "200 with a Feishu error code is permanent" "$?" 0
t0=$(date +%s%N)
run_send 2 webhook "http://127.0.0.1:$HPORT/slow" generic --allow-private --timeout-ms 1000
rc=$?
t1=$(date +%s%N)
tap_is "a receiver that does not answer times out as retryable" "$rc" 0
tap_check "the timeout cut the attempt off within 3 s" test $(((t1 - t0) / 1000000)) -lt 3000
CLOSED=$(free_port)
run_send 2 webhook "http://127.0.0.1:$CLOSED/hook" generic --allow-private
tap_is "connection refused is retryable" "$?" 0

# ---- e-mail through the SMTP sink ----
run_send 0 mail "smtp://127.0.0.1:$SPORT" erpulse@vendor.example "support@vendor.example, ops@vendor.example"
tap_is "mail accepted by the SMTP sink" "$?" 0
wait_for 5 bash -c "ls '$T/mail/new/'* >/dev/null 2>&1"
msg=$(ls "$T/mail/new/"* 2>/dev/null | head -1)
if [ -n "$msg" ]; then
	tap_ok "message stored in the sink's Maildir"
	"$PY" - "$msg" >"$T/mailcheck.out" 2>&1 <<'EOF'
import email, email.header, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.default)
assert m["From"] == "erpulse@vendor.example", m["From"]
assert "support@vendor.example" in m["To"] and "ops@vendor.example" in m["To"], m["To"]
assert str(m["Subject"]).startswith("[WARNING] erp01: index_fragmentation raised"), m["Subject"]
assert m["Message-ID"].endswith(".erpulse@vendor.example>"), m["Message-ID"]
assert email.utils.parsedate_to_datetime(m["Date"]) is not None
assert m.get_content_type() == "text/plain" and m.get_content_charset() == "utf-8"
body = m.get_content()
assert "Customer: ACME 制造" in body, body
assert "REINDEX INDEX CONCURRENTLY" in body, body
print("mail ok")
EOF
	tap_check "mail headers (From, To, Subject, Date, Message-ID, MIME UTF-8) and body" \
		grep -q "mail ok" "$T/mailcheck.out" || sed 's/^/#   /' "$T/mailcheck.out"
else
	tap_fail "message stored in the sink's Maildir"
	sed 's/^/#   /' "$T/smtp.log" | tail -5
fi
run_send 2 mail "smtp://127.0.0.1:$CLOSED" erpulse@vendor.example support@vendor.example
tap_is "SMTP server down is retryable" "$?" 0

tap_done
