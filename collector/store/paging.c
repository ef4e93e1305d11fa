/* Keyset pages (paging.h, docs/api.md "Paging"): a page is "the next limit
 * rows after this key" in an order an index can serve, so its cost does not
 * depend on how deep the page is nor, with the index, on the fleet. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/paging.h"
#include "collector/store/sql.h"
#include "erpulse/crypto.h"
#include "erpulse/util.h"

#define CURSOR_MAGIC "c1"

/* ---- the cursor ------------------------------------------------------------------- */

static int put(char *raw, size_t *len, size_t cap, const char *field)
{
	size_t n = strlen(field) + 1;
	if (*len + n > cap)
		return -ENOSPC;
	memcpy(raw + *len, field, n);
	*len += n;
	return 0;
}

int coll_cursor_encode(const struct coll_cursor *c, char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	char raw[COLL_CURSOR_MAX / 2];
	size_t len = 0;
	int r = put(raw, &len, sizeof(raw), CURSOR_MAGIC);
	if (r == 0)
		r = put(raw, &len, sizeof(raw), c->list);
	if (r == 0)
		r = put(raw, &len, sizeof(raw), c->sort);
	if (r == 0)
		r = put(raw, &len, sizeof(raw), c->desc ? "d" : "a");
	if (r == 0)
		r = put(raw, &len, sizeof(raw), c->fp);
	for (size_t i = 0; r == 0 && i < c->n && i < COLL_CURSOR_KEYS; i++)
		r = put(raw, &len, sizeof(raw), c->val[i]);
	if (r < 0 || len * 2 + 1 > size)
		return -ENOSPC;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[(unsigned char)raw[i] >> 4];
		out[2 * i + 1] = hex[(unsigned char)raw[i] & 15];
	}
	out[2 * len] = '\0';
	return 0;
}

static int nibble(char x)
{
	if (x >= '0' && x <= '9')
		return x - '0';
	if (x >= 'a' && x <= 'f')
		return x - 'a' + 10;
	return -1;
}

/* Copies the NUL-terminated field at raw[*pos] (within len) into dst. */
static int take(const char *raw, size_t len, size_t *pos, char *dst, size_t size)
{
	const char *end = memchr(raw + *pos, '\0', len - *pos);
	if (!end)
		return -EINVAL;
	size_t n = (size_t)(end - (raw + *pos));
	if (n >= size)
		return -EINVAL;
	memcpy(dst, raw + *pos, n + 1);
	*pos += n + 1;
	return 0;
}

int coll_cursor_decode(const char *text, struct coll_cursor *ret)
{
	char raw[COLL_CURSOR_MAX / 2], magic[4], order[2];
	size_t tlen = text ? strnlen(text, COLL_CURSOR_MAX) : 0, len = tlen / 2, pos = 0;
	if (tlen == 0 || tlen >= COLL_CURSOR_MAX || tlen % 2)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		int hi = nibble(text[2 * i]), lo = nibble(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		raw[i] = (char)(hi << 4 | lo);
	}
	memset(ret, 0, sizeof(*ret));
	if (take(raw, len, &pos, magic, sizeof(magic)) < 0 || strcmp(magic, CURSOR_MAGIC) != 0 ||
	    take(raw, len, &pos, ret->list, sizeof(ret->list)) < 0 ||
	    take(raw, len, &pos, ret->sort, sizeof(ret->sort)) < 0 ||
	    take(raw, len, &pos, order, sizeof(order)) < 0 ||
	    (strcmp(order, "a") != 0 && strcmp(order, "d") != 0) ||
	    take(raw, len, &pos, ret->fp, sizeof(ret->fp)) < 0 || strlen(ret->fp) != 16)
		return -EINVAL;
	ret->desc = order[0] == 'd';
	while (pos < len) {
		if (ret->n == COLL_CURSOR_KEYS ||
		    take(raw, len, &pos, ret->val[ret->n], COLL_CURSOR_VAL) < 0)
			return -EINVAL;
		ret->n++;
	}
	return ret->n >= 2 ? 0 : -EINVAL;
}

/* ---- built statements ----------------------------------------------------------------- */

/* The store caches prepared statements by the address of their text
 * (db.h), so a built text is interned: one stable copy per distinct text,
 * kept for the process's life. The texts are finite (lists x sorts x
 * orders x which filters are present: values are parameters), a few
 * hundred at most; INTERN_MAX is a fuse. */
