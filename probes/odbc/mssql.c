/* SQL Server through ODBC (Microsoft's msodbcsql or FreeTDS): index
 * fragmentation from sys.dm_db_index_physical_stats in LIMITED mode, one
 * index per statement (a locked table costs one index, not the cycle), with
 * Ola Hallengren's thresholds: REORGANIZE from 5%, REBUILD from 30%; last
 * backup ages from msdb; log space. NOT YET VERIFIED AGAINST A LIVE SERVER:
 * the mapping is unit-tested on rows shaped as the DMV returns them
 * (tests/unit/test_odbc_mssql.c); docs/probes-database.md says so. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "probes/erp/erp.h"
#include "probes/odbc/odbc.h"

int probe_mssql_quote_ident(const char *ident, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen < 3)
		return -ENOSPC;
	out[o++] = '[';
	for (const char *p = ident; *p; p++) {
		if (o + (*p == ']' ? 2 : 1) + 2 > outlen) {
			out[0] = '\0';
			return -ENOSPC;
		}
		out[o++] = *p;
		if (*p == ']')
			out[o++] = ']';
	}
	out[o++] = ']';
	out[o] = '\0';
	return 0;
}

int probe_mssql_map_index_rows(const struct probe_sql_rows *rows,
			       const struct probe_odbc_settings *s, bool online_rebuild,
			       struct ep_probe_result *r)
{
	int added = 0;
	double thr = (double)s->pg.threshold, reorg = (double)s->reorganize_pct;

	if (rows->ncols < MSSQL_IX_NCOLS)
		return 0;
	for (size_t i = 0; i < rows->nrows; i++) {
		int64_t index_id = probe_sql_int(rows, i, MSSQL_IX_INDEX_ID, 0);
		int64_t level = probe_sql_int(rows, i, MSSQL_IX_LEVEL, -1);
		int64_t pages = probe_sql_int(rows, i, MSSQL_IX_PAGES, 0);
		int64_t part = probe_sql_int(rows, i, MSSQL_IX_PARTITION, 1);
		int64_t parts = probe_sql_int(rows, i, MSSQL_IX_PARTITIONS, 1);
		double frag = probe_sql_num(rows, i, MSSQL_IX_AVG_FRAG);
		double density = probe_sql_num(rows, i, MSSQL_IX_PAGE_SPACE_USED);
		const char *type = probe_sql_str(rows, i, MSSQL_IX_TYPE_DESC);
		const char *alloc = probe_sql_str(rows, i, MSSQL_IX_ALLOC_DESC);

		/* heaps (index_id 0), LOB and row-overflow units, non-leaf levels,
		 * columnstore/XML/spatial indexes and small indexes are not judged */
		if (index_id <= 0 || level != 0 || strcmp(alloc, "IN_ROW_DATA") != 0 ||
		    (strcmp(type, "CLUSTERED INDEX") != 0 &&
		     strcmp(type, "NONCLUSTERED INDEX") != 0) ||
		    pages < s->pg.min_index_pages || !isfinite(frag))
			continue;
		char qdb[300], qs[300], qt[300], qi[300], object[700], target[1000], rem[1200],
			msg[600], partclause[48] = "";
		if (probe_mssql_quote_ident(probe_sql_str(rows, i, MSSQL_IX_DB), qdb, sizeof(qdb)) <
			    0 ||
		    probe_mssql_quote_ident(probe_sql_str(rows, i, MSSQL_IX_SCHEMA), qs,
					    sizeof(qs)) < 0 ||
		    probe_mssql_quote_ident(probe_sql_str(rows, i, MSSQL_IX_TABLE), qt,
					    sizeof(qt)) < 0 ||
		    probe_mssql_quote_ident(probe_sql_str(rows, i, MSSQL_IX_INDEX), qi,
					    sizeof(qi)) < 0)
			continue;
		if (parts > 1) {
			ep_snprintf(object, sizeof(object), "%s/%s.%s (partition %lld)",
				    probe_sql_str(rows, i, MSSQL_IX_DB),
				    probe_sql_str(rows, i, MSSQL_IX_SCHEMA),
				    probe_sql_str(rows, i, MSSQL_IX_INDEX), (long long)part);
			ep_snprintf(partclause, sizeof(partclause), " PARTITION = %lld",
				    (long long)part);
		} else {
			ep_snprintf(object, sizeof(object), "%s/%s.%s",
				    probe_sql_str(rows, i, MSSQL_IX_DB),
				    probe_sql_str(rows, i, MSSQL_IX_SCHEMA),
				    probe_sql_str(rows, i, MSSQL_IX_INDEX));
		}
		ep_snprintf(target, sizeof(target), "%s ON %s.%s.%s", qi, qdb, qs, qt);
		enum ep_severity sev = EP_SEV_INFO;
		const char *lock = NULL;
		rem[0] = '\0';
		if (frag >= thr) {
			sev = frag >= (thr * 2 > 95 ? 95 : thr * 2) ? EP_SEV_CRITICAL
								    : EP_SEV_WARNING;
			if (online_rebuild) {
				ep_snprintf(rem, sizeof(rem),
					    "ALTER INDEX %s REBUILD%s WITH (ONLINE = ON);", target,
					    partclause);
				lock = "online rebuild: reads and writes go on; a short Sch-M lock "
				       "at "
				       "the end; needs free space about the index's size in the "
				       "data "
				       "file, plus log and tempdb";
			} else {
				ep_snprintf(rem, sizeof(rem), "ALTER INDEX %s REBUILD%s;", target,
					    partclause);
				lock = "offline rebuild (this edition has no ONLINE = ON): the "
				       "table is "
				       "locked (Sch-M) while it runs; needs free space about the "
				       "index's "
				       "size; run it in a maintenance window, or REORGANIZE "
				       "instead";
			}
		} else if (frag >= reorg) {
			ep_snprintf(rem, sizeof(rem), "ALTER INDEX %s REORGANIZE%s;", target,
				    partclause);
			lock = "REORGANIZE is always online, takes only short page locks, needs "
			       "little "
			       "extra space and can be stopped at any time";
		}
		ep_snprintf(msg, sizeof(msg),
			    "avg_fragmentation_in_percent %.1f%% (logical order of leaf pages, "
			    "LIMITED scan) over %lld pages%s",
			    frag, (long long)pages,
			    frag >= thr     ? ": rebuild"
			    : frag >= reorg ? ": reorganize"
					    : "");
		struct ep_finding f = {
			.kind = "index_fragmentation",
			.object = object,
			.value = frag,
			.unit = "%",
			.threshold = thr,
			.severity = sev,
			.method = isfinite(density) ? "dm_db_index_physical_stats SAMPLED"
						    : "dm_db_index_physical_stats LIMITED",
			.message = msg,
			.remediation = rem[0] ? rem : NULL,
		};
		json_t *j = ep_finding_json(&f);
		if (!j)
			return added;
		json_object_set_new(j, "pages", json_integer(pages));
		json_object_set_new(j, "bytes", json_integer(pages * 8192));
		json_object_set_new(j, "fragment_count",
				    json_integer(probe_sql_int(rows, i, MSSQL_IX_FRAGMENTS, 0)));
		json_object_set_new(j, "page_density",
				    isfinite(density) ? json_real(density) : json_null());
		if (lock) {
			json_object_set_new(j, "lock", json_string(lock));
			json_object_set_new(j, "extra_disk_bytes",
					    json_integer(frag >= thr ? pages * 8192 : 0));
		}
		/* an index of a known ERP table: module, function, month-end rule */
		probe_erp_annotate_table(j, probe_sql_str(rows, i, MSSQL_IX_TABLE), time(NULL),
					 (int)s->pg.month_end_days);
		if (ep_findings_append(r->findings, j) < 0)
			return added;
		added++;
	}
	return added;
}

