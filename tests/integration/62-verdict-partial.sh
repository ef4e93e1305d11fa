#!/bin/bash
# Issue 10, defect 2: absence never clears. A full report raises the alert
# of an index 42.9% wasted and costs the security updates their points; a
# report of `once --probe log` (only the log probe, `configured` naming all
# three instances) keeps both, marked stale with their age: no "[RESOLVED]",
# same score; the next full cycle sends nothing new (no duplicate notices).
# A report from an older agent (no `configured`) never clears either; only
# removing postgres from the configuration clears its alert, saying so.
# Before: the partial report cleared the alert ("(n/a)"), scored 100, and
# the next full cycle raised everything again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/40-collector-ingest.sh"
. "$(dirname "$0")/verdict-lib.sh"

v_hook_start || bail "webhook receiver"
v_start p1 || bail "collector did not start"
v_vendor
A=$(coll_enroll Acme "$T/k" erp01) && [ -n "$A" ] || bail "enroll"
CONF='[{"name":"postgres","target":"erp"},{"name":"patches","target":null},{"name":"log","target":"tryton"}]'
PG="{\"name\":\"postgres\",\"target\":\"erp\",\"findings\":[$(f_frag erp/public.sale_line_idx 42.9 warning)]}"
PATCHES="{\"name\":\"patches\",\"findings\":[$(f_kind security_updates host 3 warning updates)]}"
LOG='{"name":"log","target":"tryton","findings":[]}'

v_rep "$T/r1" "$A" 1 "[$PG,$PATCHES,$LOG]" "$CONF"
v_send "$T/k" "$A" "$T/r1" || bail "report 1"
wait_for 10 hooks_ge 1
tap_is "full cycle: the index alert is raised, score 93 (3 + 4)" \
	"$(hooks) $(v_api "/api/v1/hosts/$A" 'j["score"], j["band"]')" "1 (93, 'healthy')"

v_rep "$T/r2" "$A" 2 "[$LOG]" "$CONF"
v_send "$T/k" "$A" "$T/r2" || bail "report 2"
# notices enter the outbox in the report's own transaction: counting its
# rows needs no waiting
tap_is "once --probe log: no notice, the alert stays open" \
	"$(v_sql "SELECT COUNT(*) FROM outbox") $(v_sql "SELECT COUNT(*) FROM alerts WHERE closed_at IS NULL AND rule = 'index_fragmentation'")" "1 1"
tap_is "  ... same score and band (the carried findings still count)" \
	"$(v_api "/api/v1/hosts/$A" 'j["score"], j["band"]')" "(93, 'healthy')"
tap_is "  ... the findings are shown stale, with the time of the data" \
	"$(v_api "/api/v1/hosts/$A" 'sorted((f["kind"], f.get("stale", False), f.get("stale_since") is not None) for f in j["findings"])')" \
	"[('index_fragmentation', True, True), ('security_updates', True, True)]"
tap_is "  ... the database category is stale, not fresh" \
	"$(v_api "/api/v1/hosts/$A" 'j["explanation"]["categories"]["database"]["state"], j["explanation"]["categories"]["errors"]["state"]')" \
	"('stale', 'fresh')"
tap_like "  ... the deduction says so" \
	"$(v_api "/api/v1/hosts/$A" '[d["reason"] for d in j["explanation"]["deductions"] if d["kind"] == "index_fragmentation"][0]')" \
	'42\.9%.*\[stale: last measured .*, 0 min ago\]'

v_rep "$T/r3" "$A" 3 "[$PG,$PATCHES,$LOG]" "$CONF"
v_send "$T/k" "$A" "$T/r3" || bail "report 3"
tap_is "the next full cycle: nothing new to say (no duplicate raise)" "$(v_sql "SELECT COUNT(*) FROM outbox")" "1"
tap_is "  ... fresh again" \
	"$(v_api "/api/v1/hosts/$A" '[f.get("stale", False) for f in j["findings"]]')" "[False, False]"

# an older agent (no configured list) sends only the log probe
v_rep "$T/r4" "$A" 4 "[$LOG]" -
v_send "$T/k" "$A" "$T/r4" || bail "report 4"
tap_is "an older agent's partial report: still no clear" \
	"$(v_sql "SELECT COUNT(*) FROM outbox") $(v_sql "SELECT COUNT(*) FROM alerts WHERE closed_at IS NULL")" "1 1"

# postgres taken out of the agent's configuration
v_rep "$T/r5" "$A" 5 "[$PATCHES,$LOG]" '[{"name":"patches","target":null},{"name":"log","target":"tryton"}]'
v_send "$T/k" "$A" "$T/r5" || bail "report 5"
wait_for 10 hooks_ge 2
tap_is "postgres removed from the configuration: the alert clears" \
	"$(hook 1 'j["state"], j["rule"], j["object"]')" \
	"('clear', 'index_fragmentation', 'erp/public.sale_line_idx')"
tap_like "  ... the notice says why" "$(hook 1 'j["message"]')" \
	"instance postgres/erp removed from the agent's configuration"
tap_is "  ... its findings are gone, the score without them" \
	"$(v_api "/api/v1/hosts/$A" '[f["kind"] for f in j["findings"]], j["score"]')" "(['security_updates'], 96)"
tap_is "  ... and the removal is an event" \
	"$(v_sql "SELECT COUNT(*) FROM events WHERE kind = 'instance_removed' AND detail = 'postgres/erp'")" "1"
tap_done
