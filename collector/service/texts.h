/* The user-visible texts of incidents and their notices, in one table per
 * language (English and zh-CN), keyed by meaning ("incident.escalated").
 * Placeholders are named: "{host}", "{id}"; a placeholder without a value
 * is left as written. Every key exists in every language (a unit test
 * checks it). The dashboard issue's catalogs may absorb this table. */
#ifndef COLL_SERVICE_TEXTS_H
#define COLL_SERVICE_TEXTS_H

#include <stddef.h>

/* "en" (default) or "zh-CN"; unknown languages fall back to English. */
const char *coll_text(const char *key, const char *lang);
/* Renders key in lang with vars = {"name", "value", ..., NULL} into buf.
 * 0, -ENOENT (unknown key; buf = key) or -ENOSPC (truncated). */
int coll_text_render(const char *key, const char *lang, const char *const *vars, char *buf,
		     size_t size);
/* Number of keys; the i-th key (tests). */
size_t coll_text_count(void);
const char *coll_text_key(size_t i);

#endif
