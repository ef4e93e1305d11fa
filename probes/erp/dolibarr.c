/* Dolibarr: what the erp probe reads (docs/probes-erp.md, "Dolibarr"), with
 * the default table prefix llx_. Timestamps are naive server-local time.
 * Logins and failed logins are the security events (llx_events, kept when
 * the audit of USER_LOGIN / USER_LOGIN_FAILED is on). Sessions are PHP's. */
#include "probes/erp/erp.h"

#define SINCE(days) "LOCALTIMESTAMP - interval '" days " days'"
/* MariaDB/MySQL: NOW(6) is the session's local time, to the microsecond like the
 * stored datetime(6) (NOW() would count a row of this very second); SUM(cond)
 * counts. */
#define M_SINCE(days) "NOW(6) - INTERVAL " days " DAY"
#define M_COUNT(cond) "COALESCE(SUM(" cond "), 0)"

static const struct probe_erp_query dolibarr_usage[] = {
	{"users_enabled,active_users_1d,active_users_7d,active_users_30d",
	 "SELECT count(*), count(*) FILTER (WHERE datelastlogin >= " SINCE(
		 "1") "), count(*) FILTER "
		      "(WHERE datelastlogin >= " SINCE("7") "), count(*) FILTER (WHERE "
							    "datelastlogin >= " SINCE(
								    "30") ") FROM llx_user WHERE "
									  "statut = 1",
	 "llx_user(statut, datelastlogin)",
	 "SELECT count(*), " M_COUNT("datelastlogin >= " M_SINCE("1")) ", " M_COUNT(
		 "datelastlogin >= " M_SINCE(
			 "7")) ", " M_COUNT("datelastlogin >= " M_SINCE("30")) " FROM llx_user "
									       "WHERE statut = 1"},
	{"logins_7d,failed_logins_7d",
	 "SELECT count(*) FILTER (WHERE type = 'USER_LOGIN'), count(*) FILTER (WHERE type = "
	 "'USER_LOGIN_FAILED') FROM llx_events WHERE dateevent >= " SINCE("7"),
	 "llx_events(type, dateevent)",
	 "SELECT " M_COUNT("type = 'USER_LOGIN'") ", " M_COUNT(
		 "type = 'USER_LOGIN_FAILED'") " FROM "
					       "llx_events WHERE dateevent >= " M_SINCE("7")},
	{"documents_7d.sales_orders",
	 "SELECT count(*) FROM llx_commande WHERE date_creation >= " SINCE("7"),
	 "llx_commande(date_creation)",
	 "SELECT count(*) FROM llx_commande WHERE date_creation >= " M_SINCE("7")},
	{"documents_7d.invoices", "SELECT count(*) FROM llx_facture WHERE datec >= " SINCE("7"),
	 "llx_facture(datec)", "SELECT count(*) FROM llx_facture WHERE datec >= " M_SINCE("7")},
	{"documents_7d.stock_moves",
	 "SELECT count(*) FROM llx_stock_mouvement WHERE datem >= " SINCE("7"),
	 "llx_stock_mouvement(datem)",
	 "SELECT count(*) FROM llx_stock_mouvement WHERE datem >= " M_SINCE("7")},
	{"documents_7d.purchase_orders",
	 "SELECT count(*) FROM llx_commande_fournisseur WHERE date_creation >= " SINCE("7"),
	 "llx_commande_fournisseur(date_creation)",
	 "SELECT count(*) FROM llx_commande_fournisseur WHERE date_creation >= " M_SINCE("7")},
	{"documents_7d.journal_entries",
	 "SELECT count(*) FROM llx_accounting_bookkeeping WHERE date_creation >= " SINCE("7"),
	 "llx_accounting_bookkeeping(date_creation)",
	 "SELECT count(*) FROM llx_accounting_bookkeeping WHERE date_creation >= " M_SINCE("7")},
	{"cron_active,cron_late,cron_failing",
	 "SELECT count(*), count(*) FILTER (WHERE datenextrun < LOCALTIMESTAMP - interval '1 "
	 "hour'), "
	 "count(*) FILTER (WHERE lastresult IS NOT NULL AND lastresult <> '' AND lastresult <> "
	 "'0') "
	 "FROM llx_cronjob WHERE status = 1",
	 "llx_cronjob(status, datenextrun, lastresult)",
	 "SELECT count(*), " M_COUNT("datenextrun < NOW(6) - INTERVAL 1 HOUR") ", " M_COUNT(
		 "lastresult IS NOT NULL AND lastresult <> '' AND lastresult <> '0'") " FROM "
										      "llx_cronjob "
										      "WHERE "
										      "status = 1"},
	{.metrics = NULL},
};

const struct probe_erp_spec probe_erp_dolibarr = {
	.app = PROBE_ERP_DOLIBARR,
	.label = "Dolibarr",
	/* MAIN_VERSION_LAST_UPGRADE after an upgrade, else ..._LAST_INSTALL */
	.version_sql =
		"SELECT value FROM llx_const WHERE name IN ('MAIN_VERSION_LAST_UPGRADE', "
		"'MAIN_VERSION_LAST_INSTALL') AND entity IN (0, 1) ORDER BY name DESC LIMIT 1",
	.reads_version = "llx_const(name, value, entity): rows MAIN_VERSION_LAST_UPGRADE and "
			 "MAIN_VERSION_LAST_INSTALL only",
	.modules_sql = "SELECT lower(substr(name, 13)) FROM llx_const WHERE name ~ "
		       "'^MAIN_MODULE_[A-Z0-9]+$' AND value = '1' AND entity IN (0, 1) ORDER BY 1",
	.reads_modules = "llx_const(name, value, entity): rows MAIN_MODULE_<NAME> only",
	.version_sql_mysql =
		"SELECT value FROM llx_const WHERE name IN ('MAIN_VERSION_LAST_UPGRADE', "
		"'MAIN_VERSION_LAST_INSTALL') AND entity IN (0, 1) ORDER BY name DESC "
		"LIMIT 1",
	.modules_sql_mysql =
		"SELECT lower(substr(name, 13)) FROM llx_const WHERE name REGEXP "
		"BINARY '^MAIN_MODULE_[A-Z0-9]+$' AND value = '1' AND entity IN (0, 1) "
		"ORDER BY 1",
	.usage = dolibarr_usage,
};
