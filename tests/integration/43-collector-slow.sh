#!/bin/bash
# Slow and greedy clients: a slowloris trickling its headers, a client
# trickling its body (libmicrohttpd's idle timeout restarts on every byte;
# the total request deadline still cuts both off), an idle connection, and
# the per-address connection limit -- while a normal client is served.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/40-collector-ingest.sh"

coll_start slow "connection_timeout = 2s" "request_deadline = 3s" "max_per_ip = 8" ||
	bail "collector did not start"
PORT=${COLL_URL##*:}

# trickle MODE: prints the seconds until the server closed the connection
# (or "alive" after 15 s). MODE: headers | body | idle
trickle() {
	/usr/bin/python3 - "$PORT" "$1" <<'PY'
import socket, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(0.5)
t0 = time.monotonic()
if mode == "headers":
    data = b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
elif mode == "body":
    s.sendall(b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
              b"X-Erpulse-Agent: 00\r\nX-Erpulse-Signature: x\r\n\r\n")
    data = b"{" * 1000
else:
    data = b""
i = 0
while time.monotonic() - t0 < 15:
    try:
        if i < len(data):
            s.send(data[i:i + 1]); i += 1
        got = s.recv(4096)
        if not got:
            break
    except socket.timeout:
        continue
    except OSError:
        break
print("%.1f" % (time.monotonic() - t0) if time.monotonic() - t0 < 15 else "alive")
PY
}
trickle headers >"$T/h" &
ph=$!
trickle body >"$T/b" &
pb=$!
trickle idle >"$T/i" &
pi=$!
sleep 1
# meanwhile a normal client is served at once
t0=$(date +%s%N)
code=$(curl -s -o /dev/null -w '%{http_code}' "$COLL_URL/healthz")
t1=$(date +%s%N)
tap_is "a normal request is served while slow clients hang on" "$code" "200"
tap_like "and quickly" "$(((t1 - t0) / 1000000))" '^[0-9]{1,3}$'
wait $ph $pb $pi
h=$(cat "$T/h") b=$(cat "$T/b") i=$(cat "$T/i")
echo "# headers trickle cut after ${h}s, body trickle after ${b}s, idle after ${i}s"
ok_within() { [ "$1" != alive ] && /usr/bin/python3 -c "import sys; sys.exit(0 if $1 <= $2 else 1)"; }
tap_check "slowloris (one header byte per 0.5 s) cut off by the 3 s request deadline" ok_within "$h" 5
tap_check "slow body (one byte per 0.5 s) cut off by the request deadline" ok_within "$b" 5
tap_check "an idle connection closed by the 2 s connection timeout" ok_within "$i" 4
tap_like "timeouts counted in /metrics" "$(curl -s "$COLL_URL/metrics")" 'rejected_total\{reason="timeout"\} [1-9]'

# per-address limit: 8 idle connections held, the 9th is not served
/usr/bin/python3 - "$PORT" >"$T/lim" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
held = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
time.sleep(0.3)
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(3)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
try:
    got = s.recv(100)
except OSError:
    got = b""
print("refused" if not got else got.split(b"\r\n")[0].decode())
for h in held: h.close()
s.close()
PY
tap_is "the 9th connection from one address (max_per_ip = 8) is refused" "$(cat "$T/lim")" "refused"
sleep 0.3
tap_like "after they close, the address is served again" \
	"$(curl -s -o /dev/null -w '%{http_code}' "$COLL_URL/healthz")" '^200$'
tap_check "the collector is still running" kill -0 "$COLL_PID"
tap_done
