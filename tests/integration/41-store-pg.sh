#!/bin/bash
# The store suite (tests/unit/test_coll_store.c) against a real PostgreSQL:
# the same cases that run on SQLite, through ERPULSE_TEST_PG_URL.
. "$(dirname "$0")/lib.sh"

bin=$O/build/obj/tests/unit/test_coll_store
[ -x "$bin" ] || bail "test_coll_store not built (make tests)"
pg_start || bail "PostgreSQL did not start"
pg_sql -c "CREATE DATABASE erpulse_store" || bail "createdb"
url="postgresql://$PG_SUPERUSER:$PG_SUPERPASS@127.0.0.1:$PGPORT/erpulse_store"
if ERPULSE_TEST_PG_URL=$url CMOCKA_MESSAGE_OUTPUT=TAP "$bin" >"$T/out" 2>&1; then
	n=$(grep -c '^ok ' "$T/out")
	tap_ok "store suite on PostgreSQL: $n cases pass"
else
	sed 's/^/#   /' "$T/out" | grep -v '^#   ok' | tail -30
	tap_fail "store suite on PostgreSQL"
fi
# the migration lock: two migrations at once leave one schema_version row per version
pg_sql -c "CREATE DATABASE erpulse_mig" || bail "createdb"
murl="postgresql://$PG_SUPERUSER:$PG_SUPERPASS@127.0.0.1:$PGPORT/erpulse_mig"
$COLLECTOR --store "$murl" migrate >"$T/m1" 2>&1 &
p1=$!
$COLLECTOR --store "$murl" migrate >"$T/m2" 2>&1 &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
tap_is "two concurrent migrations both succeed" "$r1 $r2" "0 0"
tap_is "one schema version row per migration" "$(pg_sql -d erpulse_mig -c 'SELECT COUNT(*) = COUNT(DISTINCT version) AND COUNT(*) = MAX(version) FROM schema_version')" "t"
tap_done
