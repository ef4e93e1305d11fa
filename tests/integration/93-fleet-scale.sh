#!/bin/bash
# tests/bench/fleet-scale.sh as a smoke, not a measurement (docs/store.md
# "Fleet scale"): 200 hosts over 3 days on SQLite and on PostgreSQL, 3 runs
# per read. The bench generates its store by SQL against the schema the
# migrations left, so a migration that its generator does not follow fails
# here rather than in the lead's next 100,000-host run.
. "$(dirname "$0")/lib.sh"

[ -x "$COLLECTOR" ] || bail "no collector at $COLLECTOR"
out=$(ERPULSE_SRCDIR=$SRC O=$O bash "$SRC/tests/bench/fleet-scale.sh" --quick --hosts 200 --runs 3 \
	--reports 4 --store both 2>&1)
rc=$?
tap_is "fleet-scale --quick --hosts 200 ran to the end" "$rc" 0
[ "$rc" -eq 0 ] || printf '%s\n' "$out" | tail -20 | sed 's/^/#   /'
# (the smoke's 4 reports of 32 agents are too few bodies to train the big
# store's compression dictionary from: "none / 0 trained" is right here)
for store in sqlite pg; do
	table=$(printf '%s\n' "$out" | sed -n "/^fleet-scale $store: 200 hosts/,/^real:/p")
	tap_like "$store: the table" "$table" "^fleet-scale $store: 200 hosts"
	for what in "CPU per accepted report, 200-host store +\| [0-9]+ us" \
		"reports/s, one collector, big store +\| [0-9]+/s" \
		"GET /api/v1/hosts \((list|page), [0-9]+\) +\| [0-9.]+ / [0-9.]+ ms" \
		"dashboard first view \([0-9] in parallel\) +\| [0-9.]+ / [0-9.]+ ms" \
		"erpulse-collector scores: 1st of [0-9]+ +\| [0-9.]+ / [0-9.]+ ms" \
		"  the whole stream \(a fleet-wide listing\) +\| [0-9.]+ / [0-9.]+ s" \
		"  zstd dictionary: empty / big store +\| none / [01] trained" \
		"erpulse-collector scores --limit 50 \(50\) +\| [0-9.]+ / [0-9.]+ ms" \
		"store bytes per host-day \(30-day window\) +\| [1-9][0-9]* KiB" \
		"  rollups: 8 series x 24 x 27 d +\| [0-9.]+ KiB"; do
		tap_like "  ... $(printf '%s' "$what" | sed 's/ *+\\|.*//; s/\\//g')" "$table" "$what"
	done
done
tap_like "  ... two collectors over one PostgreSQL" "$out" "reports/s, two collectors, one PostgreSQL +\| [0-9]+/s"
tap_done