#define INTERN_MAX 4096
static pthread_mutex_t intern_lock = PTHREAD_MUTEX_INITIALIZER;
static char *interned[INTERN_MAX];
static size_t n_interned;

static const char *intern(const char *text)
{
	const char *found = NULL;
	pthread_mutex_lock(&intern_lock);
	for (size_t i = 0; i < n_interned && !found; i++)
		if (strcmp(interned[i], text) == 0)
			found = interned[i];
	if (!found && n_interned < INTERN_MAX) {
		interned[n_interned] = strdup(text);
		if (interned[n_interned])
			found = interned[n_interned++];
	}
	pthread_mutex_unlock(&intern_lock);
	return found;
}

/* ---- the builder ------------------------------------------------------------------------ */

static void fp_add(struct coll_keyset *k, const char *text)
{
	size_t n = strlen(text);
	if (k->fplen + n + 2 > sizeof(k->fp_text)) {
		k->overflow = true;
		return;
	}
	memcpy(k->fp_text + k->fplen, text, n);
	k->fplen += n;
	k->fp_text[k->fplen++] = '\x1f';
	k->fp_text[k->fplen] = '\0';
}

static void fingerprint(const struct coll_keyset *k, char out[17])
{
	char h[65];
	ep_hash_secret(k->fp_text, h);
	memcpy(out, h, 16);
	out[16] = '\0';
}

static bool valid_val(const char *v, char type)
{
	int64_t x;
	if (type == 'i')
		return ep_parse_int64(v, INT64_MIN, INT64_MAX, &x) == 0;
	return true;
}

static size_t n_keys(const struct coll_sortcol *c)
{
	size_t n = 0;
	while (n < COLL_CURSOR_KEYS - 1 && c->key[n])
		n++;
	return n;
}

int coll_keyset_init(struct coll_store *s, struct coll_keyset *k, const struct coll_listdef *def,
		     struct coll_page *page)
{
	memset(k, 0, sizeof(*k));
	k->def = def;
	k->page = page;
	page->next[0] = '\0';
	page->total = -1;
	if (page->limit == 0)
		page->limit = COLL_PAGE_DEFAULT;
	if (page->limit < 1 || page->limit > COLL_PAGE_MAX) {
		snprintf(s->err, sizeof(s->err), "limit: 1..%d", COLL_PAGE_MAX);
		return -EINVAL;
	}
	snprintf(k->limit_text, sizeof(k->limit_text), "%lld", (long long)page->limit + 1);
	if (page->cursor && coll_cursor_decode(page->cursor, &k->cur) < 0) {
		snprintf(s->err, sizeof(s->err),
			 "cursor: not a cursor (pass the \"next\" of the previous page as it is)");
		return -EINVAL;
	}
	k->has_cursor = page->cursor != NULL;
	const char *sort = page->sort ? page->sort : k->has_cursor ? k->cur.sort : NULL;
	k->col = &def->cols[0];
	if (sort) {
		k->col = NULL;
		for (size_t i = 0; i < def->n_cols; i++)
			if (strcmp(def->cols[i].name, sort) == 0)
				k->col = &def->cols[i];
	}
	if (!k->col) {
		snprintf(s->err, sizeof(s->err), "sort: one of %s", def->allowed);
		return -EINVAL;
	}
	k->desc = k->col->desc;
	if (page->order && strcmp(page->order, "asc") == 0)
		k->desc = false;
	else if (page->order && strcmp(page->order, "desc") == 0)
		k->desc = true;
	else if (page->order) {
		snprintf(s->err, sizeof(s->err), "order: asc or desc");
		return -EINVAL;
	} else if (k->has_cursor)
		k->desc = k->cur.desc;
	if (k->has_cursor) {
		size_t nk = n_keys(k->col);
		bool ok = strcmp(k->cur.list, def->name) == 0 &&
			  strcmp(k->cur.sort, k->col->name) == 0 && k->cur.desc == k->desc &&
			  k->cur.n == nk + 1 && valid_val(k->cur.val[nk], def->id_type);
		for (size_t i = 0; ok && i < nk; i++)
			ok = valid_val(k->cur.val[i], k->col->types[i]);
		if (!ok) {
			snprintf(s->err, sizeof(s->err),
				 "cursor: not a cursor of this list in this sort and order");
			return -EINVAL;
		}
	}
	fp_add(k, def->name);
	fp_add(k, k->col->name);
	fp_add(k, k->desc ? "d" : "a");
	return 0;
}

