/* The PostgreSQL checks, shared by the postgres probe (libpq, probes/postgres/
 * postgres.c) and the odbc probe's PostgreSQL dialect (psqlODBC): both hand
 * the same SQL to a small "sql runner", so both report the same figures.
 * docs/fragmentation.md and docs/probes-database.md describe the rules. */
#ifndef ERPULSE_PROBES_POSTGRES_PG_H
#define ERPULSE_PROBES_POSTGRES_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "erpulse/probe.h"
#include "erpulse/util.h"

/* ---- a query result as text (both libpq and ODBC give text) ------------- */
struct probe_sql_rows {
	size_t nrows, ncols;
	char **cells; /* nrows * ncols, row-major; NULL = SQL NULL; all malloc'd */
};
/* Cell (row, col) or NULL (SQL NULL or out of range). */
const char *probe_sql_cell(const struct probe_sql_rows *r, size_t row, size_t col);
/* Cell as text: "" for SQL NULL. */
const char *probe_sql_str(const struct probe_sql_rows *r, size_t row, size_t col);
/* Cell as a number: NAN for SQL NULL, "" or anything strtod does not take whole. */
double probe_sql_num(const struct probe_sql_rows *r, size_t row, size_t col);
/* Cell as an integer: def for SQL NULL or anything not an integer. */
int64_t probe_sql_int(const struct probe_sql_rows *r, size_t row, size_t col, int64_t def);
void probe_sql_rows_free(struct probe_sql_rows *r);
/* Appends one row of ncols cells (copied; NULL stays NULL). 0 or -ENOMEM. */
int probe_sql_rows_add(struct probe_sql_rows *r, size_t ncols, const char *const *cells);

/* A connection seen through one function. exec runs one statement within
 * the deadline; on failure returns <0 with err (and sqlstate, 5 chars, when
 * known). ret may be NULL for statements without rows. */
struct probe_sql {
	void *impl;
	int (*exec)(void *impl, const struct ep_deadline *d, const char *sql,
		    struct probe_sql_rows *ret, char *sqlstate, char *err, size_t errlen);
	/* Quotes an identifier for SQL ("a""b"); libpq uses PQescapeIdentifier. 0 or -ENOSPC. */
	int (*quote_ident)(void *impl, const char *ident, char *out, size_t outlen);
	const char *via;              /* "libpq" or "psqlODBC": goes into the method */
	int64_t statement_timeout_ms; /* what the session has now (probe_pg_session sets it) */
};

/* The portable identifier quoting ("..." with doubled quotes). 0 or -ENOSPC. */
int probe_pg_quote_ident(const char *ident, char *out, size_t outlen);

/* ---- settings ------------------------------------------------------------ */
struct probe_pg_settings {
	int64_t threshold;            /* % wasted leaf space: warning at or above */
	int64_t min_index_pages;      /* smaller indexes are not judged */
	int64_t exact_budget_mb;      /* pgstatindex I/O per cycle (window applied) */
	int64_t statement_timeout_ms; /* per statement, never past the deadline */
	int64_t lock_timeout_ms;
	int64_t remeasure_after_s;  /* an exact figure younger than this is carried
				       (0: once --fresh, nothing is carried) */
	int64_t long_xact_s;        /* long-running transaction threshold */
	int64_t idle_xact_s;        /* idle-in-transaction threshold */
	int64_t dead_tuples_pct;    /* dead tuples % of a table that warns */
	int64_t dead_tuples_min;    /* ... when at least this many */
	int64_t max_index_findings; /* cap on per-index findings */
	int64_t month_end_days;     /* ERP month-end rule on known tables (0 = off) */
};

/* "HH:MM-HH:MM" (may wrap midnight). 0 with minutes of day, or -EINVAL. */
int probe_pg_window_parse(const char *spec, int *ret_from, int *ret_to);
/* The section's `maintenance_window` option (absent or empty: *ret_have false).
 * 0, or -EINVAL with err as "file:line: [section] maintenance_window: ...". */
int probe_pg_window_option(const struct ep_config_section *s, const struct ep_option *opts,
			   const char *probe, bool *ret_have, int *ret_from, int *ret_to, char *err,
			   size_t errlen);
/* True when minute (0..1439) lies in [from, to). */
bool probe_pg_window_contains(int from, int to, int minute);

/* ---- fragmentation: pure pieces (tests/unit/test_postgres_frag.c) -------- */

/* Wasted leaf space, % = 100 * (1 - avg_leaf_density / fillfactor), clamped
 * to [0, 100]. NAN when density is not a number (no leaf pages). */
double probe_pg_wasted_pct(double avg_leaf_density, double fillfactor);
/* Severity of a wasted-space figure against threshold: warning at or above
 * it, critical at or above twice it (capped at 95), info below. */
enum ep_severity probe_pg_frag_severity(double wasted_pct, double threshold);
/* The critical line of that rule: min(2 * threshold, 95). */
double probe_pg_frag_critical(double threshold);

/* Order classes (probe_pg_order), measured in this order. */
enum {
	PROBE_PG_CHANGED = 0, /* rebuilt, replaced or resized since its exact figure */
	PROBE_PG_SUSPECT = 1, /* due; untrusted estimate or estimate >= threshold / 2 */
	PROBE_PG_DUE = 2,     /* due (never measured, or figure older than remeasure_after) */
	PROBE_PG_CARRY = 3,   /* measured recently: its figure is carried, not re-read */
};

