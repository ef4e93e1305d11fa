/* The cluster-wide PostgreSQL checks (once per cycle, from whichever database
 * is examined first): wraparound, sessions, prepared transactions, replication
 * slots and lag, connections, cache hit ratio, the WAL archiver.
 * docs/probes-database.md explains them. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/postgres/pg.h"

#define WRAPAROUND 2147483648.0 /* 2^31 transaction ids */

/* ---- cluster-wide ---------------------------------------------------------- */

void probe_pg_cluster(struct probe_sql *c, struct probe_pg_cycle *cy, bool in_recovery,
		      const struct ep_deadline *d, struct ep_probe_result *r)
{
	const struct probe_pg_settings *cfg = cy->cfg;
	struct probe_sql_rows rows;
	char err[300], st[6], msg[500], object[300];
	json_t *m = r->metrics;

	/* wraparound */
	if (probe_pg_run(c, d,
			 "SELECT datname, age(datfrozenxid), mxid_age(datminmxid),"
			 " current_setting('autovacuum_freeze_max_age')::bigint,"
			 " current_setting('autovacuum_multixact_freeze_max_age')::bigint"
			 " FROM pg_catalog.pg_database ORDER BY 2 DESC",
			 &rows, st, err, sizeof(err)) == 0) {
		json_t *w = json_object();
		for (size_t i = 0; i < rows.nrows; i++) {
			int64_t age = probe_sql_int(&rows, i, 1, 0),
				mxid = probe_sql_int(&rows, i, 2, 0);
			int64_t fmax = probe_sql_int(&rows, i, 3, 200000000),
				mmax = probe_sql_int(&rows, i, 4, 400000000);
			double pct = 100.0 * (double)age / WRAPAROUND;
			double mpct = 100.0 * (double)mxid / WRAPAROUND;
			double worst = pct > mpct ? pct : mpct;
			json_object_set_new(
				w, probe_sql_str(&rows, i, 0),
				json_pack("{s:I, s:f, s:f, s:I, s:f}", "xid_age", (json_int_t)age,
					  "pct_of_wraparound", pct, "pct_of_freeze_max_age",
					  100.0 * (double)age / (double)(fmax ? fmax : 1),
					  "mxid_age", (json_int_t)mxid,
					  "mxid_pct_of_freeze_max_age",
					  100.0 * (double)mxid / (double)(mmax ? mmax : 1)));
			ep_snprintf(msg, sizeof(msg),
				    "transaction id age %lld (%.1f%% of wraparound, %.0f%% of "
				    "autovacuum_freeze_max_age); multixact age %lld",
				    (long long)age, pct,
				    100.0 * (double)age / (double)(fmax ? fmax : 1),
				    (long long)mxid);
			char rem[300];
			ep_snprintf(rem, sizeof(rem),
				    "VACUUM (FREEZE, VERBOSE) in database %s, oldest tables first; "
				    "check for long transactions, prepared transactions and "
				    "replication slots holding back xmin",
				    probe_sql_str(&rows, i, 0));
			ep_snprintf(object, sizeof(object), "%s", probe_sql_str(&rows, i, 0));
			struct ep_finding f = {
				.kind = "xid_wraparound",
				.object = object,
				.value = worst,
				.unit = "%",
				.threshold = 50,
				.critical_threshold = 75,
				.severity = worst >= 75   ? EP_SEV_CRITICAL
					    : worst >= 50 ? EP_SEV_WARNING
							  : EP_SEV_INFO,
				.method = "pg_database",
				.message = msg,
				.remediation = worst >= 50 ? rem : NULL,
			};
			probe_pg_add_finding(r, &f, NULL);
		}
		json_object_set_new(m, "wraparound", w);
		probe_sql_rows_free(&rows);
	}

	/* sessions: long transactions, idle in transaction (no query text: it may
	 * hold customer data) */
	if (probe_pg_run(
		    c, d,
		    "SELECT pid, usename, datname, state,"
		    " extract(epoch FROM now() - xact_start)::bigint,"
		    " extract(epoch FROM now() - state_change)::bigint, backend_xmin IS NOT NULL"
		    " FROM pg_catalog.pg_stat_activity WHERE xact_start IS NOT NULL"
		    " AND pid <> pg_catalog.pg_backend_pid() AND backend_type = 'client backend'"
		    " ORDER BY xact_start LIMIT 50",
		    &rows, st, err, sizeof(err)) == 0) {
		int64_t oldest = 0, n_long = 0, n_idle = 0;
		for (size_t i = 0; i < rows.nrows; i++) {
			int64_t xage = probe_sql_int(&rows, i, 4, 0),
				sage = probe_sql_int(&rows, i, 5, 0);
			bool idle =
				strncmp(probe_sql_str(&rows, i, 3), "idle in transaction", 19) == 0;
			if (xage > oldest)
				oldest = xage;
			ep_snprintf(object, sizeof(object), "pid %s (%s@%s)",
				    probe_sql_str(&rows, i, 0), probe_sql_str(&rows, i, 1),
				    probe_sql_str(&rows, i, 2));
			if (idle && sage >= cfg->idle_xact_s) {
				n_idle++;
				ep_snprintf(msg, sizeof(msg),
					    "session idle in transaction for %lld s (transaction "
					    "open %lld s)%s",
					    (long long)sage, (long long)xage,
					    probe_pg_bool(&rows, i, 6) ? ", holding back vacuum"
								       : "");
				struct ep_finding f = {
					.kind = "idle_in_transaction",
					.object = object,
					.value = (double)sage,
					.unit = "s",
					.threshold = (double)cfg->idle_xact_s,
					.severity = EP_SEV_WARNING,
					.method = "pg_stat_activity",
					.message = msg,
					.remediation =
						"find the application that leaves transactions "
						"open; set idle_in_transaction_session_timeout; "
						"SELECT pg_terminate_backend(pid) ends it",
				};
				probe_pg_add_finding(r, &f, NULL);
			} else if (!idle && xage >= cfg->long_xact_s) {
				n_long++;
				ep_snprintf(msg, sizeof(msg), "transaction running for %lld s",
					    (long long)xage);
				struct ep_finding f = {
					.kind = "long_transaction",
					.object = object,
					.value = (double)xage,
					.unit = "s",
					.threshold = (double)cfg->long_xact_s,
					.severity = EP_SEV_WARNING,
					.method = "pg_stat_activity",
					.message = msg,
				};
				probe_pg_add_finding(r, &f, NULL);
			}
		}
		json_object_set_new(m, "oldest_transaction_s", json_integer(oldest));
		json_object_set_new(m, "long_transactions", json_integer(n_long));
		json_object_set_new(m, "idle_in_transaction", json_integer(n_idle));
		probe_sql_rows_free(&rows);
	}

	/* prepared transactions */
	if (probe_pg_run(c, d,
			 "SELECT gid, extract(epoch FROM now() - prepared)::bigint, database"
			 " FROM pg_catalog.pg_prepared_xacts ORDER BY prepared LIMIT 20",
			 &rows, st, err, sizeof(err)) == 0) {
		json_object_set_new(m, "prepared_transactions",
				    json_integer((json_int_t)rows.nrows));
		for (size_t i = 0; i < rows.nrows; i++) {
			int64_t age = probe_sql_int(&rows, i, 1, 0);
			if (age < cfg->long_xact_s)
				continue;
			ep_snprintf(object, sizeof(object), "prepared %s (%s)",
				    probe_sql_str(&rows, i, 0), probe_sql_str(&rows, i, 2));
			ep_snprintf(msg, sizeof(msg),
				    "prepared transaction open for %lld s holds back xmin (vacuum "
				    "and wraparound protection)",
				    (long long)age);
			struct ep_finding f = {
				.kind = "long_transaction",
				.object = object,
				.value = (double)age,
				.unit = "s",
				.threshold = (double)cfg->long_xact_s,
				.severity = EP_SEV_WARNING,
				.method = "pg_prepared_xacts",
				.message = msg,
				.remediation = "COMMIT PREPARED or ROLLBACK PREPARED it, after "
					       "checking with its transaction manager",
			};
			probe_pg_add_finding(r, &f, NULL);
		}
		probe_sql_rows_free(&rows);
	}

	/* replication slots holding back xmin or WAL */
	if (probe_pg_run(
		    c, d,
		    in_recovery
			    ? "SELECT slot_name, slot_type, active, age(xmin), age(catalog_xmin), "
			      "NULL"
			      " FROM pg_catalog.pg_replication_slots"
			    : "SELECT slot_name, slot_type, active, age(xmin), age(catalog_xmin),"
			      " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), "
			      "restart_lsn)::bigint"
			      " FROM pg_catalog.pg_replication_slots",
		    &rows, st, err, sizeof(err)) == 0) {
		json_object_set_new(m, "replication_slots", json_integer((json_int_t)rows.nrows));
		for (size_t i = 0; i < rows.nrows; i++) {
			int64_t xa = probe_sql_int(&rows, i, 3, -1),
				cxa = probe_sql_int(&rows, i, 4, -1);
			int64_t wal = probe_sql_int(&rows, i, 5, 0);
			bool active = probe_pg_bool(&rows, i, 2);
			if (active && wal < (1LL << 30))
				continue;
			if (!active && xa < 0 && cxa < 0 && wal < (1LL << 30))
				continue;
			ep_snprintf(object, sizeof(object), "slot %s", probe_sql_str(&rows, i, 0));
			ep_snprintf(msg, sizeof(msg),
				    "%s replication slot retains %lld bytes of WAL%s",
				    active ? "active" : "inactive", (long long)wal,
				    xa >= 0 || cxa >= 0 ? " and holds back xmin" : "");
			char rem[300];
			ep_snprintf(rem, sizeof(rem),
				    "if the slot's consumer is gone: SELECT "
				    "pg_drop_replication_slot('%s');",
				    probe_sql_str(&rows, i, 0));
			struct ep_finding f = {
				.kind = "replication_lag",
				.object = object,
				.value = (double)wal,
				.unit = "bytes",
				.threshold = (double)(1LL << 30),
				.severity = EP_SEV_WARNING,
				.method = "pg_replication_slots",
				.message = msg,
				.remediation = active ? NULL : rem,
			};
			probe_pg_add_finding(r, &f, NULL);
		}
		probe_sql_rows_free(&rows);
	}

	/* connections */
	if (probe_pg_run(
		    c, d,
		    "SELECT (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type ="
		    " 'client backend'), current_setting('max_connections')::int,"
		    " current_setting('superuser_reserved_connections')::int",
		    &rows, st, err, sizeof(err)) == 0 &&
	    rows.nrows == 1) {
		int64_t used = probe_sql_int(&rows, 0, 0, 0), max = probe_sql_int(&rows, 0, 1, 100),
			res = probe_sql_int(&rows, 0, 2, 3);
		double avail = (double)(max - res > 0 ? max - res : 1);
		double pct = 100.0 * (double)used / avail;
		json_object_set_new(m, "connections",
				    json_pack("{s:I, s:I, s:I, s:f}", "used", (json_int_t)used,
					      "max", (json_int_t)max, "reserved", (json_int_t)res,
					      "pct", pct));
		ep_snprintf(msg, sizeof(msg), "%lld of %lld usable connections in use",
			    (long long)used, (long long)(max - res));
		struct ep_finding f = {
			.kind = "connections",
			.object = "server",
			.value = pct,
			.unit = "%",
			.threshold = 80,
			.critical_threshold = 95,
			.severity = pct >= 95   ? EP_SEV_CRITICAL
				    : pct >= 80 ? EP_SEV_WARNING
						: EP_SEV_INFO,
			.method = "pg_stat_activity",
			.message = msg,
			.remediation = pct >= 80 ? "use a connection pooler (PgBouncer) or raise "
						   "max_connections"
						 : NULL,
		};
		probe_pg_add_finding(r, &f, NULL);
	}
	probe_sql_rows_free(&rows);

	/* cache hit ratio */
	if (probe_pg_run(c, d,
			 "SELECT sum(blks_hit)::bigint, sum(blks_read)::bigint FROM "
			 "pg_catalog.pg_stat_database",
			 &rows, st, err, sizeof(err)) == 0 &&
	    rows.nrows == 1) {
		int64_t hit = probe_sql_int(&rows, 0, 0, 0), rd = probe_sql_int(&rows, 0, 1, 0);
		if (hit + rd > 0) {
			double ratio = 100.0 * (double)hit / (double)(hit + rd);
			json_object_set_new(m, "cache_hit_ratio", json_real(ratio));
			if (hit + rd >= 100000) {
				ep_snprintf(msg, sizeof(msg),
					    "%.2f%% of block reads found in shared buffers", ratio);
				struct ep_finding f = {
					.kind = "cache_hit_ratio",
					.object = "server",
					.value = ratio,
					.unit = "%",
					.threshold = 90,
					.below = true,
					.min_size = 100000,
					.size = (double)(hit + rd),
					.size_unit = "block reads",
					.severity = ratio < 90 ? EP_SEV_WARNING : EP_SEV_INFO,
					.method = "pg_stat_database",
					.message = msg,
					.remediation = ratio < 90
							       ? "consider a larger shared_buffers "
								 "(and RAM)"
							       : NULL,
				};
				probe_pg_add_finding(r, &f, NULL);
			}
		}
	}
	probe_sql_rows_free(&rows);

	/* WAL archiver */
	if (probe_pg_run(
		    c, d,
		    "SELECT current_setting('archive_mode'), archived_count, failed_count,"
		    " extract(epoch FROM now() - last_archived_time)::bigint,"
		    " coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false)"
		    " FROM pg_catalog.pg_stat_archiver",
		    &rows, st, err, sizeof(err)) == 0 &&
	    rows.nrows == 1) {
		const char *mode = probe_sql_str(&rows, 0, 0);
		json_object_set_new(m, "archive_mode", json_string(mode));
		if (strcmp(mode, "off") != 0) {
			int64_t failed = probe_sql_int(&rows, 0, 2, 0),
				age = probe_sql_int(&rows, 0, 3, -1);
			bool failing = probe_pg_bool(&rows, 0, 4);
			json_object_set_new(m, "archiver",
					    json_pack("{s:I, s:I, s:I, s:b}", "archived",
						      (json_int_t)probe_sql_int(&rows, 0, 1, 0),
						      "failed", (json_int_t)failed,
						      "last_archived_age_s", (json_int_t)age,
						      "failing", failing));
			ep_snprintf(msg, sizeof(msg),
				    "%s; last WAL segment archived %s%lld s ago; %lld failures",
				    failing ? "archiving is FAILING" : "archiving works",
				    age < 0 ? "never, " : "", (long long)(age < 0 ? 0 : age),
				    (long long)failed);
			struct ep_finding f = {
				.kind = "wal_archiver",
				.object = "server",
				.value = age < 0 ? 0 : (double)age / 3600,
				.unit = "hours",
				.threshold = 24,
				.severity = failing       ? EP_SEV_CRITICAL
					    : age > 86400 ? EP_SEV_WARNING
							  : EP_SEV_INFO,
				.method = "pg_stat_archiver",
				.message = msg,
				.remediation =
					failing ? "check archive_command and the server log; "
						  "WAL piles up in pg_wal until it works"
						: NULL,
			};
			probe_pg_add_finding(r, &f, NULL);
		}
	}
	probe_sql_rows_free(&rows);

	/* replication lag */
	if (probe_pg_run(
		    c, d,
		    in_recovery ? "SELECT 'replay', extract(epoch FROM now() -"
				  " pg_catalog.pg_last_xact_replay_timestamp())::float8, NULL"
				: "SELECT application_name, extract(epoch FROM replay_lag)::float8,"
				  " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(),"
				  " replay_lsn)::bigint FROM pg_catalog.pg_stat_replication",
		    &rows, st, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < rows.nrows; i++) {
			double lag = probe_sql_num(&rows, i, 1);
			if (!isfinite(lag))
				lag = 0;
			ep_snprintf(object, sizeof(object), "%s %s",
				    in_recovery ? "this replica" : "replica",
				    probe_sql_str(&rows, i, 0));
			ep_snprintf(msg, sizeof(msg), "replay lag %.1f s", lag);
			struct ep_finding f = {
				.kind = "replication_lag",
				.object = object,
				.value = lag,
				.unit = "s",
				.threshold = 300,
				.severity = lag >= 300 ? EP_SEV_WARNING : EP_SEV_INFO,
				.method = in_recovery ? "pg_last_xact_replay_timestamp"
						      : "pg_stat_replication",
				.message = msg,
			};
			probe_pg_add_finding(r, &f, NULL);
		}
		probe_sql_rows_free(&rows);
	}
}
