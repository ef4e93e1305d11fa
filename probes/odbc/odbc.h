/* The odbc probe's dialects. The probe (probes/odbc/odbc.c) connects through
 * unixODBC, asks the driver which DBMS it talks to (SQLGetInfo
 * SQL_DBMS_NAME) and hands a probe_sql runner to one dialect: PostgreSQL
 * (the shared checks of probes/postgres/), MariaDB/MySQL (mysql.c) or SQL
 * Server (mssql.c). The mapping functions take result rows exactly as the
 * server returns them, so tests/unit/test_odbc_*.c exercise them without a
 * server. docs/probes-database.md describes the rules. */
#ifndef ERPULSE_PROBES_ODBC_ODBC_H
#define ERPULSE_PROBES_ODBC_ODBC_H

#include <stdbool.h>
#include <stdint.h>

#include "erpulse/probe.h"
#include "probes/odbc/mysql_space.h"
#include "probes/postgres/pg.h"

enum probe_odbc_dbms {
	PROBE_ODBC_OTHER,
	PROBE_ODBC_POSTGRES,
	PROBE_ODBC_MYSQL, /* MariaDB or MySQL */
	PROBE_ODBC_MSSQL,
};
/* From SQL_DBMS_NAME: case-insensitive prefix "PostgreSQL", "MariaDB",
 * "MySQL", "Microsoft SQL Server". */
enum probe_odbc_dbms probe_odbc_dbms_from_name(const char *dbms_name);

struct probe_odbc_settings {
	struct probe_pg_settings pg; /* threshold, min_index_pages, timeouts, ... */
	int64_t reorganize_pct;      /* SQL Server: REORGANIZE from here to the threshold */
	int64_t min_table_mb;        /* MariaDB/MySQL: smaller tables are not judged */
	int64_t stale_pct;           /* statistics stale when they miss > this % of the file */
	int64_t backup_max_age_s;    /* SQL Server: newest full/differential backup */
	int64_t log_backup_max_age_s;
	bool page_density;     /* SQL Server: SAMPLED mode for page density */
	bool innodb_page_scan; /* MariaDB: exact figures from the tablespace files */
	const char *root;      /* filesystem root for the tablespace files ("/") */
};

/* ---- the connection (probes/odbc/conn.c) --------------------------------- */

struct probe_odbc_conn {
	void *env, *dbc; /* SQLHENV, SQLHDBC */
	bool connected;
	int64_t max_query_s; /* SQL_ATTR_QUERY_TIMEOUT cap, also bounded by the deadline */
};
/* Logs in with connection (a connection string, or a bare DSN name) within
 * the deadline and login_timeout_s. 0, or <0 with a password-free err;
 * probe_odbc_close releases c either way. */
int probe_odbc_open(const char *connection, int64_t login_timeout_s, int64_t max_query_s,
		    struct probe_odbc_conn *c, const struct ep_deadline *d, char *err,
		    size_t errlen);
/* probe_sql.exec over ODBC (impl is a struct probe_odbc_conn). */
int probe_odbc_exec(void *impl, const struct ep_deadline *d, const char *sql,
		    struct probe_sql_rows *ret, char *sqlstate, char *err, size_t errlen);
/* SQLGetInfo as text ("" on failure). 0 or -EIO. */
int probe_odbc_getinfo(struct probe_odbc_conn *c, unsigned short what, char *out, size_t len);
void probe_odbc_close(struct probe_odbc_conn *c);

/* ---- MariaDB / MySQL (probes/odbc/mysql.c) ------------------------------- */

/* Where a table's figure comes from (docs/fragmentation.md), best first. */
enum probe_mysql_source {
	PROBE_MYSQL_SRC_DATA_FREE, /* information_schema.TABLES: wholly free extents only */
	PROBE_MYSQL_SRC_PAGES,     /* mysql.innodb_index_stats used pages: at least */
	PROBE_MYSQL_SRC_EXACT,     /* page headers of the tablespace file */
};

/* One InnoDB table as information_schema shows it (bytes; file_size < 0 =
 * unknown: no PROCESS privilege, or a shared tablespace), and, for the
 * PAGES and EXACT sources, its indexes and the modelled rebuilt size. */
struct probe_mysql_table {
	const char *schema, *table;
	int64_t data_length, index_length, data_free, table_rows;
	int64_t file_size;
	enum probe_mysql_source source;
	int64_t page_size;   /* PAGES / EXACT */
	int64_t pages_after; /* PAGES / EXACT: file pages after a rebuild */
	const struct probe_mysql_index_space *ix;
	size_t nix;
	bool online_rebuild; /* ALTER TABLE ... LOCK=NONE available (MariaDB 10+, MySQL 5.6+) */
	bool files_listed;   /* the tablespace list was readable (file_size < 0: not found) */
};