/* Whether a carried exact figure still describes the index: the same
 * physical index (oid and relfilenode: REINDEX gives a new relfilenode,
 * REINDEX CONCURRENTLY and drop/create a new oid) of about the same size
 * (catalog relpages within 10% of what they were when measured). NULL when
 * it does, else why not (static text). docs/fragmentation.md, "Carried figures". */
const char *probe_pg_carry_mismatch(uint32_t oid, uint32_t filenode, int64_t relpages,
				    int64_t last_oid, int64_t last_filenode, int64_t last_relpages);

/* One index as the catalog sees it, plus what we know from earlier cycles. */
struct probe_pg_index {
	uint32_t oid;
	uint32_t filenode; /* pg_class.relfilenode */
	char *schema, *table, *name;
	int64_t relpages;
	double reltuples;
	int fillfactor;
	bool estimate_trusted;
	const char *untrusted_reason; /* static text when !estimate_trusted */
	double estimate_pct;          /* NAN when no estimate at all */
	/* carried from state: */
	const char *changed; /* the stored figure is of another index (why), or NULL */
	bool have_last;      /* a figure that still describes this index */
	double last_wasted, last_leaf_frag, last_density;
	int64_t last_pages;
	time_t last_at;
	/* this cycle: */
	int order_class; /* set by probe_pg_order */
};

/* Orders idx[0..n) for exact measurement: indexes changed since their
 * figure (rebuilt, replaced, resized) first, then those not measured within
 * remeasure_after_s; among them untrusted estimates and estimates at or
 * above threshold / 2 first, worst estimate first, then largest first;
 * recently measured indexes last (oldest figure first). */
void probe_pg_order(struct probe_pg_index *idx, size_t n, double threshold, time_t now,
		    int64_t remeasure_after_s);

/* Remediation for one index: "REINDEX INDEX CONCURRENTLY "s"."i";" on 12+,
 * plain REINDEX before. qschema/qname are already quoted. */
int probe_pg_remediation(int server_version_num, const char *qschema, const char *qname, char *out,
			 size_t outlen);
/* The lock the remediation takes, one sentence. */
const char *probe_pg_remediation_lock(int server_version_num);

/* ---- shared by the check files (pg_collect.c, pg_frag.c, pg_cluster.c) --- */

/* True for a boolean cell ("t", "1", "true"). */
bool probe_pg_bool(const struct probe_sql_rows *r, size_t row, size_t col);
/* Runs sql keeping statement_timeout inside the deadline. */
int probe_pg_run(struct probe_sql *c, const struct ep_deadline *d, const char *sql,
		 struct probe_sql_rows *rows, char *sqlstate, char *err, size_t errlen);
/* Appends a finding with optional extra fields; returns the JSON object
 * (borrowed) so the caller may add more, or NULL. extras is consumed. */
json_t *probe_pg_add_finding(struct ep_probe_result *r, const struct ep_finding *f, json_t *extras);
/* A number, or JSON null when not finite. */
json_t *probe_pg_jnum(double v);
/* RFC 3339 text of t, "?" when it cannot be formatted. */
void probe_pg_time_text(time_t t, char *buf, size_t len);

/* ---- running it ------------------------------------------------------------ */

struct probe_pg_cycle {
	const struct probe_pg_settings *cfg;
	int64_t budget_left_bytes; /* shared by every database of the cycle */
	bool cluster_done;         /* the cluster-wide checks ran already */
	size_t index_findings;
	time_t now;
	int64_t block_size; /* set by probe_pg_collect from the server */
};

/* Sets statement_timeout, lock_timeout and read-only on the session. 0 or <0 with err. */
int probe_pg_session(struct probe_sql *c, const struct probe_pg_settings *cfg,
		     const struct ep_deadline *d, char *err, size_t errlen);

/* All checks for the database c is connected to (db is its name): the
 * cluster-wide ones too unless cycle->cluster_done. Adds metrics under
 * metrics.databases.<db> and findings to r; updates r->state. Returns 0, or
 * <0 when the database could not be examined at all (err says why). */
int probe_pg_collect(struct probe_sql *c, struct probe_pg_cycle *cycle, const char *db,
		     const struct ep_deadline *d, struct ep_probe_result *r, char *err,
		     size_t errlen);

/* Index fragmentation of database db (pg_frag.c): metrics into m, findings
 * into r, carried figures in r->state. 0, or <0 when it could not run. */
int probe_pg_fragmentation(struct probe_sql *c, struct probe_pg_cycle *cy, const char *db,
			   int version, const char *user, const struct ep_deadline *d,
			   struct ep_probe_result *r, json_t *m);
/* The cluster-wide checks (pg_cluster.c): metrics and findings into r. */
void probe_pg_cluster(struct probe_sql *c, struct probe_pg_cycle *cy, bool in_recovery,
		      const struct ep_deadline *d, struct ep_probe_result *r);

/* The list of databases to examine: all connectable non-template ones the
 * role may connect to, but the maintenance database "postgres" unless it is
 * the only one (named in `databases`, it is examined). 0 with *ret (NULL-terminated, caller frees
 * each and the array) or <0 with err. */
int probe_pg_list_databases(struct probe_sql *c, const struct ep_deadline *d, char ***ret,
			    char *err, size_t errlen);

#endif
