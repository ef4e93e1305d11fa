#!/bin/bash
# Issue 10, defect 1: silence is never scored as health. The real agent
# reports once (interval 60 s) to the real collector on PostgreSQL; the
# dead-man sweep then runs with the clock 13 minutes later
# (`erpulse-collector sweep --now`): the host is `unknown` (grey), keeps its
# last score minus all 15 liveness points with stale_since, has its
# agent_silent alert and one notice; a report brings it back.
# Before: band healthy, score 100, "liveness lost 0 of 15".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pki.sh"
. "$(dirname "$0")/40-collector-ingest.sh"
. "$(dirname "$0")/verdict-lib.sh"

V_PG=1
pki_make "$T/pki" || bail "cannot make the test PKI"
export COLL_TLS=1 COLL_CA=$T/pki/ca.pem
v_hook_start || bail "webhook receiver"
v_start s1 || bail "collector did not start"
v_vendor
v_agent || bail "enroll: $(cat "$T/enroll.out")"

once --probe testblock || bail "once"
tap_is "the real agent's report: healthy, 100" "$(v_api "/api/v1/hosts/$A" 'j["band"], j["score"]')" "('healthy', 100)"
last=$(v_sql "SELECT last_report_at FROM agents WHERE id = '$A'")
tap_is "a sweep 2 minutes later: nobody is silent yet" "$(coll_cli sweep --now $((last + 120)))" "0 silent agents alerted"
tap_is "13 minutes later (13 intervals): one silent agent" "$(coll_cli sweep --now $((last + 780)))" "1 silent agents alerted"
tap_is "the host is unknown, its last score minus the 15 liveness points" \
	"$(v_api "/api/v1/hosts/$A" 'j["band"], j["score"], j["explanation"]["categories"]["liveness"]["lost"]')" \
	"('unknown', 85, 15)"
tap_like "  ... the explanation says why, first" \
	"$(v_api "/api/v1/hosts/$A" 'j["explanation"]["deductions"][0]["kind"], j["explanation"]["top_reason"]')" \
	"'report_age', 'silent: no report since 780 s ago"
tap_is "  ... stale since the last report; the other categories unknown" \
	"$(v_api "/api/v1/hosts/$A" 'j["explanation"]["stale_since"] is not None, j["explanation"]["categories"]["storage"]["state"]')" \
	"(True, 'unknown')"
tap_is "  ... stored: band unknown, stale_since = the last report" \
	"$(v_sql "SELECT band, stale_since FROM agents WHERE id = '$A'")" "unknown|$last"
tap_is "the customer is not healthy while its production host is unknown" \
	"$(v_api /api/v1/customers '[(c["band"], c["score"]) for c in j["customers"]]')" "[('unknown', 85)]"
tap_is "the agent_silent alert is open, critical" \
	"$(v_sql "SELECT rule, severity FROM alerts WHERE agent_id = '$A' AND closed_at IS NULL")" "agent_silent|critical"
wait_for 10 hooks_ge 1
tap_is "one notice, raise agent_silent, with a stable id" \
	"$(hook 0 'j["state"], j["rule"], j["id"].startswith("n-")')" "('raise', 'agent_silent', True)"
tap_is "a second sweep raises nothing again" "$(coll_cli sweep --now $((last + 900)))" "0 silent agents alerted"

B=$(coll_enroll Acme "$T/kb" erp02) && [ -n "$B" ] || bail "enroll B"
tap_is "a host that never reported is unknown" "$(v_api "/api/v1/hosts/$B" 'j["band"], j["score"]')" "('unknown', None)"
coll_cli agent revoke "$B" >/dev/null 2>&1
once --probe testblock || bail "once 2"
tap_is "a report: healthy again" "$(v_api "/api/v1/hosts/$A" 'j["band"], j["score"]')" "('healthy', 100)"
tap_is "  ... and so is the customer (the revoked host does not count)" \
	"$(v_api /api/v1/customers '[c["band"] for c in j["customers"]]')" "['healthy']"
wait_for 10 hooks_ge 2
tap_is "  ... agent_silent cleared, saying why" \
	"$(hook 1 'j["state"], j["rule"]') $(hook 1 '"a report arrived" in j["message"]')" "('clear', 'agent_silent') True"
tap_done
