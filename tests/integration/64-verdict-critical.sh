#!/bin/bash
# Issue 10, defects 6 and 7 (bands): critical means an alert, and the band
# follows the worst problem. A log error rate the agent judged critical
# (133 records/min, critical above 30) raises a critical alert from the
# first report, without weeks of history, and the host is not healthy;
# fatal conditions (read-only filesystem, transaction-ID age over 75%,
# database unreachable, no backup for 7 days) cap it at critical.
# Before: log_errors at 30-133/min raised nothing and the host read
# `healthy` (94); only error_spike alerted, after weeks.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/40-collector-ingest.sh"
. "$(dirname "$0")/verdict-lib.sh"

v_hook_start || bail "webhook receiver"
v_start c1 "group_notices = no" || bail "collector did not start"
v_vendor
A=$(coll_enroll Acme "$T/k" erp01) && [ -n "$A" ] || bail "enroll"
CONF='[{"name":"log","target":"tryton"},{"name":"journal","target":null},{"name":"postgres","target":"erp"}]'
logs() { # logs SEQ RATE SEVERITY [POSTGRES_PROBE_JSON]
	v_rep "$T/r$1" "$A" "$1" "[{\"name\":\"log\",\"target\":\"tryton\",\"findings\":[$(f_kind log_errors tryton "$2" "$3" records/min 10 30)]},{\"name\":\"journal\",\"findings\":[$(f_kind journal_errors trytond.service 12 warning entries/h 5 50)]},${4:-{\"name\":\"postgres\",\"target\":\"erp\"\}}]" "$CONF"
	v_send "$T/k" "$A" "$T/r$1"
}
alert() { v_sql "SELECT severity FROM alerts WHERE rule = '$1' AND closed_at IS NULL"; }

logs 1 133 critical || bail "report 1"
tap_is "log_errors critical on the first report: a critical alert" "$(alert log_errors)" "critical"
tap_is "journal_errors warning: a warning alert" "$(alert journal_errors)" "warning"
tap_is "the host is not healthy: 100 - 6 - 2 = 92, capped at 84 by the critical finding" \
	"$(v_api "/api/v1/hosts/$A" 'j["score"], j["band"], j["explanation"]["uncapped_score"], j["explanation"]["cap"]["kind"]')" \
	"(84, 'at_risk', 92, 'log_errors')"
tap_like "  ... top_reason is the critical one" "$(v_api "/api/v1/hosts/$A" 'j["explanation"]["top_reason"]')" \
	'^log_errors critical: 133\.0 records/min'
tap_like "  ... the notice names the rule's lines" \
	"$(v_sql "SELECT payload FROM outbox WHERE payload LIKE '%log_errors%'")" '"severity":"critical".*critical when above 30\.0 records/min'

logs 2 28 warning || bail "report 2"
tap_is "28/min (the agent says warning): critical holds until 27 (hysteresis 10%)" "$(alert log_errors)" "critical"
logs 3 3 info || bail "report 3"
tap_is "3/min: cleared" "$(alert log_errors)" ""
tap_like "  ... saying what it is now and was" \
	"$(v_sql "SELECT message FROM alerts WHERE rule = 'log_errors'")" 'Resolved: log_errors on tryton: now 3\.0 records/min \(was 28\.0 records/min\)'

fatal() { # fatal SEQ FINDING_JSON [STATUS [ERROR]]
	logs "$1" 3 info "{\"name\":\"postgres\",\"target\":\"erp\",\"status\":\"${3:-ok}\",\"error\":${4:-null},\"findings\":[${2}]}"
}
fatal 4 "$(f_kind xid_wraparound erp 80 critical % 50 75)" || bail "report 4"
tap_is "XID age 80% of wraparound: band critical, capped at 59" \
	"$(v_api "/api/v1/hosts/$A" 'j["band"], j["score"], j["explanation"]["cap"]["kind"]')" "('critical', 59, 'xid_wraparound')"
fatal 5 "$(f_kind backup_age erp 200 warning hours 26 74)" || bail "report 5"
tap_is "no backup for 8.3 days: critical" \
	"$(v_api "/api/v1/hosts/$A" 'j["band"], j["explanation"]["cap"]["reason"]')" "('critical', 'no backup of erp for 8.3 days (over 7 days)')"
fatal 6 "" || bail "report 6"
tap_is "a backup taken: the cap is gone" "$(v_api "/api/v1/hosts/$A" 'j["band"], j["explanation"]["cap"]')" "('healthy', None)"
fatal 7 "" error '"cannot reach the server: connection refused"' || bail "report 7"
tap_is "database unreachable: critical" \
	"$(v_api "/api/v1/hosts/$A" 'j["band"], j["explanation"]["cap"]["kind"]')" "('critical', 'database_unreachable')"
tap_done
