/* Odoo: what the erp probe reads (docs/probes-erp.md, "Odoo"). Odoo stores
 * naive UTC timestamps. Logins are res_users_log rows (one per login);
 * failed logins are not stored in the database. Sessions live in files. */
#include "probes/erp/erp.h"

#define SINCE(days) "(now() AT TIME ZONE 'UTC') - interval '" days " days'"
#define HOUR_AGO    "(now() AT TIME ZONE 'UTC') - interval '1 hour'"

static const struct probe_erp_query odoo_usage[] = {
	{"users_enabled", "SELECT count(*) FROM res_users WHERE active AND NOT share",
	 "res_users(active, share)", NULL},
	{"active_users_1d,active_users_7d,active_users_30d,logins_7d",
	 "SELECT count(DISTINCT create_uid) FILTER (WHERE create_date >= " SINCE(
		 "1") "), "
		      "count(DISTINCT create_uid) FILTER (WHERE create_date >= " SINCE(
			      "7") "), "
				   "count(DISTINCT create_uid), count(*) FILTER (WHERE create_date "
				   ">= " SINCE(
					   "7") ") "
						"FROM res_users_log WHERE create_date >= " SINCE(
							"30"),
	 "res_users_log(create_uid, create_date)", NULL},
	{"documents_7d.sales_orders",
	 "SELECT count(*) FROM sale_order WHERE create_date >= " SINCE("7"),
	 "sale_order(create_date)", NULL},
	{"documents_7d.invoices,documents_7d.journal_entries",
	 "SELECT count(*) FILTER (WHERE move_type <> 'entry'), count(*) FILTER (WHERE move_type = "
	 "'entry') FROM account_move WHERE create_date >= " SINCE("7"),
	 "account_move(move_type, create_date)", NULL},
	{"documents_7d.stock_moves",
	 "SELECT count(*) FROM stock_move WHERE create_date >= " SINCE("7"),
	 "stock_move(create_date)", NULL},
	{"documents_7d.purchase_orders",
	 "SELECT count(*) FROM purchase_order WHERE create_date >= " SINCE("7"),
	 "purchase_order(create_date)", NULL},
	{"cron_active,cron_late",
	 "SELECT count(*), count(*) FILTER (WHERE nextcall < " HOUR_AGO ") "
	 "FROM ir_cron WHERE active",
	 "ir_cron(active, nextcall)", NULL},
	{"cron_failing", "SELECT count(*) FROM ir_cron WHERE active AND failure_count > 0",
	 "ir_cron(active, failure_count) (Odoo 18+)", NULL},
	{"queue_backlog,queue_failed",
	 "SELECT count(*) FILTER (WHERE state IN ('pending', 'enqueued', 'started')), count(*) "
	 "FILTER (WHERE state = 'failed') FROM queue_job",
	 "queue_job(state) (OCA queue_job, when installed)", NULL},
	{.metrics = NULL},
};

const struct probe_erp_spec probe_erp_odoo = {
	.app = PROBE_ERP_ODOO,
	.label = "Odoo",
	.version_sql = "SELECT latest_version FROM ir_module_module WHERE name = 'base'",
	.reads_version = "ir_module_module(name, latest_version)",
	.modules_sql = "SELECT name FROM ir_module_module WHERE state = 'installed' ORDER BY name",
	.reads_modules = "ir_module_module(name, state)",
	.usage = odoo_usage,
};
