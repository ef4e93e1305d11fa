/* Keyset pages (docs/api.md "Paging"): the opaque cursor and the one query
 * builder every list of the store shares (hosts, alerts, incidents,
 * customers). Shared by the store's files and the cursor's fuzz target. */
#ifndef COLL_STORE_PAGING_H
#define COLL_STORE_PAGING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "collector/store/db.h"
#include "collector/store/store.h"

#define COLL_CURSOR_KEYS 4   /* key values in a cursor, the id included */
#define COLL_CURSOR_VAL  512 /* bytes of one key value, NUL included */

/* A cursor's content: where the last page ended. Encoded as lower-case hex
 * of "c1" NUL list NUL sort NUL ("a"|"d") NUL fingerprint NUL values...
 * (each NUL-terminated): URL-safe, opaque, not secret -- the scope is
 * enforced by the query, never by the cursor. */
struct coll_cursor {
	char list[16];
	char sort[32];
	bool desc;
	char fp[17]; /* of the list, sort, order, scope and filters it was issued for */
	size_t n;    /* values: the sort key's parts, then the row's id */
	char val[COLL_CURSOR_KEYS][COLL_CURSOR_VAL];
};
/* 0, or -ENOSPC when out is too small (size COLL_CURSOR_MAX always fits). */
int coll_cursor_encode(const struct coll_cursor *c, char *out, size_t size);
/* 0, or -EINVAL when text is not a cursor (ret then undefined). */
int coll_cursor_decode(const char *text, struct coll_cursor *ret);

/* One sort column of a list: the API's name and its key expressions (each
 * never NULL-valued); the list's id breaks ties. */
struct coll_sortcol {
	const char *name;
	const char *key[COLL_CURSOR_KEYS - 1];
	const char *types; /* one per key: 'i' integer, 's' text */
	bool desc;         /* the default order */
	const char *from;  /* this sort's " FROM ...", NULL: the list's */
};

struct coll_listdef {
	const char *name;       /* in the cursor: "hosts" */
	const char *select;     /* "SELECT <columns>" */
	const char *from;       /* " FROM ...": what the filters and keys read */
	const char *outer;      /* " JOIN ... ON ... = p.id_ ...": the select's tables */
	const char *count_from; /* " FROM ..." for the total (filters only use its tables) */
	const char *id;         /* the unique tie-breaker */
	char id_type;           /* 'i' or 's' */
	const struct coll_sortcol *cols; /* cols[0]: the default */
	size_t n_cols;
	const char *allowed; /* the sort names, for the error text */
};

#define COLL_KEYSET_PARAMS 24

/* One list query being built. */
struct coll_keyset {
	const struct coll_listdef *def;
	const struct coll_sortcol *col;
	struct coll_page *page;
	bool desc, has_cursor, overflow;
	struct coll_cursor cur;
	char where[2048];
	size_t wlen;
	const char *params[COLL_KEYSET_PARAMS];
	size_t n;
	const char *pre[2]; /* parameters of the select list, before the filter's */
	size_t n_pre;
	char fp_text[2048]; /* what the fingerprint covers */
	size_t fplen;
	char limit_text[24];
};

/* Resolves sort and order, decodes the cursor (checked against the list
 * and sort). 0, or -EINVAL with s->err naming what is wrong. */
int coll_keyset_init(struct coll_store *s, struct coll_keyset *k, const struct coll_listdef *def,
		     struct coll_page *page);
/* ANDs cond (with as many '?' as the non-NULL p1, p2 given) to the filter:
 * both the rows and the cursor's fingerprint depend on it. cond must be a
 * string literal (it becomes part of a cached statement's text). */
void coll_keyset_where(struct coll_keyset *k, const char *cond, const char *p1, const char *p2);
/* cond with times '?' that all take p. */
void coll_keyset_where_same(struct coll_keyset *k, const char *cond, const char *p, size_t times);
/* The same for a condition on the current time (now_text): the cursor
 * stays valid as time passes (the value is left out of the fingerprint). */
void coll_keyset_where_now(struct coll_keyset *k, const char *cond, const char *now_text);
/* A parameter of the list's select (before the filter's), e.g. now. */
void coll_keyset_select_param(struct coll_keyset *k, const char *p);
/* Runs the page's query (and the total on the first page): res holds at
 * most page->limit rows, the list's columns then its keys; page->next and
 * page->total are set. -EINVAL (s->err) for a cursor of other filters. */
int coll_keyset_run(struct coll_store *s, struct coll_keyset *k, struct coll_db_res *res);

/* coll_keyset_run, its rows as coll_rows_json (the keys left out). */
int coll_keyset_json(struct coll_store *s, struct coll_keyset *k, const char *const *names,
		     const char *types, json_t **ret);
/* "%" + q with LIKE's wildcards escaped (by '\') + "%", lower-cased ASCII,
 * into buf. */
void coll_like_pattern(const char *q, char *buf, size_t size);

#endif
