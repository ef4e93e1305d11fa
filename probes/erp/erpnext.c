/* ERPNext / Frappe: what the erp probe reads (docs/probes-erp.md,
 * "ERPNext"). Frappe stores naive timestamps in the site's time zone, so
 * windows use LOCALTIMESTAMP (the database session's time zone must be the
 * site's). Logins and failed logins are "tabActivity Log" rows; background
 * jobs live in Redis (RQ), outside the database: the probe reports failed
 * scheduled-job runs from "tabScheduled Job Log" instead. */
#include "probes/erp/erp.h"

#define SINCE(days) "LOCALTIMESTAMP - interval '" days " days'"
#define HOURS(h)    "LOCALTIMESTAMP - interval '" h " hours'"
/* MariaDB/MySQL: NOW(6) is the session's local time, to the microsecond like the
 * stored datetime(6) (NOW() would count a row of this very second); SUM(cond)
 * counts. */
#define M_SINCE(days) "NOW(6) - INTERVAL " days " DAY"
#define M_HOURS(h)    "NOW(6) - INTERVAL " h " HOUR"
#define M_COUNT(cond) "COALESCE(SUM(" cond "), 0)"

static const struct probe_erp_query erpnext_usage[] = {
	{"users_enabled,active_users_1d,active_users_7d,active_users_30d",
	 "SELECT count(*), count(*) FILTER (WHERE last_active >= " SINCE(
		 "1") "), count(*) FILTER "
		      "(WHERE last_active >= " SINCE("7") "), count(*) FILTER (WHERE "
							  "last_active >= " SINCE(
								  "30") ") FROM "
									"\"tabUser\" WHERE "
									"enabled = 1 AND "
									"user_type = "
									"'System User'",
	 "tabUser(enabled, user_type, last_active)",
	 "SELECT count(*), " M_COUNT("last_active >= " M_SINCE("1")) ", " M_COUNT(
		 "last_active >= " M_SINCE(
			 "7")) ", " M_COUNT("last_active >= " M_SINCE("30")) " FROM "
									     "`tabUser` "
									     "WHERE "
									     "enabled = 1 "
									     "AND "
									     "user_type = "
									     "'System "
									     "User'"},
	{"logins_7d,failed_logins_7d",
	 "SELECT count(*) FILTER (WHERE status = 'Success'), count(*) FILTER (WHERE status "
	 "= "
	 "'Failed') FROM \"tabActivity Log\" WHERE operation = 'Login' AND creation "
	 ">= " SINCE("7"),
	 "tabActivity Log(operation, status, creation)",
	 "SELECT " M_COUNT("status = 'Success'") ", " M_COUNT(
		 "status = 'Failed'") " FROM "
				      "`tabActivity Log` WHERE operation = 'Login' AND "
				      "creation >= " M_SINCE("7")},
	{"documents_7d.sales_orders",
	 "SELECT count(*) FROM \"tabSales Order\" WHERE creation >= " SINCE("7"),
	 "tabSales Order(creation)",
	 "SELECT count(*) FROM `tabSales Order` WHERE creation >= " M_SINCE("7")},
	{"documents_7d.invoices",
	 "SELECT (SELECT count(*) FROM \"tabSales Invoice\" WHERE creation >= " SINCE(
		 "7") ") + (SELECT count(*) FROM \"tabPurchase Invoice\" WHERE creation "
		      ">= " SINCE("7") ")",
	 "tabSales Invoice(creation), tabPurchase Invoice(creation)",
	 "SELECT (SELECT count(*) FROM `tabSales Invoice` WHERE creation >= " M_SINCE(
		 "7") ") + (SELECT count(*) FROM `tabPurchase Invoice` WHERE creation "
		      ">= " M_SINCE("7") ")"},
	{"documents_7d.stock_moves",
	 "SELECT count(*) FROM \"tabStock Ledger Entry\" WHERE creation >= " SINCE("7"),
	 "tabStock Ledger Entry(creation)",
	 "SELECT count(*) FROM `tabStock Ledger Entry` WHERE creation >= " M_SINCE("7")},
	{"documents_7d.purchase_orders",
	 "SELECT count(*) FROM \"tabPurchase Order\" WHERE creation >= " SINCE("7"),
	 "tabPurchase Order(creation)",
	 "SELECT count(*) FROM `tabPurchase Order` WHERE creation >= " M_SINCE("7")},
	{"documents_7d.journal_entries",
	 "SELECT count(*) FROM \"tabJournal Entry\" WHERE creation >= " SINCE("7"),
	 "tabJournal Entry(creation)",
	 "SELECT count(*) FROM `tabJournal Entry` WHERE creation >= " M_SINCE("7")},
	/* "All" runs every few minutes, hourly jobs hourly: late after 2 hours;
	 * daily jobs after 2 days. Weekly and monthly jobs are not judged. */
	{"cron_active,cron_late",
	 "SELECT count(*), count(*) FILTER (WHERE (frequency IN ('All', 'Hourly', 'Hourly "
	 "Long') "
	 "AND last_execution < " HOURS(
		 "2") ") OR (frequency IN ('Daily', 'Daily Long') AND "
		      "last_execution < " SINCE(
			      "2") ")) FROM \"tabScheduled Job Type\" WHERE stopped = 0",
	 "tabScheduled Job Type(stopped, frequency, last_execution)",
	 "SELECT count(*), " M_COUNT(
		 "(frequency IN ('All', 'Hourly', 'Hourly Long') AND "
		 "last_execution < " M_HOURS(
			 "2") ") OR (frequency IN ('Daily', "
			      "'Daily Long') AND last_execution < " M_SINCE(
				      "2") ")") " FROM "
						"`tabScheduled Job Type` WHERE stopped = "
						"0"},
	{"cron_failing",
	 "SELECT count(DISTINCT scheduled_job_type) FROM \"tabScheduled Job Log\" WHERE "
	 "status = "
	 "'Failed' AND creation >= " SINCE("1"),
	 "tabScheduled Job Log(scheduled_job_type, status, creation)",
	 "SELECT count(DISTINCT scheduled_job_type) FROM `tabScheduled Job Log` WHERE "
	 "status = "
	 "'Failed' AND creation >= " M_SINCE("1")},
	{.metrics = NULL},
};

const struct probe_erp_spec probe_erp_erpnext = {
	.app = PROBE_ERP_ERPNEXT,
	.label = "ERPNext",
	.version_sql = "SELECT app_version FROM \"tabInstalled Application\" WHERE app_name = "
		       "'erpnext'",
	.reads_version = "tabInstalled Application(app_name, app_version)",
	.modules_sql = "SELECT app_name FROM \"tabInstalled Application\" ORDER BY app_name",
	.reads_modules = "tabInstalled Application(app_name)",
	.version_sql_mysql = "SELECT app_version FROM `tabInstalled Application` WHERE app_name = "
			     "'erpnext'",
	.modules_sql_mysql = "SELECT app_name FROM `tabInstalled Application` ORDER BY app_name",
	.usage = erpnext_usage,
	.session_table = "tabSessions",
};