int probe_mssql_map_backup_rows(const struct probe_sql_rows *rows,
				const struct probe_odbc_settings *s, struct ep_probe_result *r)
{
	int added = 0;

	if (rows->ncols < MSSQL_BK_NCOLS)
		return 0;
	for (size_t i = 0; i < rows->nrows; i++) {
		const char *db = probe_sql_str(rows, i, MSSQL_BK_DB);
		const char *model = probe_sql_str(rows, i, MSSQL_BK_RECOVERY);
		int64_t created = probe_sql_int(rows, i, MSSQL_BK_AGE_MIN, 0);
		int64_t full = probe_sql_int(rows, i, MSSQL_BK_FULL_MIN, -1);
		int64_t diff = probe_sql_int(rows, i, MSSQL_BK_DIFF_MIN, -1);
		int64_t logb = probe_sql_int(rows, i, MSSQL_BK_LOG_MIN, -1);
		char msg[400], object[300];

		if (strcmp(probe_sql_str(rows, i, MSSQL_BK_STATE), "ONLINE") != 0)
			continue;
		/* newest restorable data backup: a differential needs its full */
		int64_t data = full;
		if (full >= 0 && diff >= 0 && diff < full)
			data = diff;
		double hours = (double)(data >= 0 ? data : created) / 60.0;
		double max_h = (double)s->backup_max_age_s / 3600.0;
		ep_snprintf(object, sizeof(object), "%s", db);
		if (data >= 0)
			ep_snprintf(msg, sizeof(msg), "newest %s backup is %.1f hours old",
				    data == full ? "full" : "differential", hours);
		else
			ep_snprintf(
				msg, sizeof(msg),
				"never backed up (according to msdb) in the %.1f hours since it "
				"was created",
				hours);
		struct ep_finding f = {
			.kind = "backup_age",
			.object = object,
			.value = hours,
			.unit = "hours",
			.threshold = max_h,
			.severity = data < 0 && hours > 24 ? EP_SEV_CRITICAL
				    : hours > max_h        ? EP_SEV_WARNING
							   : EP_SEV_INFO,
			.method = "msdb.dbo.backupset",
			.message = msg,
			.remediation = hours > max_h ? "check the backup job (SQL Server Agent / "
						       "maintenance plan) for this database"
						     : NULL,
		};
		if (ep_probe_add_finding(r, &f) == 0)
			added++;
		if (strcmp(model, "FULL") == 0 || strcmp(model, "BULK_LOGGED") == 0) {
			double lh = (double)(logb >= 0 ? logb : created) / 60.0;
			double lmax = (double)s->log_backup_max_age_s / 3600.0;
			ep_snprintf(object, sizeof(object), "%s (log)", db);
			if (logb >= 0)
				ep_snprintf(
					msg, sizeof(msg),
					"newest log backup is %.1f hours old (recovery model %s: "
					"the log grows until it is backed up)",
					lh, model);
			else
				ep_snprintf(msg, sizeof(msg),
					    "no log backup ever, recovery model %s: the log grows "
					    "without bound and point-in-time restore is impossible",
					    model);
			struct ep_finding g = {
				.kind = "backup_age",
				.object = object,
				.value = lh,
				.unit = "hours",
				.threshold = lmax,
				.severity = logb < 0    ? EP_SEV_CRITICAL
					    : lh > lmax ? EP_SEV_WARNING
							: EP_SEV_INFO,
				.method = "msdb.dbo.backupset",
				.message = msg,
				.remediation = lh > lmax ? "schedule BACKUP LOG, or switch to the "
							   "SIMPLE recovery model if point-in-time "
							   "restore is not needed"
							 : NULL,
			};
			if (ep_probe_add_finding(r, &g) == 0)
				added++;
		}
	}
	return added;
}

