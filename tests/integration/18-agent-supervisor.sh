#!/bin/bash
# The daemon's split (docs/agent.md, "Supervisor and cycle processes"): the
# resident process is erpulse-agentd, maps none of the heavy libraries and
# stays under issue 3's 8 MiB RSS; it holds the state lock; cycles read the
# configuration as last validated, not a file broken on disk since; the
# delivery backoff survives between cycle processes (Retry-After honoured by
# a delivery-only process); the supervisor is found next to the binary or
# under ../libexec/erpulse, and a missing one is named.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"

[ -x "$TOOLS/https_sink" ] || bail "no https_sink at $TOOLS (make tools)"
[ -x "$BIN/erpulse-agentd" ] || bail "no $BIN/erpulse-agentd (make)"
pki_make "$T/pki" || bail "cannot make the test PKI"
on_exit sink_stop
[ -n "${KEEP:-}" ] && on_exit "rm -rf $KEEP; cp -r $T $KEEP"

S=$T/state
K=$T/sink
P=$(free_port)
cat >"$T/a.conf" <<EOF
[agent]
state_dir = $S
allow_root = yes
jitter = 0
interval = 2
ca_file = $T/pki/ca.pem
[testblock]
mode = ok
EOF
count() { grep -c -- "$1" "$K/requests.log" 2>/dev/null || true; }
count_ge() { [ "$(count "$1")" -ge "$2" ]; }
delivered_gt() { [ "$(sink_seqs "$K" | wc -l)" -gt "$1" ]; }

sink_start "$K" "$P" "$T/pki/server.pem" "$T/pki/server.key" || bail "sink did not start"
"$AGENT" --config "$T/a.conf" enroll --collector "https://127.0.0.1:$P" --token good1 \
	>/dev/null 2>&1 || bail "enroll failed"

"$AGENT" --config "$T/a.conf" run 2>>"$T/agent.log" &
APID=$!
on_exit "kill -9 $APID"
wait_for 10 delivered_gt 0
tap_check "the daemon delivers" delivered_gt 0
tap_is "the resident process is erpulse-agentd (same PID as run)" \
	"$(readlink /proc/$APID/exe)" "$(readlink -f "$BIN/erpulse-agentd")"
heavy=$(grep -oE 'lib(curl|ssl|crypto|gnutls|pq|odbc|pcre2-8|sodium|systemd|jansson|inih)[^/]*\.so[^ ]*' \
	/proc/$APID/maps | sort -u | tr '\n' ' ')
tap_is "  ... it maps none of libcurl, OpenSSL, libpq, ODBC, PCRE2, sodium, systemd, jansson" "$heavy" ""
rss=$(awk '/^VmRSS:/ {print $2}' /proc/$APID/status)
tap_check "  ... its RSS is under 8 MiB (${rss} kB)" test "$rss" -lt 8192
out=$("$AGENT" --config "$T/a.conf" once 2>&1)
tap_is "  ... it holds the state lock: once refused (exit 1)" "$?" 1
tap_like "  ... saying why" "$out" "another erpulse-agent is running with state directory"

# ---- a config broken on disk without SIGHUP never reaches a cycle ----
sed -i 's/^interval = 2$/interval = often/' "$T/a.conf"
n0=$(sink_seqs "$K" | wc -l)
wait_for 8 delivered_gt "$((n0 + 1))"
tap_check "config broken on disk (no SIGHUP): cycles go on with the running copy" \
	delivered_gt "$((n0 + 1))"
tap_is "  ... and no cycle complained" "$(grep -c 'cannot load the running configuration' "$T/agent.log")" 0
sed -i 's/^interval = often$/interval = 2/' "$T/a.conf"

# ---- the backoff lives in state_dir/delivery between cycle processes ----
echo "503 3" >"$K/control"
n503=$(count ' 503 ')
wait_for 8 count_ge ' 503 ' "$((n503 + 1))"
t0=$(date +%s%N)
wait_for 10 count_ge ' 503 ' "$((n503 + 2))"
ms=$((($(date +%s%N) - t0) / 1000000))
tap_check "503 + Retry-After 3 across cycle processes: next attempt after >= 3 s (${ms} ms)" \
	test "$ms" -ge 2800 -a "$ms" -le 9000
tap_like "  ... the backoff is persisted" "$(cat "$S/delivery")" "attempt [1-9]"
echo normal >"$K/control"
wait_for 15 grep -q '^attempt 0' "$S/delivery"
tap_like "  ... and reset after the next success" "$(cat "$S/delivery")" "attempt 0"
kill -TERM $APID
wait $APID
tap_is "SIGTERM: exit 0" "$?" 0

# ---- where the supervisor is looked for ----
mkdir -p "$T/bin1" "$T/bin2"
cp "$AGENT" "$T/bin1/"
cp "$AGENT" "$BIN/erpulse-agentd" "$T/bin2/"
"$T/bin2/erpulse-agent" --config "$T/a.conf" run 2>>"$T/agent.log" &
APID=$!
on_exit "kill -9 $APID"
n1=$(sink_seqs "$K" | wc -l)
wait_for 10 delivered_gt "$n1"
tap_is "relocated install: the supervisor next to the binary is used" \
	"$(readlink /proc/$APID/exe)" "$T/bin2/erpulse-agentd"
tap_check "  ... and its cycles run that binary and deliver" delivered_gt "$n1"
kill -TERM $APID
wait $APID
mkdir -p "$T/pfx/bin" "$T/pfx/libexec/erpulse"
cp "$AGENT" "$T/pfx/bin/"
cp "$BIN/erpulse-agentd" "$T/pfx/libexec/erpulse/"
"$T/pfx/bin/erpulse-agent" --config "$T/a.conf" run 2>>"$T/agent.log" &
APID=$!
on_exit "kill -9 $APID"
wait_for 5 test "$(readlink /proc/$APID/exe)" = "$T/pfx/libexec/erpulse/erpulse-agentd"
tap_is "installed under another prefix: PREFIX/libexec/erpulse/erpulse-agentd is used" \
	"$(readlink /proc/$APID/exe)" "$T/pfx/libexec/erpulse/erpulse-agentd"
kill -TERM $APID
wait $APID
out=$("$T/bin1/erpulse-agent" --config "$T/a.conf" run 2>&1)
rc=$?
if [ -x /usr/local/libexec/erpulse/erpulse-agentd ]; then
	tap_ok "# SKIP an installed /usr/local/libexec/erpulse/erpulse-agentd is found instead"
	tap_ok "# SKIP"
else
	tap_is "no supervisor anywhere: run exits 1" "$rc" 1
	tap_like "  ... naming the three places" "$out" \
		"cannot find the daemon's supervisor: no executable '$T/bin1/erpulse-agentd', '$T/bin1/../libexec/erpulse/erpulse-agentd' nor '.*/libexec/erpulse/erpulse-agentd'"
fi

tap_done
