# Throwaway test PKI for HTTPS integration tests (sourced, needs the openssl CLI).
#
#   . tests/integration/pki.sh
#   pki_make DIR          creates, in DIR (EC P-256 keys, certificates PEM):
#     ca.pem ca.key                 the test CA
#     server.pem server.key         signed by the CA, for localhost and 127.0.0.1, valid now
#     wronghost.pem wronghost.key   signed by the CA, but only for wrong.example
#     expired.pem expired.key       signed by the CA, for localhost and 127.0.0.1, expired in 2020
#     otherca.pem otherca.key       a second, unrelated CA (for "wrong CA" tests)
#     other.pem other.key           signed by the other CA, for localhost and 127.0.0.1
#   pki_pin CERT          prints curl's pin of CERT's public key: sha256//BASE64
#
# Also (below): sink_start/sink_stop/sink_seqs for tests/tools/https_sink, and
# proxy_start/proxy_stop, a logging HTTP CONNECT proxy. Sourcing this file
# clears the *_proxy environment variables (loopback tests only).
#
# Everything is generated fresh on each call (about 0.3 s); nothing touches
# the system trust store.

_pki_conf() { # $1 = dir
	cat >"$1/openssl-ca.cnf" <<EOF
[ca]
default_ca = test_ca
[test_ca]
dir = $1
database = $1/index.txt
new_certs_dir = $1/newcerts
serial = $1/serial
default_md = sha256
policy = policy_any
copy_extensions = copy
unique_subject = no
[policy_any]
commonName = supplied
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_leaf]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
	: >"$1/index.txt"
	echo 1000 >"$1/serial"
	mkdir -p "$1/newcerts"
}

_pki_ca() { # dir name cn
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
		-subj "/CN=$3" -keyout "$1/$2.key" -out "$1/$2.pem" \
		-config "$1/openssl-ca.cnf" -extensions v3_ca 2>/dev/null
}

# _pki_leaf dir name ca san startdate enddate
_pki_leaf() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=$2" -addext "subjectAltName=$4" \
		-keyout "$1/$2.key" -out "$1/$2.csr" -config "$1/openssl-ca.cnf" 2>/dev/null || return 1
	openssl ca -batch -config "$1/openssl-ca.cnf" -cert "$1/$3.pem" -keyfile "$1/$3.key" \
		-extensions v3_leaf -startdate "$5" -enddate "$6" -notext \
		-in "$1/$2.csr" -out "$1/$2.pem" 2>/dev/null || return 1
	rm -f "$1/$2.csr"
}

pki_make() {
	local dir=$1 now_start later
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd)
	_pki_conf "$dir"
	now_start=$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)
	later=$(date -u -d '+3650 days' +%Y%m%d%H%M%SZ)
	_pki_ca "$dir" ca "erpulse test CA" || return 1
	_pki_ca "$dir" otherca "unrelated test CA" || return 1
	_pki_leaf "$dir" server ca "DNS:localhost,IP:127.0.0.1" "$now_start" "$later" || return 1
	_pki_leaf "$dir" wronghost ca "DNS:wrong.example" "$now_start" "$later" || return 1
	_pki_leaf "$dir" expired ca "DNS:localhost,IP:127.0.0.1" 20200101000000Z 20200201000000Z ||
		return 1
	_pki_leaf "$dir" other otherca "DNS:localhost,IP:127.0.0.1" "$now_start" "$later" || return 1
	chmod 600 "$dir"/*.key
}

pki_pin() {
	printf 'sha256//%s\n' "$(openssl x509 -in "$1" -pubkey -noout |
		openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)"
}

# ---- https_sink (tests/tools/https_sink.c) helpers -----------------------------
# The tests talk to loopback only: a proxy from the caller's environment must
# not get in the way (tests that want one set it themselves).
unset https_proxy HTTPS_PROXY http_proxy HTTP_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

# proxy_start PORT LOG: a minimal HTTP CONNECT proxy on 127.0.0.1:PORT that
# logs "CONNECT host:port" per tunnel to LOG (pid in $PROXY_PID).
proxy_start() {
	python3 - "$1" "$2" <<'PYEOF' &
import asyncio, sys
port, log = int(sys.argv[1]), sys.argv[2]
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data)
            await w.drain()
    except Exception:
        pass
    finally:
        w.close()
async def handle(r, w):
    line = (await r.readline()).decode()
    while (await r.readline()) not in (b"\r\n", b"\n", b""):
        pass
    method, target, _ = line.split(" ", 2)
    with open(log, "a") as f:
        f.write("%s %s\n" % (method, target))
    host, p = target.rsplit(":", 1)
    try:
        ur, uw = await asyncio.open_connection(host, int(p))
    except OSError:
        w.write(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
        w.close()
        return
    w.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await asyncio.gather(pipe(r, uw), pipe(ur, w))
async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", port)
    open(log, "a").close()
    async with srv:
        await srv.serve_forever()
asyncio.run(main())
PYEOF
	PROXY_PID=$!
	wait_for 5 test -f "$2"
}
proxy_stop() {
	[ -n "${PROXY_PID:-}" ] || return 0
	kill "$PROXY_PID" 2>/dev/null
	wait "$PROXY_PID" 2>/dev/null
	PROXY_PID=
}
# sink_start DIR PORT CERT KEY: starts the test HTTPS server in the background
# (pid in $SINK_PID), waits until it listens. sink_stop: stops it.
sink_start() {
	local dir=$1 port=$2 cert=$3 key=$4 i
	mkdir -p "$dir"
	rm -f "$dir/ready"
	"${TOOLS:-$O/build/obj/tests/tools}/https_sink" --port "$port" --cert "$cert" --key "$key" \
		--dir "$dir" >>"$dir/sink.log" 2>&1 &
	SINK_PID=$!
	for ((i = 0; i < 100; i++)); do
		[ -f "$dir/ready" ] && return 0
		kill -0 "$SINK_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
sink_stop() {
	[ -n "${SINK_PID:-}" ] || return 0
	kill "$SINK_PID" 2>/dev/null
	wait "$SINK_PID" 2>/dev/null
	SINK_PID=
}
# sink_seqs DIR: the seqs of the accepted reports, in arrival order, one per line
sink_seqs() {
	ls "$1/reports" 2>/dev/null | sed -n 's/^[0-9]*-\([0-9]*\)\.json$/\1/p'
}
