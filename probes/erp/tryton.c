/* Tryton: what the erp probe reads (docs/probes-erp.md, "Tryton"). Tryton
 * stores naive UTC timestamps and keeps no version in the database: the
 * version comes from the installed trytond package. ir_session rows are
 * deleted at logout and, lazily, when an expired key is next checked, so the
 * table grows with every user who never comes back; successful logins are
 * not logged, res_user_login_attempt keeps failed attempts (removed when the
 * same login then succeeds). */
#include "probes/erp/erp.h"

#define SINCE(days) "(now() AT TIME ZONE 'UTC') - interval '" days " days'"
#define LAST_USE    "coalesce(write_date, create_date)"
#define HOUR_AGO    "(now() AT TIME ZONE 'UTC') - interval '1 hour'"

static const struct probe_erp_query tryton_usage[] = {
	{"users_enabled", "SELECT count(*) FROM res_user WHERE active AND id > 0",
	 "res_user(id, active)", NULL},
	{"active_users_1d,active_users_7d,active_users_30d,logins_7d",
	 "SELECT count(DISTINCT create_uid) FILTER (WHERE " LAST_USE " >= " SINCE(
		 "1") "), "
		      "count(DISTINCT create_uid) FILTER (WHERE " LAST_USE " >= " SINCE(
			      "7") "), "
				   "count(DISTINCT create_uid), count(*) FILTER (WHERE create_date "
				   ">= " SINCE("7") ") "
						    "FROM ir_session WHERE " LAST_USE
						    " >= " SINCE("30"),
	 "ir_session(create_uid, create_date, write_date)", NULL},
	{"failed_logins_7d",
	 "SELECT count(*) FROM res_user_login_attempt WHERE create_date >= " SINCE("7"),
	 "res_user_login_attempt(create_date)", NULL},
	{"documents_7d.sales_orders",
	 "SELECT count(*) FROM sale_sale WHERE create_date >= " SINCE("7"),
	 "sale_sale(create_date)", NULL},
	{"documents_7d.invoices",
	 "SELECT count(*) FROM account_invoice WHERE create_date >= " SINCE("7"),
	 "account_invoice(create_date)", NULL},
	{"documents_7d.stock_moves",
	 "SELECT count(*) FROM stock_move WHERE create_date >= " SINCE("7"),
	 "stock_move(create_date)", NULL},
	{"documents_7d.purchase_orders",
	 "SELECT count(*) FROM purchase_purchase WHERE create_date >= " SINCE("7"),
	 "purchase_purchase(create_date)", NULL},
	{"documents_7d.journal_entries",
	 "SELECT count(*) FROM account_move WHERE create_date >= " SINCE("7"),
	 "account_move(create_date)", NULL},
	{"cron_active,cron_late",
	 "SELECT count(*), count(*) FILTER (WHERE next_call < " HOUR_AGO ") "
	 "FROM ir_cron WHERE active",
	 "ir_cron(active, next_call)", NULL},
	{"queue_backlog,queue_late",
	 "SELECT count(*), count(*) FILTER (WHERE coalesce(scheduled_at, enqueued_at) < " HOUR_AGO
	 ") FROM ir_queue WHERE finished_at IS NULL",
	 "ir_queue(enqueued_at, scheduled_at, finished_at)", NULL},
	{.metrics = NULL},
};

static const char *const tryton_version_files[] = {
	"usr/lib/python3/dist-packages/trytond/__init__.py",
	"usr/local/lib/python3*/dist-packages/trytond/__init__.py",
	"usr/local/lib/python3*/site-packages/trytond/__init__.py",
	"usr/lib/python3*/site-packages/trytond/__init__.py",
	"opt/*/lib/python3*/site-packages/trytond/__init__.py",
	NULL,
};

const struct probe_erp_spec probe_erp_tryton = {
	.app = PROBE_ERP_TRYTON,
	.label = "Tryton",
	.version_files = tryton_version_files,
	.modules_sql = "SELECT name FROM ir_module WHERE state = 'activated' ORDER BY name",
	.reads_modules = "ir_module(name, state)",
	.usage = tryton_usage,
	.session_table = "ir_session",
};
