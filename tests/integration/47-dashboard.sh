#!/bin/bash
# The dashboard served by a real erpulse-collector over HTTPS: the page at /
# (and /hosts/ID, the links in alert notices) is byte for byte
# collector/web/index.html, with the Content-Security-Policy whose
# hashes are those of its inline script and style; then headless Chromium
# (when installed) signs in with a vendor token, a customer viewer's token
# and a bogus one, and the rendered DOM shows the hosts, scores and
# explanations the read API returns - and a hostname full of markup as text.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/40-collector-ingest.sh"
. "$(dirname "$0")/pki.sh"

[ -x "$TOOLS/coll_post" ] || bail "no coll_post at $TOOLS (make tools)"
[ -x "$COLLECTOR" ] || bail "no collector at $COLLECTOR"
pki_make "$T/pki" || bail "cannot make the test PKI"
COLL_TLS=1 COLL_CA=$T/pki/ca.pem
export COLL_CA
coll_start dash || bail "collector did not start"

EVIL='<img src=x onerror=alert(1)>"&'"'"'<b>bold</b>'
A=$(coll_enroll "Acme" "$T/ka" erp-prod-01) && [ -n "$A" ] || bail "enroll A"
B=$(coll_enroll "Other" "$T/kb" other-db) && [ -n "$B" ] || bail "enroll B"
E=$(coll_enroll "Acme" "$T/ke" "$EVIL") && [ -n "$E" ] || bail "enroll E"
FRAG='[{"kind":"index_fragmentation","object":"odoo/public.sale_order_line_order_id_idx","value":57.3,"unit":"%","threshold":30,"severity":"critical","method":"pgstatindex","message":"57% of the leaf pages are wasted","remediation":"REINDEX INDEX CONCURRENTLY \"public\".\"sale_order_line_order_id_idx\";","pages":48000}]'
coll_report "$A" 1 "$FRAG" erp-prod-01 >"$T/ra"
coll_report "$B" 1 '[]' other-db >"$T/rb"
coll_report "$E" 1 '[]' "$EVIL" >"$T/re"
coll_send "$T/ka" "$A" "$T/ra" | grep -q '^200' || bail "report A"
coll_send "$T/kb" "$B" "$T/rb" | grep -q '^200' || bail "report B"
coll_send "$T/ke" "$E" "$T/re" | grep -q '^200' || bail "report E"
VENDOR=$(coll_cli user add vera --role vendor 2>/dev/null)
VIEWER=$(coll_cli user add olga --role viewer --customer Other 2>/dev/null)
[ -n "$VENDOR" ] && [ -n "$VIEWER" ] || bail "user add"

# ---- the page and its headers ----------------------------------------------------
HTML=$SRC/collector/web/index.html
fetch() { # PATH -> headers in $T/h, body in $T/b, prints the status
	curl -s --cacert "$COLL_CA" -D "$T/h" -o "$T/b" -w '%{http_code}' "$COLL_URL$1"
}
hdr() { tr -d '\r' <"$T/h" | sed -n "s/^$1: //Ip" | head -n1; }
code=$(fetch /)
[ "$code" = 200 ] || bail "GET / answered $code: the dashboard is not served (wire coll_dashboard_asset into collector/http/server.c, see docs/dashboard.md)"
tap_ok "GET / answers 200"
tap_like "it is HTML" "$(hdr Content-Type)" '^text/html'
tap_check "the body is collector/web/index.html byte for byte" cmp "$T/b" "$HTML"
CSP=$(hdr Content-Security-Policy)
WANT=$(/usr/bin/python3 - "$HTML" "$SRC/collector/web/vendor/uplot/uPlot.iife.min.js" <<'PY'
import base64, hashlib, re, sys
h = open(sys.argv[1], encoding="utf-8").read()
b64 = lambda b: base64.b64encode(hashlib.sha256(b).digest()).decode()
def one(tag):
    (body,) = re.findall(r"<%s>(.*?)</%s>" % (tag, tag), h, re.S)
    return b64(body.encode())
print("script-src 'sha256-%s' 'sha256-%s'; style-src 'sha256-%s';"
      % (one("script"), b64(open(sys.argv[2], "rb").read()), one("style")))
PY
)
tap_like "the CSP allows exactly the page's own inline script and style, and uPlot" "$CSP" "^default-src 'none'; $(printf '%s' "$WANT" | sed 's/[+.]/\\&/g')"
tap_like "the CSP limits fetch() to the collector and forbids framing" "$CSP" "connect-src 'self';.*frame-ancestors 'none'"
tap_is "the CSP has no unsafe-*" "$(printf "%s" "$CSP" | grep -c unsafe)" "0"
tap_is "nosniff" "$(hdr X-Content-Type-Options)" "nosniff"
tap_is "not cached" "$(hdr Cache-Control)" "no-store"
tap_is "/index.html is the same page" "$(fetch /index.html) $(cmp -s "$T/b" "$HTML" && echo same)" "200 same"
tap_is "/hosts/ID (notice links) is the same page" "$(fetch "/hosts/$A") $(cmp -s "$T/b" "$HTML" && echo same)" "200 same"
tap_like "/hosts/not-an-id: 404 JSON" "$(fetch /hosts/..%2fx) $(cat "$T/b")" '^404 .*not_found'
tap_like "an unknown path is still a 404 JSON error" "$(fetch /nope.js) $(cat "$T/b")" '^404 .*not_found'
tap_is "POST / is refused" "$(curl -s --cacert "$COLL_CA" -o /dev/null -w '%{http_code}' --data x "$COLL_URL/")" "405"
tap_like "the page itself needs no token (it holds no data)" "$(fetch /)" '^200$'

