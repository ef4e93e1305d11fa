#!/bin/bash
# The db layer's suite (tests/unit/test_coll_db.c) against a real
# PostgreSQL, through ERPULSE_TEST_PG_URL: transactions whose BEGIN goes with
# their first statement, prepared statements after the session is killed,
# generic plans on the day-partitioned samples, binary array parameters (the
# set-based ingest's).
. "$(dirname "$0")/lib.sh"

bin=$O/build/obj/tests/unit/test_coll_db
[ -x "$bin" ] || bail "test_coll_db not built (make tests)"
pg_start || bail "PostgreSQL did not start"
pg_sql -c "CREATE DATABASE erpulse_db" || bail "createdb"
url="postgresql://$PG_SUPERUSER:$PG_SUPERPASS@127.0.0.1:$PGPORT/erpulse_db"
if ERPULSE_TEST_PG_URL=$url CMOCKA_MESSAGE_OUTPUT=TAP "$bin" >"$T/out" 2>&1; then
	n=$(grep -c '^ok ' "$T/out")
	tap_ok "db suite on PostgreSQL: $n cases pass"
else
	sed 's/^/#   /' "$T/out" | grep -v '^#   ok' | tail -30
	tap_fail "db suite on PostgreSQL"
fi
tap_done
