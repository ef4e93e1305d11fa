/* ERP tables by module and business function, and the month-end rule.
 * The database probes may call probe_erp_table_lookup() to say what an
 * index or table is for; the erp probe does for its own findings. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "erpulse/util.h"
#include "probes/erp/erp.h"

#define S PROBE_ERP_AREA_SALES
#define P PROBE_ERP_AREA_PURCHASE
#define K PROBE_ERP_AREA_STOCK
#define A PROBE_ERP_AREA_ACCOUNTING
#define Y PROBE_ERP_AREA_SYSTEM

static const struct probe_erp_table tables[] = {
	/* Odoo */
	{PROBE_ERP_ODOO, "sale_order", "sale", "sales orders", S},
	{PROBE_ERP_ODOO, "sale_order_line", "sale", "sales order lines", S},
	{PROBE_ERP_ODOO, "purchase_order", "purchase", "purchase orders", P},
	{PROBE_ERP_ODOO, "purchase_order_line", "purchase", "purchase order lines", P},
	{PROBE_ERP_ODOO, "stock_move", "stock", "stock moves", K},
	{PROBE_ERP_ODOO, "stock_move_line", "stock", "detailed stock moves", K},
	{PROBE_ERP_ODOO, "stock_quant", "stock", "stock on hand", K},
	{PROBE_ERP_ODOO, "stock_picking", "stock", "transfers", K},
	{PROBE_ERP_ODOO, "account_move", "account", "journal entries and invoices", A},
	{PROBE_ERP_ODOO, "account_move_line", "account", "journal items", A},
	{PROBE_ERP_ODOO, "account_partial_reconcile", "account", "reconciliations", A},
	{PROBE_ERP_ODOO, "mail_message", "mail", "chatter messages", Y},
	{PROBE_ERP_ODOO, "mail_tracking_value", "mail", "field change tracking", Y},
	{PROBE_ERP_ODOO, "ir_attachment", "base", "attachments", Y},
	{PROBE_ERP_ODOO, "res_users_log", "base", "user logins", Y},
	{PROBE_ERP_ODOO, "queue_job", "queue_job", "job queue", Y},
	/* ERPNext / Frappe */
	{PROBE_ERP_ERPNEXT, "tabSales Order", "selling", "sales orders", S},
	{PROBE_ERP_ERPNEXT, "tabSales Order Item", "selling", "sales order lines", S},
	{PROBE_ERP_ERPNEXT, "tabSales Invoice", "accounts", "sales invoices", A},
	{PROBE_ERP_ERPNEXT, "tabSales Invoice Item", "accounts", "sales invoice lines", A},
	{PROBE_ERP_ERPNEXT, "tabPurchase Invoice", "accounts", "purchase invoices", A},
	{PROBE_ERP_ERPNEXT, "tabPurchase Order", "buying", "purchase orders", P},
	{PROBE_ERP_ERPNEXT, "tabPurchase Order Item", "buying", "purchase order lines", P},
	{PROBE_ERP_ERPNEXT, "tabGL Entry", "accounts", "general ledger entries", A},
	{PROBE_ERP_ERPNEXT, "tabJournal Entry", "accounts", "journal entries", A},
	{PROBE_ERP_ERPNEXT, "tabPayment Entry", "accounts", "payments", A},
	{PROBE_ERP_ERPNEXT, "tabStock Ledger Entry", "stock", "stock ledger", K},
	{PROBE_ERP_ERPNEXT, "tabStock Entry", "stock", "stock entries", K},
	{PROBE_ERP_ERPNEXT, "tabBin", "stock", "stock on hand per warehouse", K},
	{PROBE_ERP_ERPNEXT, "tabVersion", "core", "document version history", Y},
	{PROBE_ERP_ERPNEXT, "tabActivity Log", "core", "activity and login log", Y},
	{PROBE_ERP_ERPNEXT, "tabError Log", "core", "error log", Y},
	{PROBE_ERP_ERPNEXT, "tabSessions", "core", "web sessions", Y},
	/* Tryton */
	{PROBE_ERP_TRYTON, "sale_sale", "sale", "sales orders", S},
	{PROBE_ERP_TRYTON, "sale_line", "sale", "sales order lines", S},
	{PROBE_ERP_TRYTON, "purchase_purchase", "purchase", "purchase orders", P},
	{PROBE_ERP_TRYTON, "purchase_line", "purchase", "purchase order lines", P},
	{PROBE_ERP_TRYTON, "stock_move", "stock", "stock moves", K},
	{PROBE_ERP_TRYTON, "stock_shipment_out", "stock", "customer shipments", K},
	{PROBE_ERP_TRYTON, "stock_shipment_in", "stock", "supplier shipments", K},
	{PROBE_ERP_TRYTON, "stock_period_cache", "stock", "stock period quantities", K},
	{PROBE_ERP_TRYTON, "account_move", "account", "journal entries", A},
	{PROBE_ERP_TRYTON, "account_move_line", "account", "journal entry lines", A},
	{PROBE_ERP_TRYTON, "account_invoice", "account_invoice", "invoices", A},
	{PROBE_ERP_TRYTON, "account_invoice_line", "account_invoice", "invoice lines", A},
	{PROBE_ERP_TRYTON, "ir_session", "ir", "web sessions", Y},
	{PROBE_ERP_TRYTON, "ir_queue", "ir", "task queue", Y},
	{PROBE_ERP_TRYTON, "ir_attachment", "ir", "attachments", Y},
	/* iDempiere / ADempiere */
	{PROBE_ERP_IDEMPIERE, "c_order", "core", "sales and purchase orders", S},
	{PROBE_ERP_IDEMPIERE, "c_orderline", "core", "order lines", S},
	{PROBE_ERP_IDEMPIERE, "c_invoice", "core", "invoices", A},
	{PROBE_ERP_IDEMPIERE, "c_invoiceline", "core", "invoice lines", A},
	{PROBE_ERP_IDEMPIERE, "fact_acct", "core", "accounting facts (general ledger)", A},
	{PROBE_ERP_IDEMPIERE, "gl_journal", "core", "GL journals", A},
	{PROBE_ERP_IDEMPIERE, "c_payment", "core", "payments", A},
	{PROBE_ERP_IDEMPIERE, "m_transaction", "core", "inventory transactions", K},
	{PROBE_ERP_IDEMPIERE, "m_storageonhand", "core", "stock on hand", K},
	{PROBE_ERP_IDEMPIERE, "m_inout", "core", "shipments and receipts", K},
	{PROBE_ERP_IDEMPIERE, "m_costdetail", "core", "cost details", A},
	{PROBE_ERP_IDEMPIERE, "ad_changelog", "core", "change log", Y},
	{PROBE_ERP_IDEMPIERE, "ad_session", "core", "sessions", Y},
	{PROBE_ERP_IDEMPIERE, "ad_pinstance", "core", "process runs", Y},
	/* Dolibarr (default llx_ prefix) */
	{PROBE_ERP_DOLIBARR, "llx_commande", "commande", "sales orders", S},
	{PROBE_ERP_DOLIBARR, "llx_commandedet", "commande", "sales order lines", S},
	{PROBE_ERP_DOLIBARR, "llx_facture", "facture", "customer invoices", A},
	{PROBE_ERP_DOLIBARR, "llx_facturedet", "facture", "customer invoice lines", A},
	{PROBE_ERP_DOLIBARR, "llx_facture_fourn", "fournisseur", "supplier invoices", A},
	{PROBE_ERP_DOLIBARR, "llx_commande_fournisseur", "fournisseur", "purchase orders", P},
	{PROBE_ERP_DOLIBARR, "llx_stock_mouvement", "stock", "stock movements", K},
	{PROBE_ERP_DOLIBARR, "llx_product_stock", "stock", "stock on hand", K},
	{PROBE_ERP_DOLIBARR, "llx_accounting_bookkeeping", "accounting", "ledger entries", A},
	{PROBE_ERP_DOLIBARR, "llx_bank", "banque", "bank entries", A},
	{PROBE_ERP_DOLIBARR, "llx_events", "core", "security events (logins)", Y},
	{PROBE_ERP_DOLIBARR, "llx_actioncomm", "agenda", "agenda events", Y},
};

