/* Message catalogs (docs/dashboard.md "Languages"): one JSON file per
 * language in collector/web/i18n/ (keys named by meaning, e.g.
 * "finding.index_fragmentation.title"), embedded at build time. The
 * dashboard fetches them; the collector's own texts (notices, CLI tables)
 * look them up here. */
#ifndef COLL_I18N_H
#define COLL_I18N_H

#include <stddef.h>

/* The languages there are catalogs for, the first being the fallback. */
extern const char *const coll_i18n_langs[];
extern const size_t coll_i18n_n_langs;

/* The catalog language for a language tag or locale ("zh-CN", "zh_CN.UTF-8",
 * "zh", "en-GB", an Accept-Language value, NULL): "zh-CN" or "en". */
const char *coll_i18n_lang(const char *tag);

/* key's text in lang (any tag coll_i18n_lang accepts); the English text
 * when lang lacks it (static storage); key itself when no catalog has it.
 * Never NULL; thread-safe. */
const char *coll_i18n_text(const char *lang, const char *key);

/* A finding kind's "title", "explanation" or "remediation" in lang. */
const char *coll_i18n_finding(const char *lang, const char *kind, const char *part);

/* tmpl with its named placeholders ("{host}") replaced from vars =
 * {"name", "value", ..., NULL}; a placeholder without a value stays as
 * written. 0 or -ENOSPC (truncated at size - 1). */
int coll_i18n_fill(const char *tmpl, const char *const *vars, char *buf, size_t size);
/* key's text in lang, filled (coll_i18n_fill). */
int coll_i18n_render(const char *lang, const char *key, const char *const *vars, char *buf,
		     size_t size);

/* The catalog file of lang as served to the page (JSON bytes, static), or
 * NULL when there is none. */
const char *coll_i18n_catalog(const char *lang, size_t *ret_len);

/* Every finding kind of docs/protocol.md: each has title, explanation and
 * remediation in every catalog (tests/unit/test_dashboard.c checks). */
extern const char *const coll_finding_kinds[];
extern const size_t coll_n_finding_kinds;

#endif