static void where(struct coll_keyset *k, const char *cond, const char *p1, const char *p2,
		  bool fp_values)
{
	int n = ep_snprintf(k->where + k->wlen, sizeof(k->where) - k->wlen, "%s%s",
			    k->wlen ? " AND " : " WHERE ", cond);
	if (n < 0 || k->n + 2 > COLL_KEYSET_PARAMS) {
		k->overflow = true;
		return;
	}
	k->wlen += strlen(k->where + k->wlen);
	fp_add(k, cond);
	if (p1) {
		k->params[k->n++] = p1;
		if (fp_values)
			fp_add(k, p1);
	}
	if (p2) {
		k->params[k->n++] = p2;
		if (fp_values)
			fp_add(k, p2);
	}
}

void coll_keyset_where(struct coll_keyset *k, const char *cond, const char *p1, const char *p2)
{
	where(k, cond, p1, p2, true);
}

void coll_keyset_where_same(struct coll_keyset *k, const char *cond, const char *p, size_t times)
{
	where(k, cond, p, times > 1 ? p : NULL, true);
	for (size_t i = 2; i < times && !k->overflow; i++) {
		if (k->n >= COLL_KEYSET_PARAMS) {
			k->overflow = true;
			break;
		}
		k->params[k->n++] = p; /* the fingerprint has the value already */
	}
}

void coll_keyset_where_now(struct coll_keyset *k, const char *cond, const char *now_text)
{
	where(k, cond, now_text, NULL, false);
}

void coll_keyset_select_param(struct coll_keyset *k, const char *p)
{
	if (k->n_pre < EP_ARRAY_SIZE(k->pre))
		k->pre[k->n_pre++] = p;
	else
		k->overflow = true;
}

/* a key's parameter, cast where SQLite would compare text with a number */
static const char *param_sql(char type)
{
	return type == 'i' ? "CAST(? AS BIGINT)" : "?";
}

/* Two steps: the page's ids and keys first (filters and keys only, so
 * rows that do not make the page never have their columns computed -- a
 * customer's band, an alert's host), then the page's columns for those. */
static int build(const struct coll_keyset *k, struct ep_buf *b, bool count)
{
	const struct coll_listdef *d = k->def;
	const struct coll_sortcol *c = k->col;
	const char *dir = k->desc ? " DESC" : "";
	size_t nk = n_keys(c);
	int r = 0;
	if (count)
		return ep_buf_printf(b, "SELECT COUNT(*)%s%s", d->count_from, k->where);
	r |= ep_buf_printf(b, "%s", d->select);
	for (size_t i = 0; i < nk; i++)
		r |= ep_buf_printf(b, ", p.k%zu", i);
	r |= ep_buf_printf(b, ", p.id_ FROM (SELECT ");
	for (size_t i = 0; i < nk; i++)
		r |= ep_buf_printf(b, "%s AS k%zu, ", c->key[i], i);
	r |= ep_buf_printf(b, "%s AS id_%s%s", d->id, c->from ? c->from : d->from, k->where);
	if (k->has_cursor) {
		r |= ep_buf_printf(b, "%s(", k->wlen ? " AND " : " WHERE ");
		for (size_t i = 0; i < nk; i++)
			r |= ep_buf_printf(b, "%s, ", c->key[i]);
		r |= ep_buf_printf(b, "%s) %s (", d->id, k->desc ? "<" : ">");
		for (size_t i = 0; i < nk; i++)
			r |= ep_buf_printf(b, "%s, ", param_sql(c->types[i]));
		r |= ep_buf_printf(b, "%s)", param_sql(d->id_type));
	}
	r |= ep_buf_printf(b, " ORDER BY ");
	for (size_t i = 0; i < nk; i++)
		r |= ep_buf_printf(b, "%s%s, ", c->key[i], dir);
	r |= ep_buf_printf(b, "%s%s LIMIT CAST(? AS BIGINT)) p%s ORDER BY ", d->id, dir, d->outer);
	for (size_t i = 0; i < nk; i++)
		r |= ep_buf_printf(b, "p.k%zu%s, ", i, dir);
	r |= ep_buf_printf(b, "p.id_%s", dir);
	return r;
}

