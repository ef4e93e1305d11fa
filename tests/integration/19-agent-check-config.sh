#!/bin/bash
# check-config catches what breaks the agent before it runs: no collector,
# an unresolvable or unreachable collector (exit 5; --offline makes it a
# warning), TLS that does not verify (wrong CA, wrong host name), a skewed
# clock (a warning), a state_dir that cannot be written, enrollment (known,
# revoked or unknown at the collector), and "did you mean" for a misspelled
# section type.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

[ -x "$TOOLS/https_sink" ] || bail "no https_sink at $TOOLS (make tools)"
pki_make "$T/pki" || bail "cannot make the test PKI"
on_exit sink_stop

S=$T/state
K=$T/sink
P=$(free_port)
URL=https://127.0.0.1:$P
conf() { # conf FILE [extra [agent] lines...]
	local f=$1
	shift
	{
		printf '[agent]\nstate_dir = %s\nallow_root = yes\nprobe_timeout = 5\n' "$S"
		printf '%s\n' "$@"
	} >"$f"
}
check() { "$AGENT" --config "$1" check-config "${@:2}" >"$T/out" 2>&1; }

# ---- no collector at all ----
conf "$T/none.conf"
check "$T/none.conf"
tap_is "no collector, not enrolled: exit 3" "$?" 3
tap_like "  ... says to set collector or enroll, at file:line" "$(cat "$T/out")" "none.conf:1: \[agent\] collector: no collector: set collector = https://"
tap_like "  ... and says not enrolled (a warning)" "$(cat "$T/out")" "none.conf: warning: not enrolled yet: run erpulse-agent enroll"
check "$T/none.conf" --offline
tap_is "  ... with --offline: exit 0" "$?" 0
tap_like "  ... ends with OK and the warning count" "$(tail -1 "$T/out")" "^configuration OK, 2 warning\(s\)$"

# ---- unresolvable, refused ----
conf "$T/dns.conf" "collector = https://no-such-host.invalid:8443"
check "$T/dns.conf"
tap_is "unresolvable collector: exit 5" "$?" 5
tap_like "  ... says it, with the key's line" "$(cat "$T/out")" "dns.conf:5: \[agent\] collector: cannot resolve the host name of https://no-such-host.invalid:8443"
check "$T/dns.conf" --offline
tap_is "  ... --offline: exit 0" "$?" 0
tap_like "  ... --offline: says not checked" "$(cat "$T/out")" "warning: https://no-such-host.invalid:8443 not checked \(--offline\)"

conf "$T/refused.conf" "collector = $URL" "ca_file = $T/pki/ca.pem"
check "$T/refused.conf"
tap_is "collector not listening: exit 5" "$?" 5
tap_like "  ... says connection refused and what to look at" "$(cat "$T/out")" "collector: cannot connect to $URL: .*is the collector running"

# ---- state_dir ----
conf "$T/proc.conf" "collector = $URL"
sed -i "s|^state_dir = .*|state_dir = /proc/nope|" "$T/proc.conf"
check "$T/proc.conf" --offline
tap_is "state_dir = /proc/nope: exit 3 (even --offline)" "$?" 3
tap_like "  ... says it cannot be created, and how to" "$(cat "$T/out")" "proc.conf:2: \[agent\] state_dir: '/proc/nope' does not exist and cannot be created .*install -d"
conf "$T/file.conf" "collector = $URL"
touch "$T/plainfile"
sed -i "s|^state_dir = .*|state_dir = $T/plainfile|" "$T/file.conf"
check "$T/file.conf" --offline
tap_is "state_dir is a file: exit 3" "$?" 3
tap_like "  ... says so" "$(cat "$T/out")" "state_dir: '$T/plainfile' is not a directory"

