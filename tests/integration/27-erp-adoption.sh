#!/bin/bash
# Adoption beside risk (docs/adoption.md): reports carrying the erp probe's
# usage metrics, the collector's GET /api/v1/adoption/<customer>: the score
# and its reason, the day's history, the customer-health view with the
# published weights, and customer isolation (another customer's adoption is a
# 404 like a missing one); SLA attainment from real incidents (this month's
# resolution rate), the [health] weights and bands of collector.conf changing
# the figure, and their validation (FILE:LINE errors).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/40-collector-ingest.sh"

coll_start adoption || bail "collector did not start"
AA=$(coll_enroll CustA "$T/ka" host-a) && [ -n "$AA" ] || bail "enroll A"
AB=$(coll_enroll CustB "$T/kb" host-b) && [ -n "$AB" ] || bail "enroll B"

# with_erp AGENT SEQ HOST USERS ACTIVE7 DOCS_JSON [FINDINGS]: a report with an erp probe entry
with_erp() {
	coll_report "$1" "$2" "${7:-[]}" "$3" | /usr/bin/python3 -c 'import json,sys
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

# ---- SLA attainment from real incidents --------------------------------------------------
# two critical findings open two incidents (standard tier); the next report
# clears one (resolved, verified, within target), the other stays open:
# this month's resolution rate is 1 of 2 = 50%
crit() { echo "{\"kind\":\"index_fragmentation\",\"object\":\"erp/public.$1\",\"value\":$2,\"unit\":\"%\",\"threshold\":30,\"critical_threshold\":50,\"severity\":\"$3\",\"method\":\"pgstatindex\",\"message\":\"wasted leaf space\",\"remediation\":\"REINDEX INDEX CONCURRENTLY public.$1;\",\"pages\":5000}"; }
DOCS_A='{"sales_orders": 3, "invoices": 0, "stock_moves": 0, "purchase_orders": null, "journal_entries": 4}'
with_erp "$AA" 2 host-a 10 2 "$DOCS_A" "[$(crit sale_line_idx 55 critical),$(crit stock_move_idx 60 critical)]" >"$T/ra2"
coll_send "$T/ka" "$AA" "$T/ra2" | grep -q '^200' || bail "report A2"
with_erp "$AA" 3 host-a 10 2 "$DOCS_A" "[$(crit sale_line_idx 3 info),$(crit stock_move_idx 60 critical)]" >"$T/ra3"
coll_send "$T/ka" "$AA" "$T/ra3" | grep -q '^200' || bail "report A3"
sla_of() { get "$VENDOR" "/api/v1/adoption/$CA" | field '(j["health"]["sla_pct"], j["health"]["sla"]["opened"], j["health"]["sla"]["resolved_within_target"])'; }
sla_is() { [ "$(sla_of)" = "$1" ]; }
wait_for 10 sla_is "200 (50, 2, 1)"
tap_is "customer A: SLA attainment 50% (2 incidents this month, 1 resolved within target)" \
	"$(sla_of)" "200 (50, 2, 1)"
tap_is "...the same figure as GET /api/v1/sla" \
	"$(get "$VENDOR" "/api/v1/sla?customer=$CA" | field 'round(j["sla"]["overall"]["resolution_rate"] * 100)')" "200 50"
risk_of() { get "$VENDOR" /api/v1/customers | /usr/bin/python3 -c 'import json,sys
j = json.loads(sys.stdin.read().split(" ", 1)[1]); print([c["score"] for c in j["customers"] if c["name"] == "CustA"][0])'; }
risk=$(risk_of)
want_health=$(/usr/bin/python3 -c "print(round(($risk * 40 + 40 * 40 + 50 * 20) / 100))")
tap_is "customer A: health = risk $risk, adoption 40, SLA 50 at 40/40/20" \
	"$(get "$VENDOR" "/api/v1/adoption/$CA" | field '(j["health"]["score"], j["health"]["risk_score"], j["health"]["adoption_score"], j["health"]["sla"]["measure"], j["health"]["sla"]["promise_pct"])')" \
	"200 ($want_health, $risk, 40, 'resolution_rate', 95)"
tap_is "customer B (no incidents): SLA unknown, not A's" \
	"$(get "$VB" "/api/v1/adoption/$CB" | field '(j["health"]["sla_pct"], j["health"]["sla"]["opened"])')" "200 (None, 0)"

# ---- [health] in collector.conf ----------------------------------------------------------
coll_stop
coll_start adoption "[alerts]" "[health]" "risk_weight = 0" "adoption_weight = 1" "sla_weight = 1" \
	"login_weight = 1" "modules_weight = 0" "login_target = 20" \
	"healthy_from = 75" "at_risk_from = 70" || bail "collector did not restart"
# adoption = login part only, 2 of 10 active at a 20% target = 100; health =
# (100 + 50) / 2 = 75 -> healthy from 75
tap_is "configured weights and bands change adoption and health" \
	"$(get "$VENDOR" "/api/v1/adoption/$CA" | field '(j["adoption"]["score"], j["adoption"]["band"], j["health"]["score"], j["health"]["band"], sorted(j["health"]["weights"].items()), sorted(j["health"]["bands"].items()))')" \
	"200 (100, 'healthy', 75, 'healthy', [('adoption', 1), ('risk', 0), ('sla', 1)], [('at_risk_from', 70), ('healthy_from', 75)])"
tap_is "customer scope still holds: B's viewer gets 404 for A" \
	"$(get "$VB" "/api/v1/adoption/$CA" | cut -c1-3)" "404"
bad_health() { { printf '[server]\nlisten = 127.0.0.1:1\ntls = no\n[health]\n'; printf '%s\n' "$@"; } >"$T/h.conf"; "$COLLECTOR" --config "$T/h.conf" migrate 2>&1; }
tap_like "bands the wrong way round: FILE:LINE error" \
	"$(bad_health 'healthy_from = 60' 'at_risk_from = 80')" 'h\.conf:6: \[health\] at_risk_from: must be below healthy_from'
tap_like "all health weights 0: FILE:LINE error" \
	"$(bad_health 'risk_weight = 0' 'adoption_weight = 0' 'sla_weight = 0')" 'h\.conf:7: \[health\] sla_weight: .*all 0'
tap_like "a weight out of range: FILE:LINE error" "$(bad_health 'risk_weight = 101')" 'h\.conf:5:.*risk_weight'
tap_like "an unknown [health] key: FILE:LINE error" "$(bad_health 'churn_from = 3')" 'h\.conf:5:.*churn_from'
tap_done