static int query(struct coll_store *s, const struct coll_keyset *k, bool count,
		 struct coll_db_res *res)
{
	struct ep_buf b;
	const char *params[2 + COLL_KEYSET_PARAMS + COLL_CURSOR_KEYS + 1];
	size_t n = 0;
	ep_buf_init(&b, 16384);
	int r = build(k, &b, count);
	const char *sql = r == 0 && b.data ? intern(b.data) : NULL;
	ep_buf_free(&b);
	if (!sql) {
		snprintf(s->err, sizeof(s->err), "list query: out of memory");
		return -ENOMEM;
	}
	for (size_t i = 0; !count && i < k->n_pre; i++)
		params[n++] = k->pre[i];
	for (size_t i = 0; i < k->n; i++)
		params[n++] = k->params[i];
	if (!count) {
		if (k->has_cursor)
			for (size_t i = 0; i < k->cur.n; i++)
				params[n++] = k->cur.val[i];
		params[n++] = k->limit_text;
	}
	if (n == 0)
		return coll_sql_query(s, sql, NULL, 0, res);
	return coll_sql_query(s, sql, params, n, res);
}

int coll_keyset_run(struct coll_store *s, struct coll_keyset *k, struct coll_db_res *res)
{
	char fp[17];
	if (k->overflow) {
		snprintf(s->err, sizeof(s->err), "list query: too many filters");
		return -EINVAL;
	}
	fingerprint(k, fp);
	if (k->has_cursor && strcmp(fp, k->cur.fp) != 0) {
		snprintf(s->err, sizeof(s->err),
			 "cursor: issued for other filters or another user; start again "
			 "without a cursor");
		return -EINVAL;
	}
	if (!k->has_cursor && k->def->count_from) {
		struct coll_db_res cnt;
		int r = query(s, k, true, &cnt);
		if (r < 0)
			return r;
		k->page->total = coll_s2i(coll_db_val(&cnt, 0, 0));
		coll_db_res_free(&cnt);
	}
	int r = query(s, k, false, res);
	if (r < 0)
		return r;
	if (res->rows <= (size_t)k->page->limit)
		return 0;
	/* the extra row says there is a next page: the cursor is the last
	 * shown row's key, and the extra row is dropped */
	size_t nk = n_keys(k->col), base = res->cols - (nk + 1), last = res->rows - 2;
	struct coll_cursor c = {.desc = k->desc, .n = nk + 1};
	snprintf(c.list, sizeof(c.list), "%s", k->def->name);
	snprintf(c.sort, sizeof(c.sort), "%s", k->col->name);
	memcpy(c.fp, fp, sizeof(c.fp));
	for (size_t i = 0; i <= nk; i++) {
		const char *v = coll_db_val(res, last, base + i);
		if (ep_snprintf(c.val[i], sizeof(c.val[i]), "%s", v ? v : "") < 0)
			r = -E2BIG;
	}
	for (size_t i = 0; i < res->cols; i++)
		free(res->v[(res->rows - 1) * res->cols + i]);
	res->rows--;
	if (r == 0)
		r = coll_cursor_encode(&c, k->page->next, sizeof(k->page->next));
	if (r < 0) {
		snprintf(s->err, sizeof(s->err), "list query: a sort key too long for a cursor");
		coll_db_res_free(res);
		return -E2BIG;
	}
	return 0;
}

void coll_like_pattern(const char *q, char *buf, size_t size)
{
	size_t o = 0;
	if (size < 3) {
		if (size)
			buf[0] = '\0';
		return;
	}
	buf[o++] = '%';
	for (; *q && o + 3 < size; q++) {
		char ch = *q;
		if (ch == '%' || ch == '_' || ch == '\\')
			buf[o++] = '\\';
		buf[o++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
	}
	buf[o++] = '%';
	buf[o] = '\0';
}

int coll_keyset_json(struct coll_store *s, struct coll_keyset *k, const char *const *names,
		     const char *types, json_t **ret)
{
	struct coll_db_res res;
	int r = coll_keyset_run(s, k, &res);
	if (r < 0)
		return r;
	r = coll_rows_json(&res, names, types, ret);
	coll_db_res_free(&res);
	return r;
}