enum probe_mysql_verdict {
	PROBE_MYSQL_SMALL,        /* below min_table_mb: not judged */
	PROBE_MYSQL_OK,           /* below threshold */
	PROBE_MYSQL_FRAGMENTED,   /* at or above threshold */
	PROBE_MYSQL_STALE,        /* statistics miss part of the file: not judged */
	PROBE_MYSQL_NO_FILE_SIZE, /* file size unknown: judged on statistics alone */
};
/* The table's reclaimable space in % and its verdict. EXACT: 100 * (file -
 * rebuilt) / file, whatever the statistics say. PAGES: the same from the
 * used pages of innodb_index_stats, DATA_FREE: data_free / (data_length +
 * index_length + data_free); both only when the statistics describe the
 * file (they are stale when data_length + index_length + data_free is more
 * than stale_pct away from the tablespace file size). */
enum probe_mysql_verdict probe_mysql_judge(const struct probe_mysql_table *t,
					   const struct probe_odbc_settings *s,
					   double *ret_free_pct, double *ret_stats_cover_pct);
/* Adds the finding for one table. quoted: `schema`.`table`. 0 or -ENOMEM. */
int probe_mysql_table_finding(const struct probe_mysql_table *t,
			      const struct probe_odbc_settings *s, const char *quoted,
			      struct ep_probe_result *r);
/* Backtick quoting for MariaDB/MySQL identifiers. 0 or -ENOSPC. */
int probe_mysql_quote_ident(const char *ident, char *out, size_t outlen);

int probe_mysql_collect(struct probe_sql *c, const struct probe_odbc_settings *s,
			const struct ep_deadline *d, struct ep_probe_result *r, char *err,
			size_t errlen);

/* ---- SQL Server (probes/odbc/mssql.c) ------------------------------------- */

/* Column order of one row of the per-index physical-stats query (see
 * mssql.c): the DMV's own columns, joined to the names. */
enum {
	MSSQL_IX_DB,
	MSSQL_IX_SCHEMA,
	MSSQL_IX_TABLE,
	MSSQL_IX_INDEX,
	MSSQL_IX_INDEX_ID,
	MSSQL_IX_PARTITION,
	MSSQL_IX_PARTITIONS,
	MSSQL_IX_TYPE_DESC,
	MSSQL_IX_ALLOC_DESC,
	MSSQL_IX_LEVEL,
	MSSQL_IX_AVG_FRAG,
	MSSQL_IX_FRAGMENTS,
	MSSQL_IX_PAGES,
	MSSQL_IX_PAGE_SPACE_USED,
	MSSQL_IX_NCOLS
};
/* Maps rows of sys.dm_db_index_physical_stats (LIMITED or SAMPLED) to
 * findings: leaf level, IN_ROW_DATA, rowstore B-tree indexes of at least
 * min_index_pages; REORGANIZE from reorganize_pct, REBUILD (ONLINE = ON when
 * online_rebuild) at the threshold. Returns how many findings it added. */
int probe_mssql_map_index_rows(const struct probe_sql_rows *rows,
			       const struct probe_odbc_settings *s, bool online_rebuild,
			       struct ep_probe_result *r);

enum {
	MSSQL_BK_DB,
	MSSQL_BK_RECOVERY,
	MSSQL_BK_STATE,
	MSSQL_BK_AGE_MIN,
	MSSQL_BK_FULL_MIN,
	MSSQL_BK_DIFF_MIN,
	MSSQL_BK_LOG_MIN,
	MSSQL_BK_NCOLS
};
/* Maps the per-database backup rows (minutes since the database was created
 * and since its newest full / differential / log backup in msdb; NULL =
 * never) to backup_age findings. Returns how many it added. */
int probe_mssql_map_backup_rows(const struct probe_sql_rows *rows,
				const struct probe_odbc_settings *s, struct ep_probe_result *r);
/* [bracket] quoting. 0 or -ENOSPC. */
int probe_mssql_quote_ident(const char *ident, char *out, size_t outlen);

int probe_mssql_collect(struct probe_sql *c, const struct probe_odbc_settings *s,
			const struct ep_deadline *d, struct ep_probe_result *r, char *err,
			size_t errlen);

#endif
