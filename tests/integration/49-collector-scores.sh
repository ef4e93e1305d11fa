#!/bin/bash
# Issue 16, `erpulse-collector scores` bounded (docs/collector.md "Command
# line"): --limit N gives the N worst hosts and the cursor of the next page,
# --after CURSOR that page, --customer and --band filter, --json the same;
# without options the whole fleet as before; bad arguments are said and
# exit 2. Six hosts of two customers with their scores set in the store, on
# SQLite and on PostgreSQL.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/40-collector-ingest.sh"

# hostname customer score band, worst first by score
HOSTS="s1 Acme 20 critical
s4 Beta 30 critical
s6 Acme 65 at_risk
s2 Acme 70 at_risk
s5 Beta 90 healthy
s3 Acme 95 healthy"

# names STDOUT: the hostnames of a text table, in order
names() { awk '$4 ~ /^s[0-9]$/ { printf "%s ", $4 }' | sed 's/ $//'; }
usage_rc() { "$COLLECTOR" --config "$COLL_CONF" scores "$@" >/dev/null 2>"$T/err"; echo "$?"; }

run() { # KIND: the checks against this store (the collector configured, stopped)
	local kind=$1 sql out next k=0
	while read -r h c _ _; do
		k=$((k + 1))
		[ -n "$(coll_enroll "$c" "$T/$kind-k$k" "$h")" ] || bail "$kind: cannot enroll $h"
	done <<<"$HOSTS"
	coll_stop
	while read -r h _ score band; do
		sql="UPDATE agents SET score = $score, band = '$band', last_report_at = $(date +%s) WHERE hostname = '$h'"
		if [ "$kind" = sqlite ]; then coll_sql "$T/$kind.db" "$sql"; else pg_sql -d erpulse_scores -c "$sql" >/dev/null; fi
	done <<<"$HOSTS"

	tap_is "$kind: --limit 3: the three worst, in order" "$(coll_cli scores --limit 3 | names)" "s1 s4 s6"
	next=$(coll_cli scores --limit 3 | sed -n 's/^next page: .* --after \(.*\)$/\1/p')
	tap_like "  ... and the next page's cursor" "$next" '.'
	tap_is "  ... --after it: the rest" "$(coll_cli scores --limit 3 --after "$next" | names)" "s2 s5 s3"
	tap_is "  ... the last page names no next one" "$(coll_cli scores --limit 3 --after "$next" | grep -c '^next page')" 0
	tap_is "$kind: --limit 6: every host, no next page" "$(coll_cli scores --limit 6 | grep -c '^next page')" 0
	tap_is "$kind: --customer Beta" "$(coll_cli scores --customer Beta | names)" "s4 s5"
	tap_is "$kind: --customer Acme --limit 2" "$(coll_cli scores --customer Acme --limit 2 | names)" "s1 s6"
	tap_is "$kind: --band at_risk" "$(coll_cli scores --band at_risk | names)" "s6 s2"
	tap_is "$kind: --band healthy --customer Beta" "$(coll_cli scores --band healthy --customer Beta | names)" "s5"
	tap_like "$kind: --band critical --customer Acme --limit 1 --json" \
		"$(coll_cli scores --band critical --customer Acme --limit 1 --json |
			json_get - '[h["hostname"] for h in j["hosts"]], j["next"]')" "^\(\['s1'\], None\)$"
	out=$(coll_cli scores --limit 2 --json)
	tap_is "$kind: --limit 2 --json: hosts and next" "$(json_get - '[h["hostname"] for h in j["hosts"]], bool(j["next"])' <<<"$out")" \
		"(['s1', 's4'], True)"
	next=$(json_get - 'j["next"]' <<<"$out")
	tap_is "  ... --after the JSON's next" "$(coll_cli scores --limit 2 --after "$next" --json |
		json_get - '[h["hostname"] for h in j["hosts"]]')" "['s6', 's2']"
	out=$(coll_cli scores)
	tap_like "$kind: no option: the customers table first" "$(printf '%s\n' "$out" | head -1)" 'SCORE +BAND +CUSTOMER +HOSTS'
	tap_is "  ... then every host" "$(printf '%s\n' "$out" | names)" "s1 s4 s6 s2 s5 s3"
	tap_is "  ... --json as before" "$(coll_cli scores --json | json_get - 'sorted(j.keys()), len(j["hosts"])')" \
		"(['customers', 'hosts'], 6)"

	tap_is "$kind: --limit 0: exit 2" "$(usage_rc --limit 0)" 2
	tap_like "  ... said" "$(cat "$T/err")" '--limit: a number of hosts'
	tap_is "$kind: --limit ten: exit 2" "$(usage_rc --limit ten)" 2
	tap_is "$kind: --limit without a value: exit 2" "$(usage_rc --limit)" 2
	tap_like "  ... said" "$(cat "$T/err")" '--limit needs a value'
	tap_is "$kind: --band purple: exit 2" "$(usage_rc --band purple)" 2
	tap_like "  ... said" "$(cat "$T/err")" '--band: critical, unknown, at_risk or healthy'
	tap_is "$kind: --customer Nobody: exit 2" "$(usage_rc --customer Nobody)" 2
	tap_like "  ... said" "$(cat "$T/err")" "no customer 'Nobody'"
	tap_is "$kind: --after a forged cursor: exit 2" "$(usage_rc --limit 2 --after forged)" 2
	tap_like "  ... said" "$(cat "$T/err")" 'cursor'
	tap_is "$kind: an unknown option: exit 2" "$(usage_rc --worst)" 2
	tap_like "  ... with the usage" "$(cat "$T/err")" 'usage: erpulse-collector scores \[--limit N\]'
}

coll_start sqlite || bail "collector did not start"
run sqlite

pg_start >/dev/null || bail "PostgreSQL did not start"
pg_sql -c "CREATE DATABASE erpulse_scores" >/dev/null || bail "createdb"
coll_start pg "[store]" "url = postgresql://$PG_SUPERUSER:$PG_SUPERPASS@127.0.0.1:$PGPORT/erpulse_scores" ||
	bail "collector on PostgreSQL did not start"
run pg
pg_stop
tap_done
