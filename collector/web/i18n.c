/* Message catalogs (i18n.h): the JSON files of collector/web/i18n/,
 * embedded by embed.py into catalogs.inc and parsed once on first use. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "collector/web/i18n.h"

#include "collector/web/catalogs.inc"

const char *const coll_i18n_langs[] = {"en", "zh-CN"};
const size_t coll_i18n_n_langs = sizeof(coll_i18n_langs) / sizeof(coll_i18n_langs[0]);

const char *const coll_finding_kinds[] = {
	"index_fragmentation",
	"table_free_space",
	"xid_wraparound",
	"dead_tuples",
	"vacuum_lag",
	"long_transaction",
	"idle_in_transaction",
	"connections",
	"cache_hit_ratio",
	"replication_lag",
	"wal_archiver",
	"backup_age",
	"disk_usage",
	"inode_usage",
	"filesystem_readonly",
	"filesystem_unavailable",
	"filesystem_errors",
	"disk_latency",
	"log_errors",
	"journal_errors",
	"security_updates",
	"pending_updates",
	"reboot_required",
	"kernel_outdated",
	"os_eol",
	"index_fragmentation_estimate",
	"index_not_measured",
	"monitoring_setup",
	"table_statistics_stale",
	"innodb_file_per_table",
	"probe_error",
	"log_format_mismatch",
	"log_source_unreadable",
	"erp_version_lag",
	"erp_failed_logins",
	"erp_jobs_late",
	"erp_jobs_failing",
	"erp_queue_backlog",
	"erp_session_table",
	"erp_table_dead_rows",
};
const size_t coll_n_finding_kinds = sizeof(coll_finding_kinds) / sizeof(coll_finding_kinds[0]);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static json_t *parsed[2]; /* en, zh-CN; NULL when a catalog does not parse */

static void load(void)
{
	parsed[0] = json_loadb(catalog_en, CATALOG_EN_LEN, 0, NULL);
	parsed[1] = json_loadb(catalog_zh_CN, CATALOG_ZH_CN_LEN, 0, NULL);
}

const char *coll_i18n_lang(const char *tag)
{
	/* an Accept-Language value lists the preferred language first */
	while (tag && (*tag == ' ' || *tag == '\t'))
		tag++;
	if (tag && strncasecmp(tag, "zh", 2) == 0 &&
	    (tag[2] == '\0' || tag[2] == '-' || tag[2] == '_' || tag[2] == ',' || tag[2] == ';' ||
	     tag[2] == '.'))
		return "zh-CN";
	return "en";
}

static int lang_index(const char *lang)
{
	return strcmp(coll_i18n_lang(lang), "zh-CN") == 0 ? 1 : 0;
}

const char *coll_i18n_text(const char *lang, const char *key)
{
	pthread_once(&once, load);
	const char *t = json_string_value(json_object_get(parsed[lang_index(lang)], key));
	if (!t)
		t = json_string_value(json_object_get(parsed[0], key));
	return t ? t : key;
}

const char *coll_i18n_finding(const char *lang, const char *kind, const char *part)
{
	char key[256];
	int n = snprintf(key, sizeof(key), "finding.%s.%s", kind ? kind : "", part ? part : "");
	if (n < 0 || (size_t)n >= sizeof(key))
		return kind ? kind : "";
	const char *t = coll_i18n_text(lang, key);
	/* a kind no catalog knows yet: its name, never the key's text */
	return t == key ? (kind ? kind : "") : t;
}

const char *coll_i18n_catalog(const char *lang, size_t *ret_len)
{
	if (!lang)
		return NULL;
	if (strcmp(lang, "en") == 0) {
		*ret_len = CATALOG_EN_LEN;
		return catalog_en;
	}
	if (strcmp(lang, "zh-CN") == 0) {
		*ret_len = CATALOG_ZH_CN_LEN;
		return catalog_zh_CN;
	}
	return NULL;
}

static const char *var(const char *const *vars, const char *name, size_t len)
{
	for (size_t i = 0; vars && vars[i] && vars[i + 1]; i += 2)
		if (strlen(vars[i]) == len && memcmp(vars[i], name, len) == 0)
			return vars[i + 1];
	return NULL;
}

int coll_i18n_fill(const char *tmpl, const char *const *vars, char *buf, size_t size)
{
	size_t o = 0;
	if (size == 0)
		return -ENOSPC;
	for (const char *p = tmpl ? tmpl : ""; *p;) {
		const char *v = NULL, *close = NULL;
		size_t vlen;
		if (*p == '{' && (close = strchr(p, '}')) &&
		    (v = var(vars, p + 1, (size_t)(close - p - 1)))) {
			vlen = strlen(v);
			p = close + 1;
		} else {
			v = p++;
			vlen = 1;
		}
		if (o + vlen >= size) {
			memcpy(buf + o, v, size - 1 - o);
			buf[size - 1] = '\0';
			return -ENOSPC;
		}
		memcpy(buf + o, v, vlen);
		o += vlen;
	}
	buf[o] = '\0';
	return 0;
}

int coll_i18n_render(const char *lang, const char *key, const char *const *vars, char *buf,
		     size_t size)
{
	return coll_i18n_fill(coll_i18n_text(lang, key), vars, buf, size);
}