int probe_mssql_collect(struct probe_sql *c, const struct probe_odbc_settings *s,
			const struct ep_deadline *d, struct ep_probe_result *r, char *err,
			size_t errlen)
{
	struct probe_sql_rows rows = {0}, cand = {0};
	char st[6], sql[2000], e2[400];
	int rc;

	ep_snprintf(sql, sizeof(sql), "SET LOCK_TIMEOUT %lld", (long long)s->pg.lock_timeout_ms);
	if ((rc = c->exec(c->impl, d, sql, NULL, st, err, errlen)) < 0)
		return rc;
	rc = c->exec(c->impl, d,
		     "SELECT CAST(SERVERPROPERTY('ProductVersion') AS nvarchar(128)),"
		     " CAST(SERVERPROPERTY('Edition') AS nvarchar(128)),"
		     " CAST(SERVERPROPERTY('EngineEdition') AS int), DB_NAME()",
		     &rows, st, err, errlen);
	if (rc < 0)
		return rc;
	int64_t engine = probe_sql_int(&rows, 0, 2, 0);
	bool online = engine == 3 || engine == 5 || engine == 8; /* Enterprise/Developer, Azure */
	json_object_set_new(r->metrics, "server_version", json_string(probe_sql_str(&rows, 0, 0)));
	json_object_set_new(r->metrics, "edition", json_string(probe_sql_str(&rows, 0, 1)));
	json_object_set_new(r->metrics, "online_rebuild", json_boolean(online));
	probe_sql_rows_free(&rows);

	/* candidates from the catalog (no scan), largest first */
	ep_snprintf(sql, sizeof(sql),
		    "SELECT ps.object_id, ps.index_id, COUNT(*), SUM(ps.used_page_count)"
		    " FROM sys.dm_db_partition_stats ps"
		    " JOIN sys.indexes i ON i.object_id = ps.object_id AND i.index_id = ps.index_id"
		    " JOIN sys.objects o ON o.object_id = ps.object_id"
		    " WHERE o.is_ms_shipped = 0 AND i.type IN (1, 2) AND i.is_disabled = 0"
		    " AND i.is_hypothetical = 0"
		    " GROUP BY ps.object_id, ps.index_id HAVING SUM(ps.used_page_count) >= %lld"
		    " ORDER BY SUM(ps.used_page_count) DESC",
		    (long long)s->pg.min_index_pages);
	if ((rc = c->exec(c->impl, d, sql, &cand, st, err, errlen)) < 0)
		return rc;
	int64_t measured = 0, failed = 0, skipped = 0;
	for (size_t i = 0; i < cand.nrows; i++) {
		if (ep_deadline_left_ms(d) < 1000) {
			skipped++;
			continue;
		}
		ep_snprintf(
			sql, sizeof(sql),
			"SELECT DB_NAME(), s.name, o.name, i.name, ps.index_id, "
			"ps.partition_number,"
			" %lld, ps.index_type_desc, ps.alloc_unit_type_desc, ps.index_level,"
			" ps.avg_fragmentation_in_percent, ps.fragment_count, ps.page_count,"
			" ps.avg_page_space_used_in_percent"
			" FROM sys.dm_db_index_physical_stats(DB_ID(), %lld, %lld, NULL, '%s') ps"
			" JOIN sys.indexes i ON i.object_id = ps.object_id AND i.index_id = "
			"ps.index_id"
			" JOIN sys.objects o ON o.object_id = ps.object_id"
			" JOIN sys.schemas s ON s.schema_id = o.schema_id",
			(long long)probe_sql_int(&cand, i, 2, 1),
			(long long)probe_sql_int(&cand, i, 0, 0),
			(long long)probe_sql_int(&cand, i, 1, 0),
			s->page_density ? "SAMPLED" : "LIMITED");
		if (c->exec(c->impl, d, sql, &rows, st, e2, sizeof(e2)) < 0) {
			failed++;
			char object[64], msg[600];
			ep_snprintf(object, sizeof(object), "object_id %lld index_id %lld",
				    (long long)probe_sql_int(&cand, i, 0, 0),
				    (long long)probe_sql_int(&cand, i, 1, 0));
			ep_snprintf(msg, sizeof(msg), "not measured this cycle: %s", e2);
			struct ep_finding f = {
				.kind = "index_not_measured",
				.object = object,
				.value = (double)probe_sql_int(&cand, i, 3, 0),
				.unit = "pages",
				.threshold = NAN,
				.severity = EP_SEV_INFO,
				.method = "dm_db_index_physical_stats",
				.message = msg,
			};
			ep_probe_add_finding(r, &f);
			continue;
		}
		measured++;
		probe_mssql_map_index_rows(&rows, s, online, r);
		probe_sql_rows_free(&rows);
	}
	probe_sql_rows_free(&cand);
	json_object_set_new(r->metrics, "indexes_measured", json_integer(measured));
	json_object_set_new(r->metrics, "indexes_failed", json_integer(failed));
	json_object_set_new(r->metrics, "indexes_out_of_time", json_integer(skipped));

	if (c->exec(c->impl, d,
		    "SELECT d.name, d.recovery_model_desc, d.state_desc,"
		    " DATEDIFF(MINUTE, d.create_date, GETDATE()),"
		    " DATEDIFF(MINUTE, MAX(CASE WHEN b.type = 'D' THEN b.backup_finish_date END), "
		    "GETDATE()),"
		    " DATEDIFF(MINUTE, MAX(CASE WHEN b.type = 'I' THEN b.backup_finish_date END), "
		    "GETDATE()),"
		    " DATEDIFF(MINUTE, MAX(CASE WHEN b.type = 'L' THEN b.backup_finish_date END), "
		    "GETDATE())"
		    " FROM sys.databases d"
		    " LEFT JOIN msdb.dbo.backupset b ON b.database_name = d.name AND "
		    "b.is_copy_only = 0"
		    " WHERE d.name <> 'tempdb' AND d.source_database_id IS NULL"
		    " GROUP BY d.name, d.recovery_model_desc, d.state_desc, d.create_date",
		    &rows, st, e2, sizeof(e2)) == 0) {
		probe_mssql_map_backup_rows(&rows, s, r);
		probe_sql_rows_free(&rows);
	} else {
		json_object_set_new(r->metrics, "backup_error", json_string(e2));
	}
	if (c->exec(c->impl, d,
		    "SELECT total_log_size_in_bytes, used_log_space_in_percent"
		    " FROM sys.dm_db_log_space_usage",
		    &rows, st, e2, sizeof(e2)) == 0 &&
	    rows.nrows == 1) {
		json_object_set_new(r->metrics, "log_size_bytes",
				    json_integer(probe_sql_int(&rows, 0, 0, 0)));
		json_object_set_new(r->metrics, "log_used_pct",
				    json_real(probe_sql_num(&rows, 0, 1)));
	}
	probe_sql_rows_free(&rows);
	return 0;
}
