#!/bin/bash
# The history API (docs/dashboard.md "History API") of a real collector:
# a host's score and category history written at ingest, a fixture history
# of 30 days (dashboard-fixture.py) read back per host, per customer and for
# the fleet; at most 1000 points a series whatever the range; a customer
# viewer gets 404 for another customer's host and customer series.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/40-collector-ingest.sh"

[ -x "$TOOLS/coll_post" ] || bail "no coll_post at $TOOLS (make tools)"
[ -x "$COLLECTOR" ] || bail "no collector at $COLLECTOR"
coll_start series || bail "collector did not start"
DB=$T/series.db
A=$(coll_enroll "Acme" "$T/ka" erp-prod-01) && [ -n "$A" ] || bail "enroll A"
B=$(coll_enroll "Other" "$T/kb" other-db) && [ -n "$B" ] || bail "enroll B"
FRAG='[{"kind":"index_fragmentation","object":"odoo/public.sale_order_line_order_id_idx","value":57.3,"unit":"%","threshold":30,"severity":"critical","method":"pgstatindex","message":"57% wasted","remediation":"REINDEX INDEX CONCURRENTLY x;","pages":48000}]'
coll_report "$A" 1 "$FRAG" erp-prod-01 >"$T/ra"
coll_report "$B" 1 '[]' other-db >"$T/rb"
out=$(coll_send "$T/ka" "$A" "$T/ra"); case $out in 200*) ;; *) cat "$COLL_LOG" | tail -5; bail "report A: $out" ;; esac
coll_send "$T/kb" "$B" "$T/rb" | grep -q '^200' || bail "report B"
VENDOR=$(coll_cli user add vera --role vendor 2>/dev/null)
VIEWER=$(coll_cli user add olga --role viewer --customer Other 2>/dev/null)
[ -n "$VENDOR" ] && [ -n "$VIEWER" ] || bail "user add"
CA=$(coll_cli customer add Acme 2>/dev/null || true)
CA=$(coll_sql "$DB" "SELECT id FROM customers WHERE name = 'Acme'")
CB=$(coll_sql "$DB" "SELECT id FROM customers WHERE name = 'Other'")
get() { # TOKEN PATH -> body in $T/b, prints the status
	curl -s -H "Authorization: Bearer $1" -o "$T/b" -w '%{http_code}' "$COLL_URL/api/v1/$2"
}

# ---- written at ingest ---------------------------------------------------------------
SCORE=$(get "$VENDOR" "hosts/$A" >/dev/null; json_get "$T/b" 'j["score"]')
tap_is "ingest stored the score of the report in the history" \
	"$(get "$VENDOR" "hosts/$A/series?names=score" && json_get "$T/b" 'j["series"][0]["v"]')" "200[$SCORE.0]"
tap_is "... and the category scores" \
	"$(get "$VENDOR" "hosts/$A/series?names=score.database,score.liveness" >/dev/null && json_get "$T/b" '[s["name"] for s in j["series"] if len(s["v"]) == 1]')" \
	"['score.database', 'score.liveness']"
tap_like "a host's series names" "$(get "$VENDOR" "hosts/$A/series" && cat "$T/b")" \
	'^200.*"names":\["score","score.database".*"index_fragmentation:odoo/public.sale_order_line_order_id_idx"'

# ---- the maintenance thread's hourly fleet snapshot -----------------------------------------
fleet_rows() { coll_sql "$DB" "SELECT customer_id = '*', healthy + at_risk + critical + unknown + no_score FROM fleet_history ORDER BY 1, 2"; }
snapshot_taken() { test "$(coll_sql "$DB" "SELECT COUNT(*) FROM fleet_history WHERE customer_id = '*'")" = 1; }
wait_for 60 snapshot_taken
tap_is "the maintenance thread writes this hour's host counts per customer and for the fleet" \
	"$(fleet_rows | tr '\n' ' ')" "0|1 0|1 1|2 "

