#!/bin/bash
# The read API's cross-tenant matrix: vendor, two customer-scoped viewers,
# no token and a bogus token, against every endpoint and both customers'
# objects. Another customer's host answers exactly like a missing one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/40-collector-ingest.sh"

coll_start api || bail "collector did not start"
AA=$(coll_enroll CustA "$T/ka" host-a) && [ -n "$AA" ] || bail "enroll A"
AB=$(coll_enroll CustB "$T/kb" host-b) && [ -n "$AB" ] || bail "enroll B"
FRAG='[{"kind":"index_fragmentation","object":"odoo/public.OBJ_idx","value":55,"unit":"%","threshold":30,"severity":"critical","method":"pgstatindex","message":"m","remediation":"REINDEX INDEX CONCURRENTLY x;","pages":5000}]'
coll_report "$AA" 1 "${FRAG/OBJ/a}" host-a >"$T/ra"
coll_report "$AB" 1 "${FRAG/OBJ/b}" host-b >"$T/rb"
coll_send "$T/ka" "$AA" "$T/ra" | grep -q '^200' || bail "report A"
coll_send "$T/kb" "$AB" "$T/rb" | grep -q '^200' || bail "report B"

VENDOR=$(coll_cli user add vera --role vendor 2>/dev/null)
VA=$(coll_cli user add anna --role viewer --customer CustA 2>/dev/null)
VB=$(coll_cli user add bert --role viewer --customer CustB 2>/dev/null)
tap_like "user add prints an API token once" "$VENDOR" '^epa_[0-9a-f]{40}$'
tap_check "a viewer without --customer is refused" bash -c "! $COLLECTOR --config $COLL_CONF user add x --role viewer"
tap_is "API tokens are stored hashed" "$(coll_sql "$T/api.db" "SELECT COUNT(*) FROM users WHERE token_hash LIKE 'epa_%'")" "0"

get() { # TOKEN PATH -> "CODE BODY"
	local auth=()
	[ -n "$1" ] && auth=(-H "Authorization: Bearer $1")
	curl -s -o "$T/body" -w '%{http_code}' "${auth[@]}" "$COLL_URL$2"
	printf ' %s' "$(cat "$T/body")"
}
ids() { /usr/bin/python3 -c 'import json,sys; j=json.loads(sys.stdin.read().split(" ",1)[1]); k=sys.argv[1]; print(" ".join(sorted(x.get("hostname") or x.get("name") for x in j[k])))' "$1"; }

# who            endpoint                 want
for who in VENDOR VA VB; do
	tok=${!who}
	case $who in
	VENDOR) hosts="host-a host-b" custs="CustA CustB" ;;
	VA) hosts="host-a" custs="CustA" ;;
	VB) hosts="host-b" custs="CustB" ;;
	esac
	tap_is "$who: /api/v1/hosts lists exactly its hosts" "$(get "$tok" /api/v1/hosts | ids hosts)" "$hosts"
	tap_is "$who: /api/v1/customers lists exactly its customers" "$(get "$tok" /api/v1/customers | ids customers)" "$custs"
	tap_is "$who: /api/v1/alerts lists exactly its hosts' alerts" "$(get "$tok" /api/v1/alerts | ids alerts)" "$hosts"
	for h in AA AB; do
		hid=${!h}
		r=$(get "$tok" "/api/v1/hosts/$hid")
		visible=no
		case "$who:$h" in VENDOR:* | VA:AA | VB:AB) visible=yes ;; esac
		if [ $visible = yes ]; then
			tap_is "$who: host $h visible with report, explanation, alerts, forecasts" \
				"$(printf '%s' "$r" | /usr/bin/python3 -c 'import json,sys
c, b = sys.stdin.read().split(" ", 1); j = json.loads(b)
print(c, j["id"] == sys.argv[1], j["report"]["agent_id"] == sys.argv[1], len(j["alerts"]),
      isinstance(j["explanation"]["deductions"], list), isinstance(j["forecasts"], list),
      len(j["findings"]))' "$hid")" "200 True True 1 True True 1"
		else
			missing=$(get "$tok" /api/v1/hosts/0123456789abcdef0123456789abcdef)
			tap_is "$who: host $h of another customer is a 404 like a missing one" "$r" "$missing"
		fi
	done
done
for path in /api/v1/hosts /api/v1/customers /api/v1/alerts /api/v1/hosts/$AA; do
	tap_like "no token on $path: 401" "$(get "" "$path")" '^401 .*unauthorized'
	tap_like "bogus token on $path: 401" "$(get epa_0000 "$path")" '^401 .*unauthorized'
done
tap_like "alerts?state=all includes closed ones too" "$(get "$VENDOR" '/api/v1/alerts?state=all')" '^200 '
tap_is "hosts?limit=1&offset=1 pages" "$(get "$VENDOR" '/api/v1/hosts?limit=1&offset=1' | ids hosts)" "host-b"
tap_like "a bad limit is a 400" "$(get "$VENDOR" '/api/v1/hosts?limit=0')" '^400 '
tap_like "a malformed host id is a 404" "$(get "$VENDOR" '/api/v1/hosts/..%2f..%2fetc')" '^404 '

# host labels (`host label ID TEXT`): in the hosts list, the host and its alerts
coll_cli host label "$AA" "ERP prod (Shanghai)" >/dev/null 2>&1 || bail "host label"
lbl() { /usr/bin/python3 -c 'import json,sys; j=json.loads(sys.stdin.read().split(" ",1)[1]); e=eval(sys.argv[1]); print(e)' "$1"; }
tap_is "hosts list carries the label (null when none)" \
	"$(get "$VENDOR" /api/v1/hosts | lbl 'sorted((h["hostname"], h["label"]) for h in j["hosts"])')" \
	"[('host-a', 'ERP prod (Shanghai)'), ('host-b', None)]"
tap_is "one host carries its label, and so do its alerts" \
	"$(get "$VA" "/api/v1/hosts/$AA" | lbl '(j["label"], [a["label"] for a in j["alerts"]])')" \
	"('ERP prod (Shanghai)', ['ERP prod (Shanghai)'])"
tap_is "the alerts list has the label column" \
	"$(get "$VENDOR" /api/v1/alerts | lbl 'sorted((a["hostname"], a["label"]) for a in j["alerts"])')" \
	"[('host-a', 'ERP prod (Shanghai)'), ('host-b', None)]"
# customers carry their tier and their open (live) incidents, in the viewer's scope
coll_cli customer tier CustA gold >/dev/null 2>&1 || bail "customer tier"
tap_is "customers list: tier and open incidents per customer" \
	"$(get "$VENDOR" /api/v1/customers | lbl 'sorted((c["name"], c["tier"], c["open_incidents"]) for c in j["customers"])')" \
	"[('CustA', 'gold', 1), ('CustB', 'standard', 1)]"
tap_is "open incidents agree with the incidents API" \
	"$(get "$VENDOR" '/api/v1/incidents?customer=CustA' | lbl 'len(j["incidents"])')" "1"
tap_is "a viewer sees its own customer's tier and count only" \
	"$(get "$VB" /api/v1/customers | lbl '[(c["name"], c["tier"], c["open_incidents"]) for c in j["customers"]]')" \
	"[('CustB', 'standard', 1)]"
tap_done
