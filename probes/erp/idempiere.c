/* iDempiere / ADempiere: what the erp probe reads (docs/probes-erp.md,
 * "iDempiere"). Timestamps are naive server-local time (LOCALTIMESTAMP).
 * A login is an AD_Session row; failed logins are the users' current
 * AD_User.FailedLoginCount counters (reset by a successful login), not a
 * 7-day count. "Modules" are the active entity types (core D, plug-ins). */
#include "probes/erp/erp.h"

#define SINCE(days) "LOCALTIMESTAMP - interval '" days " days'"

static const struct probe_erp_query idempiere_usage[] = {
	{"users_enabled,failed_login_counters",
	 "SELECT count(*), coalesce(sum(failedlogincount), 0) FROM ad_user WHERE isactive = 'Y' "
	 "AND islocked = 'N'",
	 "ad_user(isactive, islocked, failedlogincount)", NULL},
	{"active_users_1d,active_users_7d,active_users_30d,logins_7d",
	 "SELECT count(DISTINCT createdby) FILTER (WHERE created >= " SINCE(
		 "1") "), count(DISTINCT "
		      "createdby) FILTER (WHERE created >= " SINCE(
			      "7") "), count(DISTINCT createdby), count(*) "
				   "FILTER (WHERE created >= " SINCE(
					   "7") ") FROM ad_session WHERE created >= " SINCE("30"),
	 "ad_session(createdby, created)", NULL},
	{"documents_7d.sales_orders,documents_7d.purchase_orders",
	 "SELECT count(*) FILTER (WHERE issotrx = 'Y'), count(*) FILTER (WHERE issotrx = 'N') FROM "
	 "c_order WHERE created >= " SINCE("7"),
	 "c_order(issotrx, created)", NULL},
	{"documents_7d.invoices", "SELECT count(*) FROM c_invoice WHERE created >= " SINCE("7"),
	 "c_invoice(created)", NULL},
	{"documents_7d.stock_moves",
	 "SELECT count(*) FROM m_transaction WHERE created >= " SINCE("7"),
	 "m_transaction(created)", NULL},
	{"documents_7d.journal_entries",
	 "SELECT count(*) FROM gl_journal WHERE created >= " SINCE("7"), "gl_journal(created)",
	 NULL},
	{"cron_active,cron_late",
	 "SELECT count(*), count(*) FILTER (WHERE datenextrun < LOCALTIMESTAMP - interval '1 "
	 "hour') FROM ad_scheduler WHERE isactive = 'Y'",
	 "ad_scheduler(isactive, datenextrun)", NULL},
	{"cron_failing",
	 "SELECT count(DISTINCT ad_scheduler_id) FROM ad_schedulerlog WHERE iserror = 'Y' AND "
	 "created >= " SINCE("1"),
	 "ad_schedulerlog(ad_scheduler_id, iserror, created)", NULL},
	{.metrics = NULL},
};

const struct probe_erp_spec probe_erp_idempiere = {
	.app = PROBE_ERP_IDEMPIERE,
	.label = "iDempiere",
	.version_sql = "SELECT releaseno FROM ad_system LIMIT 1",
	.reads_version = "ad_system(releaseno)",
	.modules_sql = "SELECT entitytype FROM ad_entitytype WHERE isactive = 'Y' ORDER BY 1",
	.reads_modules = "ad_entitytype(entitytype, isactive)",
	.usage = idempiere_usage,
	.session_table = "ad_session",
};
