#!/bin/bash
# Issue 10, defect 5: one finding, one severity. The agent judges (warning
# above 30%, critical above 60%, from min_size pages) and the collector uses
# that severity in the score, the alert, the notice and the API; no
# hard-coded 1000 pages or "> 50% is critical" of its own. The vendor's
# per-customer override (`customer threshold`) re-judges from the value and
# is shown wherever the severity is.
# Before: 56.1% was [CRITICAL] in the notice though the agent said warning;
# a 61.7% index of 833 pages (agent min_index_pages = 500) got no alert and
# no deduction.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/40-collector-ingest.sh"
. "$(dirname "$0")/verdict-lib.sh"

v_hook_start || bail "webhook receiver"
v_start v1 "group_notices = no" || bail "collector did not start"
v_vendor
A=$(coll_enroll Acme "$T/k" erp01) && [ -n "$A" ] || bail "enroll"
rep() { # rep SEQ: the same two indexes, as the agent (min_index_pages = 500) judged them
	v_rep "$T/r$1" "$A" "$1" "[{\"name\":\"postgres\",\"target\":\"erp\",\"findings\":[$(f_frag erp/public.big_idx 56.1 warning 2959 500),$(f_frag erp/public.small_idx 61.7 critical 833 500)]}]" \
		'[{"name":"postgres","target":"erp"}]'
	v_send "$T/k" "$A" "$T/r$1"
}
alert() { v_sql "SELECT severity FROM alerts WHERE object = 'erp/public.$1' AND closed_at IS NULL"; }

rep 1 || bail "report 1"
wait_for 10 hooks_ge 2
tap_is "56.1% judged warning by the agent: a warning alert and notice" \
	"$(alert big_idx) $(v_sql "SELECT COUNT(*) FROM outbox WHERE payload LIKE '%\"object\":\"erp/public.big_idx\"%' AND payload LIKE '%\"severity\":\"warning\"%'")" \
	"warning 1"
tap_is "  ... titled in the one number format" \
	"$(v_sql "SELECT payload FROM outbox WHERE payload LIKE '%erp/public.big_idx%'" | json_get - 'j["title"]')" \
	"[WARNING] erp01: index_fragmentation raised on erp/public.big_idx (56.1%)"
tap_is "the 833-page index (min_size 500) at 61.7%: a critical alert" "$(alert small_idx)" "critical"
tap_is "  ... and both cost points by that severity: 3 + 6, capped at 84 (a critical finding)" \
	"$(v_api "/api/v1/hosts/$A" 'j["score"], j["band"], sorted((d["object"], d["severity"], d["points"]) for d in j["explanation"]["deductions"])')" \
	"(84, 'at_risk', [('erp/public.big_idx', 'warning', 3), ('erp/public.small_idx', 'critical', 6)])"
tap_like "  ... the reason names the rule that judged it" \
	"$(v_api "/api/v1/hosts/$A" '[d["reason"] for d in j["explanation"]["deductions"] if d["object"] == "erp/public.big_idx"][0]')" \
	'56\.1% \(warning above 30\.0%, critical above 60\.0%; from 500 pages, this one 2959 pages\)'
tap_like "  ... one number format: one decimal, no '56.1 %'" "$(v_sql "SELECT message FROM alerts WHERE object = 'erp/public.big_idx'")" \
	'index_fragmentation on erp/public.big_idx \(warning\): 56\.1%, warning when above 30\.0%'

out=$(coll_cli customer threshold Acme index_fragmentation warning=50 critical=55 min_size=2000)
tap_like "customer threshold: the vendor's lines for Acme" "$out" 'warning=50 critical=55 min_size=2000'
tap_like "customer thresholds lists them" "$(coll_cli customer thresholds Acme)" 'index_fragmentation +50 +55 +2000'
rep 2 || bail "report 2"
tap_is "override: 56.1% > 55 is critical, the 833-page index is below 2000 pages" \
	"$(alert big_idx)/$(alert small_idx)" "critical/"
tap_is "  ... the findings carry the override's numbers" \
	"$(v_api "/api/v1/hosts/$A" '[(f["object"], f["severity"], f["override"], f["threshold"], f["critical_threshold"], f["min_size"]) for f in j["findings"]]')" \
	"[('erp/public.big_idx', 'critical', True, 50.0, 55.0, 2000.0), ('erp/public.small_idx', 'info', True, 50.0, 55.0, 2000.0)]"
tap_like "  ... the deduction says it is the customer's override" \
	"$(v_api "/api/v1/hosts/$A" 'j["explanation"]["deductions"][0]["reason"]')" \
	'critical: 56\.1% \(warning above 50\.0%, critical above 55\.0%; from 2000 pages, this one 2959 pages; customer override\)'
tap_like "  ... the escalation notice uses it" \
	"$(v_sql "SELECT payload FROM outbox WHERE payload LIKE '%\"state\":\"escalate\"%'")" \
	'"severity":"critical".*critical when above 55\.0%'

coll_cli customer threshold Acme index_fragmentation >/dev/null
rep 3 || bail "report 3"
tap_is "override removed: the agent's lines again (56.1% holds critical: within 5 of 60)" \
	"$(alert big_idx)/$(alert small_idx)" "critical/critical"
tap_done