const struct probe_erp_table *probe_erp_table_lookup(enum probe_erp_app app, const char *table)
{
	if (!table)
		return NULL;
	for (size_t i = 0; i < EP_ARRAY_SIZE(tables); i++)
		if ((app == PROBE_ERP_NONE || tables[i].app == app) &&
		    strcmp(tables[i].table, table) == 0)
			return &tables[i];
	return NULL;
}

int probe_erp_table_describe(const struct probe_erp_table *t, char *out, size_t outlen)
{
	return ep_snprintf(out, outlen, "%s: %s, module %s", t->table, t->function, t->module);
}

int probe_erp_days_to_month_end(time_t now)
{
	struct tm tm;
	localtime_r(&now, &tm);
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y = tm.tm_year + 1900;
	int days = mdays[tm.tm_mon];
	if (tm.tm_mon == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		days = 29;
	return days - tm.tm_mday + 1;
}

bool probe_erp_in_month_end(time_t now, int month_end_days)
{
	return month_end_days > 0 && probe_erp_days_to_month_end(now) <= month_end_days;
}

int probe_erp_annotate_finding(json_t *finding, const struct probe_erp_table *t, time_t now,
			       int month_end_days)
{
	char text[600];

	if (!t)
		return 0;
	if (json_object_set_new(finding, "erp_module", json_string(t->module)) < 0 ||
	    json_object_set_new(finding, "erp_function", json_string(t->function)) < 0)
		return -ENOMEM;
	if ((t->area != PROBE_ERP_AREA_ACCOUNTING && t->area != PROBE_ERP_AREA_STOCK) ||
	    !probe_erp_in_month_end(now, month_end_days))
		return 0;
	enum ep_severity sev = EP_SEV_INFO;
	ep_severity_parse(json_string_value(json_object_get(finding, "severity")), &sev);
	if (sev < EP_SEV_CRITICAL)
		sev++;
	const char *was = json_string_value(json_object_get(finding, "remediation"));
	int left = probe_erp_days_to_month_end(now);
	ep_snprintf(text, sizeof(text),
		    "%s%sMonth-end closing in %d day%s: plan this in a maintenance window before "
		    "closing, when %s is least used.",
		    was ? was : "", was ? " " : "", left, left == 1 ? "" : "s", t->function);
	if (json_object_set_new(finding, "severity", json_string(ep_severity_name(sev))) < 0 ||
	    json_object_set_new(finding, "month_end", json_true()) < 0 ||
	    json_object_set_new(finding, "remediation", json_string(text)) < 0)
		return -ENOMEM;
	return 0;
}

int probe_erp_annotate_table(json_t *finding, const char *table, time_t now, int month_end_days)
{
	char what[300];
	const struct probe_erp_table *t = probe_erp_table_lookup(PROBE_ERP_NONE, table);

	if (!t)
		return 0;
	if (json_object_set_new(finding, "table", json_string(t->table)) < 0 ||
	    (probe_erp_table_describe(t, what, sizeof(what)) == 0 &&
	     json_object_set_new(finding, "erp_table", json_string(what)) < 0))
		return -ENOMEM;
	return probe_erp_annotate_finding(finding, t, now, month_end_days);
}
