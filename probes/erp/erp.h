/* The erp probe: which ERP application runs on a database, its version and
 * modules, how far it lags the vendor's releases, and aggregate usage health
 * (never business data, never user names). docs/probes-erp.md lists every
 * table and column read. The SQL is the application's, one file per ERP
 * (odoo.c, erpnext.c, tryton.c, idempiere.c, dolibarr.c); detect.c finds the
 * application from its schema; releases.c holds the dated release table;
 * tables.c maps ERP tables to module and business function (callable by the
 * database probes) and carries the month-end rule. */
#ifndef ERPULSE_PROBES_ERP_ERP_H
#define ERPULSE_PROBES_ERP_ERP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "erpulse/probe.h"
#include "erpulse/report.h"

enum probe_erp_app {
	PROBE_ERP_NONE,
	PROBE_ERP_ODOO,
	PROBE_ERP_ERPNEXT, /* Frappe */
	PROBE_ERP_TRYTON,
	PROBE_ERP_IDEMPIERE, /* and ADempiere */
	PROBE_ERP_DOLIBARR,
	PROBE_ERP_N_APPS
};
/* "odoo", "erpnext", ... ("none" for PROBE_ERP_NONE). */
const char *probe_erp_app_name(enum probe_erp_app app);

/* ---- detection (detect.c) -------------------------------------------------- */

/* A table seen in the catalog: its schema and name. */
struct probe_erp_seen {
	const char *schema, *table;
};
/* The application whose marker tables are all present in seen[0..n), and
 * the schema they live in (points into seen). PROBE_ERP_NONE when none. */
enum probe_erp_app probe_erp_detect(const struct probe_erp_seen *seen, size_t n,
				    const char **ret_schema);
/* The catalog query listing every marker table (PostgreSQL; MariaDB/MySQL:
 * the current database's). */
extern const char probe_erp_detect_sql[];
extern const char probe_erp_detect_sql_mysql[];

/* ---- what is read, per application (odoo.c, erpnext.c, ...) --------------- */

/* One statement returning one row of numbers, one column per name in
 * metrics (comma-separated; "documents_7d.sales_orders" nests). reads names
 * the tables and columns for docs/probes-erp.md. A table or column missing
 * (module not installed, older release) leaves the metrics null. */
struct probe_erp_query {
	const char *metrics;
	const char *sql;
	const char *reads;
	const char *sql_mysql; /* the same on MariaDB/MySQL; NULL = PostgreSQL only */
};

struct probe_erp_spec {
	enum probe_erp_app app;
	const char *label;       /* "Odoo" */
	const char *version_sql; /* one row, one cell: the version text */
	const char *modules_sql; /* rows of one cell: installed module names */
	const char *reads_version, *reads_modules;
	const char *version_sql_mysql, *modules_sql_mysql; /* NULL = PostgreSQL only */
	const struct probe_erp_query *usage;               /* terminated by metrics == NULL */
	const char *session_table; /* NULL: sessions are not in the database */
	/* When the database does not store the version (Tryton): glob patterns
	 * below the agent's root of the file whose `__version__ = "X"` says it. */
	const char *const *version_files;
};
/* The spec of app, or NULL. */
const struct probe_erp_spec *probe_erp_spec(enum probe_erp_app app);

/* The text X of the first line `__version__ = "X"` (or 'X') in text[0..len),
 * copied into out. 0 or -ENOENT. For Python packages (trytond/__init__.py). */
int probe_erp_python_version(const char *text, size_t len, char *out, size_t outlen);

/* ---- releases (releases.c) ------------------------------------------------- */

struct probe_erp_release {
	enum probe_erp_app app;
	const char *series;       /* "17.0", "15", "7.0" */
	const char *released;     /* YYYY-MM-DD */
	const char *support_ends; /* YYYY-MM-DD (vendor's policy), NULL = not announced */
};
/* Date the release table was last checked against the vendors' pages. */
extern const char probe_erp_releases_checked[];

struct probe_erp_lag {
	const struct probe_erp_release *installed; /* NULL: series not in the table */
	const struct probe_erp_release *newest;    /* newest released by now */
	int behind; /* releases (series) of the table newer than installed, out by now */
	bool out_of_support;
	char series[32]; /* the series parsed from the version text */
};
/* Compares version (as the application reports it: "17.0.1.3", "v15.38.0",
 * "6.0.29", "11", "20.0.2") to the release table at time now. 0, or -ENOENT
 * when no series of app matches (ret->series still says what was parsed). */
int probe_erp_version_lag(enum probe_erp_app app, const char *version, time_t now,
			  struct probe_erp_lag *ret);
/* The series of version for app ("17.0.1.3" -> "17.0"; Tryton "6.0.29" ->
 * "6.0"; ERPNext "v15.38.0" -> "15"). 0 or -EINVAL. */
int probe_erp_series(enum probe_erp_app app, const char *version, char *out, size_t outlen);

/* ---- ERP tables and month-end (tables.c) ----------------------------------- */

enum probe_erp_area {
	PROBE_ERP_AREA_OTHER,
	PROBE_ERP_AREA_SALES,
	PROBE_ERP_AREA_PURCHASE,
	PROBE_ERP_AREA_STOCK,
	PROBE_ERP_AREA_ACCOUNTING,
	PROBE_ERP_AREA_SYSTEM,
};

struct probe_erp_table {
	enum probe_erp_app app;
	const char *table;    /* as in the database: "sale_line", "tabSales Invoice" */
	const char *module;   /* "sale" */
	const char *function; /* "sales order lines" */
	enum probe_erp_area area;
};
/* What table is in an ERP: app may be PROBE_ERP_NONE (any application; the
 * first match wins). NULL when unknown. For the database probes' findings. */
const struct probe_erp_table *probe_erp_table_lookup(enum probe_erp_app app, const char *table);
/* "sale_line: sales order lines, module sale" into out. 0 or -ENOSPC. */
int probe_erp_table_describe(const struct probe_erp_table *t, char *out, size_t outlen);

/* Days left in now's month (local time), counting today: 1 on the last day. */
int probe_erp_days_to_month_end(time_t now);
/* True when now lies in the last month_end_days days of its month. */
bool probe_erp_in_month_end(time_t now, int month_end_days);
/* Month-end rule (docs/probes-erp.md): during month-end, a finding on an
 * accounting or stock table goes one severity step up (info -> warning ->
 * critical), gets "month_end": true and a remediation proposing a
 * maintenance window before closing. Adds "erp_module"/"erp_function" to
 * finding (a JSON object from ep_finding_json) for any known table. 0 or
 * -ENOMEM. */
int probe_erp_annotate_finding(json_t *finding, const struct probe_erp_table *t, time_t now,
			       int month_end_days);
/* For the database probes: when table is a known ERP table, adds "table",
 * "erp_table" (probe_erp_table_describe) and what probe_erp_annotate_finding
 * adds. Nothing for an unknown table. 0 or -ENOMEM. */
int probe_erp_annotate_table(json_t *finding, const char *table, time_t now, int month_end_days);

#endif
