#!/bin/bash
# JSONTestSuite (../shared/testdata/JSONTestSuite/test_parsing) through the
# real ingest path: every must-reject n_ input, properly signed, answers 400
# (never 2xx, never 5xx); every must-accept y_ input wrapped as a field value
# of a valid report never crashes the collector or gets a 5xx.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/40-collector-ingest.sh"

SUITE=${JSONTESTSUITE:-$SRC/../shared/testdata/JSONTestSuite/test_parsing}
[ -d "$SUITE" ] || SUITE=/work/shared/testdata/JSONTestSuite/test_parsing
[ -d "$SUITE" ] || bail "JSONTestSuite not found (set JSONTESTSUITE)"
[ -x "$TOOLS/coll_post" ] || bail "no coll_post (make tools)"

coll_start js || bail "collector did not start"
A=$(coll_enroll Acme "$T/k") || bail "enroll"
[ -n "$A" ] || bail "enroll gave no agent id"

# n_: the raw file is the whole body
coll_send "$T/k" "$A" "$SUITE"/n_*.json >"$T/n.out"
total=$(ls "$SUITE"/n_*.json | wc -l)
got400=$(awk '$1 == 400' "$T/n.out" | wc -l)
bad=$(awk '$1 != 400 {print $1, $2}' "$T/n.out")
tap_is "all $total n_ inputs answer 400" "$got400" "$total"
[ -z "$bad" ] || echo "$bad" | head -20 | sed 's/^/#   /'
tap_is "no n_ input got a 5xx" "$(awk '$1 >= 500 || $1 == 0' "$T/n.out" | wc -l)" "0"

# y_: wrapped as the value of a metrics field of an otherwise valid report
i=0
mkdir -p "$T/y"
for f in "$SUITE"/y_*.json; do
	i=$((i + 1))
	"$TOOLS/coll_post" wrap "$A" "$i" "$f" >"$T/y/$(basename "$f")"
done
coll_send "$T/k" "$A" "$T"/y/*.json >"$T/y.out"
ytotal=$(ls "$SUITE"/y_*.json | wc -l)
tap_is "every y_ input got an answer" "$(wc -l <"$T/y.out")" "$ytotal"
tap_is "no y_ input got a 5xx or no answer" "$(awk '$1 >= 500 || $1 == 0' "$T/y.out" | wc -l)" "0"
acc=$(awk '$1 == 200' "$T/y.out" | wc -l)
[ "$acc" -ge $((ytotal * 3 / 4)) ] && tap_ok "at least 3/4 of y_ accepted" || tap_fail "only $acc of $ytotal y_ accepted"
awk '$1 != 200 {print "#   " $1, $2}' "$T/y.out" | sed "s|$T/y/||" | head -20
tap_check "the collector is still running" kill -0 "$COLL_PID"
tap_like "and healthy" "$(curl -s "$COLL_URL/healthz")" '"status":"ok"'
tap_done
