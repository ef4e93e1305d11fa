/* Which ERP a database holds, from marker tables every install has
 * (docs/probes-erp.md, "Detection"). The catalog query reads pg_class and
 * pg_namespace only, which every role may read. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "erpulse/util.h"
#include "probes/erp/erp.h"

extern const struct probe_erp_spec probe_erp_odoo, probe_erp_erpnext, probe_erp_tryton,
	probe_erp_idempiere, probe_erp_dolibarr;

static const char *const app_names[PROBE_ERP_N_APPS] = {
	"none", "odoo", "erpnext", "tryton", "idempiere", "dolibarr",
};

const char *probe_erp_app_name(enum probe_erp_app app)
{
	return (unsigned)app < PROBE_ERP_N_APPS ? app_names[app] : "none";
}

const struct probe_erp_spec *probe_erp_spec(enum probe_erp_app app)
{
	switch (app) {
	case PROBE_ERP_ODOO:
		return &probe_erp_odoo;
	case PROBE_ERP_ERPNEXT:
		return &probe_erp_erpnext;
	case PROBE_ERP_TRYTON:
		return &probe_erp_tryton;
	case PROBE_ERP_IDEMPIERE:
		return &probe_erp_idempiere;
	case PROBE_ERP_DOLIBARR:
		return &probe_erp_dolibarr;
	default:
		return NULL;
	}
}

/* Every marker of an application must be present (in one schema). Order
 * matters where markers overlap: none do today. */
static const struct {
	enum probe_erp_app app;
	const char *markers[3];
} rules[] = {
	{PROBE_ERP_ODOO, {"ir_module_module", "res_users", NULL}},
	{PROBE_ERP_ERPNEXT, {"tabDefaultValue", "tabInstalled Application", NULL}},
	{PROBE_ERP_TRYTON, {"ir_module", "res_user", NULL}},
	{PROBE_ERP_IDEMPIERE, {"ad_system", "ad_client", NULL}},
	{PROBE_ERP_DOLIBARR, {"llx_const", "llx_user", NULL}},
};

const char probe_erp_detect_sql[] =
	"SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON "
	"n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'v') AND n.nspname NOT IN "
	"('pg_catalog', 'information_schema') AND c.relname IN ('ir_module_module', 'res_users', "
	"'tabDefaultValue', 'tabInstalled Application', 'ir_module', 'res_user', 'ad_system', "
	"'ad_client', 'llx_const', 'llx_user') ORDER BY n.nspname = 'public' DESC, 1, 2";

const char probe_erp_detect_sql_mysql[] =
	"SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema = "
	"DATABASE() AND table_name IN ('ir_module_module', 'res_users', 'tabDefaultValue', "
	"'tabInstalled Application', 'ir_module', 'res_user', 'ad_system', 'ad_client', "
	"'llx_const', 'llx_user')";

static bool seen_in(const struct probe_erp_seen *seen, size_t n, const char *schema,
		    const char *table)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(seen[i].schema, schema) == 0 && strcmp(seen[i].table, table) == 0)
			return true;
	return false;
}

enum probe_erp_app probe_erp_detect(const struct probe_erp_seen *seen, size_t n,
				    const char **ret_schema)
{
	for (size_t r = 0; r < EP_ARRAY_SIZE(rules); r++)
		for (size_t i = 0; i < n; i++) {
			if (strcmp(seen[i].table, rules[r].markers[0]) != 0)
				continue;
			bool all = true;
			for (size_t m = 1;
			     m < EP_ARRAY_SIZE(rules[r].markers) && rules[r].markers[m]; m++)
				all = all && seen_in(seen, n, seen[i].schema, rules[r].markers[m]);
			if (all) {
				if (ret_schema)
					*ret_schema = seen[i].schema;
				return rules[r].app;
			}
		}
	return PROBE_ERP_NONE;
}

int probe_erp_python_version(const char *text, size_t len, char *out, size_t outlen)
{
	static const char key[] = "__version__";
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		const char *q = p;
		if ((size_t)(eol - q) > sizeof(key) - 1 && memcmp(q, key, sizeof(key) - 1) == 0) {
			q += sizeof(key) - 1;
			while (q < eol && (*q == ' ' || *q == '\t'))
				q++;
			if (q < eol && *q == '=') {
				q++;
				while (q < eol && (*q == ' ' || *q == '\t'))
					q++;
				if (q < eol && (*q == '"' || *q == '\'')) {
					char quote = *q++;
					const char *v = q;
					while (q < eol && *q != quote &&
					       (isalnum((unsigned char)*q) || *q == '.' ||
						*q == '-' || *q == '+'))
						q++;
					if (q < eol && *q == quote && q > v &&
					    (size_t)(q - v) < outlen) {
						memcpy(out, v, (size_t)(q - v));
						out[q - v] = '\0';
						return 0;
					}
				}
			}
		}
		p = eol + 1;
	}
	return -ENOENT;
}