# ---- a live collector: TLS, clock, enrollment ----
sink_start "$K" "$P" "$T/pki/server.pem" "$T/pki/server.key" || bail "sink did not start"
check "$T/refused.conf"
tap_is "collector up, CA right, not enrolled: exit 0" "$?" 0
tap_like "  ... reached over verified TLS with ca_file" "$(cat "$T/out")" "collector: ok: $URL answered \(HTTP [0-9]+\) over verified TLS with ca_file"
tap_like "  ... clocks compared" "$(cat "$T/out")" "collector: ok: clocks agree within [0-9]+ s"
"$AGENT" --config "$T/refused.conf" enroll --collector "$URL" --token good1 >/dev/null 2>&1 || bail "enroll failed"
check "$T/refused.conf"
tap_is "enrolled: exit 0" "$?" 0
tap_like "  ... says enrolled, with the agent id" "$(cat "$T/out")" "enrolled: agent [0-9a-f]+, customer"
tap_like "  ... no warning left" "$(tail -1 "$T/out")" "^configuration OK$"
aid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent_id"])' "$S/state")
tap_like "  ... the collector knows the agent and its key" "$(cat "$T/out")" "collector: ok: $URL knows agent $aid and its key"
tap_is "  ... (asked with an empty signed body: nothing stored)" "$(ls "$K/reports" 2>/dev/null | wc -l)" 0
echo 403 >"$K/control"
check "$T/refused.conf"
tap_is "agent revoked at the collector: exit 3" "$?" 3
tap_like "  ... says so, and what to do" "$(cat "$T/out")" "collector: $URL has revoked agent $aid.*enroll --force"
echo normal >"$K/control"
mv "$K/agents/$aid.pub" "$T/saved.pub"
check "$T/refused.conf"
tap_is "collector does not know the agent (store reset): exit 3" "$?" 3
tap_like "  ... says to enroll again" "$(cat "$T/out")" "collector: $URL does not know agent $aid or its key.*enroll --force --collector $URL"
mv "$T/saved.pub" "$K/agents/$aid.pub"

conf "$T/noca.conf" "collector = $URL"
check "$T/noca.conf"
tap_is "without ca_file (CA not in the system store): exit 3" "$?" 3
tap_like "  ... TLS verification failed, set ca_file" "$(cat "$T/out")" "collector: TLS verification of $URL failed: .*set ca_file"
conf "$T/otherca.conf" "collector = $URL" "ca_file = $T/pki/otherca.pem"
check "$T/otherca.conf"
tap_is "wrong CA: exit 3" "$?" 3
conf "$T/host.conf" "collector = https://localhost:$P" "ca_file = $T/pki/ca.pem"
sink_stop
sink_start "$K" "$P" "$T/pki/wronghost.pem" "$T/pki/wronghost.key" || bail "sink did not restart"
check "$T/host.conf"
tap_is "certificate for another host name: exit 3" "$?" 3
tap_like "  ... TLS verification failed" "$(cat "$T/out")" "TLS verification of https://localhost:$P failed"
sink_stop

# ---- a collector whose clock is 2 hours off (a small HTTPS server with a fixed Date) ----
cat >"$T/skew.py" <<'PY'
import http.server, ssl, sys, email.utils, time
class H(http.server.BaseHTTPRequestHandler):
    def date_time_string(self, timestamp=None):
        return email.utils.formatdate(time.time() - 7200, usegmt=True)
    def do_GET(self):
        self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"{}")
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); c.load_cert_chain(sys.argv[2], sys.argv[3])
s.socket = c.wrap_socket(s.socket, server_side=True)
open(sys.argv[4], "w").close()
s.serve_forever()
PY
python3 "$T/skew.py" "$P" "$T/pki/server.pem" "$T/pki/server.key" "$T/skew.ready" &
skewpid=$!
on_exit "kill $skewpid 2>/dev/null"
wait_for 10 test -e "$T/skew.ready" || bail "skewed server did not start"
check "$T/refused.conf"
tap_is "collector clock 2 h behind: still exit 0 (a warning)" "$?" 0
tap_like "  ... says how far, and to turn on NTP" "$(cat "$T/out")" "collector: warning: this host's clock is 7[0-9]{3} s ahead of the collector's \(turn on NTP"
kill $skewpid

# ---- did you mean ----
conf "$T/typo.conf" "" "[postgress]"
check "$T/typo.conf"
tap_is "misspelled section type: exit 3" "$?" 3
tap_like "  ... did you mean" "$(cat "$T/out")" "typo.conf:6: \[postgress\]: unknown section type 'postgress' \(did you mean 'postgres'\? known probes"

conf "$T/preset.conf" "" "[log.x]" "paths = $T/*.log" "preset = odo"
check "$T/preset.conf" --offline
tap_is "misspelled log preset: exit 3" "$?" 3
tap_like "  ... did you mean, and every preset" "$(cat "$T/out")" "preset: unknown preset 'odo'; did you mean 'odoo'\? \(odoo, erpnext, .*tryton, idempiere, dolibarr\)"

tap_done