# ---- a fixture history of 30 days ---------------------------------------------------
NOW=$(date +%s)
/usr/bin/python3 "$SRC/tests/integration/dashboard-fixture.py" "$DB" "$A" "$NOW" || bail "fixture"
FROM=$((NOW - 30 * 86400 - 7200)) TO=$((NOW + 1))
q="from=$FROM&to=$TO"
get "$VENDOR" "hosts/$A/series?names=score&$q&step=3600" >/dev/null
tap_is "score history: one point per hour over 30 days" "$(json_get "$T/b" 'len(j["series"][0]["t"])')" "720"
tap_is "... the fixture's last value" "$(json_get "$T/b" 'j["series"][0]["v"][-1]')" "85.0"
get "$VENDOR" "hosts/$A/series?names=score&$q&step=60" >/dev/null
tap_is "a step too fine for the range is raised: at most 1000 points" \
	"$(json_get "$T/b" 'j["step"] >= (j["to"] - j["from"]) / 1000 and len(j["series"][0]["t"]) <= 1000')" "True"
get "$VENDOR" "hosts/$A/series?names=score&$q&step=86400" >/dev/null
tap_is "daily buckets: the day's worst score" "$(json_get "$T/b" 'min(j["series"][0]["v"]) >= 84 and max(j["series"][0]["v"]) <= 88')" "True"
get "$VENDOR" "hosts/$A/series?names=disk_usage:/,index_fragmentation:odoo/public.sale_order_line_order_id_idx,security_updates:host&$q&step=3600" >/dev/null
tap_is "an object's history: samples of the last 14 days plus hourly rollups before" \
	"$(json_get "$T/b" '(len(j["series"][0]["t"]), j["series"][0]["v"][0], round(j["series"][0]["v"][-1], 3))')" "(720, 50.0, 73.958)"
tap_is "an index's wasted %: the last hour averages the fixture's 53.5 and the report's 57.3" \
	"$(json_get "$T/b" 'j["series"][1]["v"][-1]')" "55.4"
tap_is "pending security updates" "$(json_get "$T/b" 'j["series"][2]["v"][-1]')" "6.0"
tap_is "an unknown name answers an empty series" \
	"$(get "$VENDOR" "hosts/$A/series?names=nope:x" >/dev/null; json_get "$T/b" 'j["series"]')" "[{'name': 'nope:x', 't': [], 'v': []}]"
get "$VENDOR" "customers/$CA/series?names=score,healthy,at_risk&$q&step=3600" >/dev/null
tap_is "a customer's score and band counts per hour" \
	"$(json_get "$T/b" '[len(s["t"]) for s in j["series"]] + [j["series"][1]["v"][0]]')" "[720, 720, 720, 2.0]"
get "$VENDOR" "fleet/series?names=healthy,at_risk&$q&step=3600" >/dev/null
tap_is "fleet band counts: summed over the customers" "$(json_get "$T/b" '[j["series"][0]["v"][0], j["series"][1]["v"][0]]')" "[4.0, 2.0]"
get "$VIEWER" "fleet/series?names=healthy&$q&step=3600" >/dev/null
tap_is "a viewer's fleet is its customer only" "$(json_get "$T/b" 'j["series"][0]["v"][0]')" "2.0"

# ---- scope and arguments -----------------------------------------------------------
tap_is "a viewer gets its own host's series" "$(get "$VIEWER" "hosts/$B/series?names=score")" "200"
tap_like "... but 404 for another customer's host" "$(get "$VIEWER" "hosts/$A/series?names=score") $(cat "$T/b")" '^404 .*not_found'
tap_like "... and 404 for another customer's series" "$(get "$VIEWER" "customers/$CA/series?names=score") $(cat "$T/b")" '^404 .*not_found'
tap_is "... and its own customer's" "$(get "$VIEWER" "customers/$CB/series?names=score")" "200"
tap_is "no token: 401" "$(get "" "hosts/$A/series?names=score")" "401"
tap_is "from after to: 400" "$(get "$VENDOR" "hosts/$A/series?from=10&to=5")" "400"
tap_is "more than 400 days: 400" "$(get "$VENDOR" "hosts/$A/series?from=0&to=$NOW")" "400"
tap_is "an unknown host: 404" "$(get "$VENDOR" "hosts/0123456789abcdef0123456789abcdef/series")" "404"
tap_is "the host endpoint still answers" "$(get "$VENDOR" "hosts/$A")" "200"
tap_check "the collector is still running" kill -0 "$COLL_PID"
tap_done