# ---- rendered by a real browser ------------------------------------------------------
CHROMIUM=${EP_TEST_CHROMIUM-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}
SCORE_A=$(curl -s --cacert "$COLL_CA" -H "Authorization: Bearer $VENDOR" "$COLL_URL/api/v1/hosts/$A" | json_get - 'j["score"]')
tap_check "the API scores host A below 100 (a critical index)" test "${SCORE_A:-100}" -lt 100
render() { # URL -> the DOM after scripts ran, in $T/dom
	local ud
	: >"$T/dom"
	ud=$(mktemp -d "$T/chromium.XXXXXX")
	HOME=$ud timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run --disable-dev-shm-usage \
		--user-data-dir="$ud" --ignore-certificate-errors-spki-list="$SPKI" \
		--virtual-time-budget=10000 --dump-dom "$1" >"$T/dom" 2>"$T/chromium.log"
}
# dom_like "description" REGEX: the rendered DOM (newlines removed) matches
dom_like() {
	if tr -d '\n' <"$T/dom" | grep -qE -- "$2"; then tap_ok "$1"; else
		tap_fail "$1"
		echo "#   the DOM ($(wc -c <"$T/dom") bytes) does not match /$2/"
		grep -v 'INFO:CONSOLE\|dbus' "$T/chromium.log" | tail -5 | sed 's/^/#   /'
	fi
}
if [ -z "$CHROMIUM" ]; then
	for what in "vendor: fleet table" "vendor: host detail" "viewer: own hosts only" "markup shown as text" "bogus token"; do
		_tap_n=$((_tap_n + 1))
		echo "ok $_tap_n # SKIP chromium not installed ($what)"
	done
else
	SPKI=$(pki_pin "$T/pki/server.pem" | sed 's|^sha256//||')
	render "$COLL_URL/#token=$VENDOR"
	dom_like "vendor: the fleet table lists host A" '<a href="/hosts/'"$A"'">erp-prod-01</a>'
	dom_like "vendor: with its score" "<span class=\"score [a-z_]+\" title=\"[A-Za-z ]+\">$SCORE_A</span>"
	dom_like "vendor: and the other customer's host" '>other-db</a>'
	dom_like "vendor: worst first" 'erp-prod-01</a>.*other-db</a>'
	dom_like "vendor: the summary counts hosts by band" 'id="band-critical"'
	dom_like "vendor: unknown (grey) is a band of its own" 'id="band-unknown"'
	dom_like "vendor: the open alert is listed" '<span class="sev critical">critical</span>'
	dom_like "markup in a hostname is shown as text" '&lt;img src=x onerror=alert\(1\)&gt;"&amp;'"'"'&lt;b&gt;bold&lt;/b&gt;'
	tap_is "... and never becomes an element" "$(grep -c '<img src=x\|<b>bold' "$T/dom")" "0"
	tap_is "the token appears nowhere in the DOM" "$(grep -c "$VENDOR" "$T/dom")" "0"

	render "$COLL_URL/hosts/$A#token=$VENDOR"
	dom_like "vendor: host detail names the host" '<h1 class="hostname">erp-prod-01</h1>'
	dom_like "vendor: host detail shows the score" "<span class=\"score [a-z_]+ big\" title=\"[A-Za-z ]+\">$SCORE_A</span>"
	dom_like "vendor: every lost point with its remediation and a copy button" \
		'Why points were lost.*index_fragmentation.*REINDEX INDEX CONCURRENTLY "public"."sale_order_line_order_id_idx";</pre><button class="copy" type="button"[^>]*>Copy</button>'
	dom_like "vendor: probes with their status" '<strong>postgres</strong>.*<span class="st ok">ok</span>'

	render "$COLL_URL/#token=$VIEWER"
	dom_like "viewer: sees its own host" '>other-db</a>'
	tap_is "viewer: no other customer's host or alert" "$(grep -c 'erp-prod-01\|sale_order_line' "$T/dom")" "0"

	render "$COLL_URL/#token=epa_bogus"
	dom_like "a bogus token: back to the sign-in form, with why" 'id="signin" class="card signin">.*The token was not accepted'
fi
tap_check "the collector is still running" kill -0 "$COLL_PID"
tap_done
