#!/bin/bash
# Adoption beside risk (docs/adoption.md): reports carrying the erp probe's
# usage metrics, the collector's GET /api/v1/adoption/<customer>: the score
# and its reason, the day's history, the customer-health view with the
# published weights, and customer isolation (another customer's adoption is a
# 404 like a missing one).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/40-collector-ingest.sh"

coll_start adoption || bail "collector did not start"
AA=$(coll_enroll CustA "$T/ka" host-a) && [ -n "$AA" ] || bail "enroll A"
AB=$(coll_enroll CustB "$T/kb" host-b) && [ -n "$AB" ] || bail "enroll B"

# with_erp AGENT SEQ HOST USERS ACTIVE7 DOCS_JSON: a report with an erp probe entry
with_erp() {
	coll_report "$1" "$2" '[]' "$3" | /usr/bin/python3 -c 'import json,sys
r = json.load(sys.stdin); users, active, docs = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
r["probes"].append({"name": "erp", "target": "erp@localhost:5432", "status": "ok", "error": None,
  "duration_ms": 40, "findings": [], "metrics": {"applications": {"erp": "tryton"}, "databases": {
  "postgres": {"application": None},
  "erp": {"application": "tryton", "usage": {"users_enabled": users, "active_users_7d": active,
          "documents_7d": docs}}}}})
sys.stdout.write(json.dumps(r, separators=(",", ":"), sort_keys=True))' "$4" "$5" "$6"
}
with_erp "$AA" 1 host-a 10 2 '{"sales_orders": 3, "invoices": 0, "stock_moves": 0, "purchase_orders": null, "journal_entries": 4}' >"$T/ra"
with_erp "$AB" 1 host-b 10 7 '{"sales_orders": 3, "invoices": 2, "stock_moves": 9, "purchase_orders": 1, "journal_entries": 4}' >"$T/rb"
coll_send "$T/ka" "$AA" "$T/ra" | grep -q '^200' || bail "report A: $(coll_send "$T/ka" "$AA" "$T/ra")"
coll_send "$T/kb" "$AB" "$T/rb" | grep -q '^200' || bail "report B"
tap_ok "reports with erp usage metrics accepted"

VENDOR=$(coll_cli user add vera --role vendor 2>/dev/null)
VB=$(coll_cli user add bert --role viewer --customer CustB 2>/dev/null)
get() { curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $1" "$COLL_URL$2"; printf ' %s' "$(cat "$T/body")"; }
cust() { get "$VENDOR" /api/v1/customers | /usr/bin/python3 -c 'import json,sys
j = json.loads(sys.stdin.read().split(" ", 1)[1]); print([c["id"] for c in j["customers"] if c["name"] == sys.argv[1]][0])' "$1"; }
CA=$(cust CustA) CB=$(cust CustB)
[ -n "$CA" ] && [ -n "$CB" ] || bail "customer ids"

field() { /usr/bin/python3 -c 'import json,sys; c, b = sys.stdin.read().split(" ", 1); j = json.loads(b); print(c, eval(sys.argv[1]))' "$1"; }
# A: 2 of 10 weekly active (29 of 100 at a 70% target), 2 of 4 installed core
# modules used (50): (29*25 + 50*30) / 55 = 40 -> churn warning
tap_is "customer A: adoption 40, churn warning, with its reason" \
	"$(get "$VENDOR" "/api/v1/adoption/$CA" | field '(j["adoption"]["score"], j["adoption"]["band"], j["adoption"]["reason"])')" \
	"200 (40, 'churn_warning', '2 of 10 enabled users active in 7 days (20%, full marks at 70%). 2 of 4 core modules used in 7 days (used: sales, accounting; idle: invoicing, stock).')"
risk=$(get "$VENDOR" /api/v1/customers | /usr/bin/python3 -c 'import json,sys
j = json.loads(sys.stdin.read().split(" ", 1)[1]); print([c["score"] for c in j["customers"] if c["name"] == "CustA"][0])')
want_health=$(/usr/bin/python3 -c "print(round(($risk * 40 + 40 * 40) / 80))")
tap_is "customer A: health = risk $risk and adoption 40 at 40/40 (SLA unknown gives its 20 away)" \
	"$(get "$VENDOR" "/api/v1/adoption/$CA" | field '(j["health"]["score"], j["health"]["risk_score"], j["health"]["sla_pct"], sorted(j["health"]["weights"].items()))')" \
	"200 ($want_health, $risk, None, [('adoption', 40), ('risk', 40), ('sla', 20)])"
tap_is "customer A: one day of history, no trend yet" \
	"$(get "$VENDOR" "/api/v1/adoption/$CA" | field '([h["score"] for h in j["history"]], j["trend_points_per_30d"])')" \
	"200 ([40], None)"
tap_is "customer B (its viewer): adoption 100, healthy" \
	"$(get "$VB" "/api/v1/adoption/$CB" | field '(j["adoption"]["score"], j["adoption"]["band"])')" "200 (100, 'healthy')"
tap_is "customer B's viewer: customer A's adoption is a 404 like a missing customer" \
	"$(get "$VB" "/api/v1/adoption/$CA")" "$(get "$VB" /api/v1/adoption/nosuchcustomer)"
tap_like "no token: 401" "$(curl -s -o /dev/null -w '%{http_code}' "$COLL_URL/api/v1/adoption/$CA")" '^401$'
tap_done
