/* The read API's common part (http.h): bearer token -> user -> scope,
 * paging arguments, one store call, errors mapped to answers. Each resource
 * is its own api_<resource>.c. */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/http/http.h"
#include "collector/store/sql.h"
#include "erpulse/crypto.h"
#include "erpulse/log.h"
#include "erpulse/util.h"

/* Bearer token -> scope. 0, or an answer was queued (ret set). */
int coll_http_authorize(struct req *rq, struct coll_user *user, enum MHD_Result *ret)
{
	const char *h = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Authorization");
	if (!h || strncmp(h, "Bearer ", 7) != 0 || !h[7] || strlen(h) > 512) {
		*ret = coll_http_error(rq->conn, 401, "unauthorized", "a bearer token is required");
		return -EPERM;
	}
	char hash[65];
	ep_hash_secret(h + 7, hash);
	struct coll_store *s = coll_pool_get(&rq->srv->pool, coll_http_deadline(rq->srv));
	int r = s ? coll_store_user_by_token(s, hash, user) : -ETIMEDOUT;
	coll_pool_put(&rq->srv->pool, s);
	if (r == -ENOENT) {
		*ret = coll_http_error(rq->conn, 401, "unauthorized", "unknown API token");
		return r;
	}
	if (r < 0) {
		*ret = coll_http_unavailable(rq->conn);
		return r;
	}
	return 0;
}

enum MHD_Result coll_http_read(struct req *rq, const char *url, coll_read_fn fn, const char *key)
{
	struct coll_user user;
	enum MHD_Result ret;
	if (coll_http_authorize(rq, &user, &ret) < 0)
		return ret;
	struct coll_scope scope = {
		.customer_id = coll_role_sees_all(user.role) ? NULL : user.customer_id,
	};
	const char *lim = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "limit");
	const char *off = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "offset");
	if ((lim && ep_parse_int64(lim, 1, 100000, &scope.limit) < 0) ||
	    (off && ep_parse_int64(off, 0, INT64_MAX / 2, &scope.offset) < 0))
		return coll_http_error(rq->conn, 400, "bad_request",
				       "limit: 1..100000, offset: a number >= 0");
	struct coll_store *s = coll_pool_get(&rq->srv->pool, coll_http_deadline(rq->srv));
	if (!s)
		return coll_http_unavailable(rq->conn);
	json_t *j = NULL;
	int64_t now = ep_wall_ms() / 1000;
	int r = fn(s, &scope, rq, url, now, &j);
	char why[512];
	snprintf(why, sizeof(why), "%s", s->err);
	if (r < 0 && r != -ENOENT && r != -EINVAL)
		ep_log_warning("read API %s: %s", url, s->err);
	coll_pool_put(&rq->srv->pool, s);
	if (r == -ENOENT)
		return coll_http_error(rq->conn, 404, "not_found", "no such object");
	if (r == -EINVAL)
		return coll_http_error(rq->conn, 400, "bad_request", why);
	if (r < 0)
		return coll_store_unavailable(r)
			       ? coll_http_unavailable(rq->conn)
			       : coll_http_error(rq->conn, 500, "internal", "failed");
	if (key)
		j = json_pack("{s:o}", key, j);
	return coll_http_json(rq->conn, 200, j, NULL);
}

static const char *arg(struct req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool coll_http_paged(struct req *rq)
{
	static const char *const names[] = {"cursor", "sort", "order", "band", "q"};
	for (size_t i = 0; i < EP_ARRAY_SIZE(names); i++)
		if (arg(rq, names[i]))
			return true;
	return false;
}

int coll_http_page(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
		   struct coll_page *page, char cid[COLL_ID_SIZE])
{
	memset(page, 0, sizeof(*page));
	page->sort = arg(rq, "sort");
	page->order = arg(rq, "order");
	page->cursor = arg(rq, "cursor");
	page->band = arg(rq, "band");
	page->q = arg(rq, "q");
	page->state = arg(rq, "state");
	page->limit = scope->limit;
	if (page->limit > COLL_PAGE_MAX || scope->offset) {
		snprintf(s->err, sizeof(s->err), "limit: 1..%d; offset: not with sort or cursor",
			 COLL_PAGE_MAX);
		return -EINVAL;
	}
	const char *c = arg(rq, "customer");
	if (!c)
		return 0;
	int r = coll_store_customer_find(s, c, cid);
	if (r == -ENOENT) {
		snprintf(cid, COLL_ID_SIZE, "-"); /* matches nothing */
		r = 0;
	}
	page->customer = cid;
	return r;
}

json_t *coll_http_page_answer(json_t *items, const struct coll_page *page)
{
	return json_pack("{s:o,s:o,s:o}", "items", items, "next",
			 page->next[0] ? json_string(page->next) : json_null(), "total",
			 page->total >= 0 ? json_integer(page->total) : json_null());
}

int coll_http_list(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
		   const char *key, coll_page_fn page_fn, coll_list_fn list_fn, int64_t now,
		   json_t **ret)
{
	json_t *items = NULL;
	char cid[COLL_ID_SIZE];
	struct coll_page *page;
	if (!coll_http_paged(rq)) {
		int r = list_fn(s, scope, rq, now, &items);
		if (r == 0 && !(*ret = json_pack("{s:o}", key, items)))
			r = -ENOMEM;
		return r;
	}
	page = malloc(sizeof(*page)); /* a cursor is a few KiB: not on the stack */
	if (!page)
		return -ENOMEM;
	int r = coll_http_page(s, scope, rq, page, cid);
	if (r == 0)
		r = page_fn(s, scope, page, now, &items);
	if (r == 0 && !(*ret = coll_http_page_answer(items, page)))
		r = -ENOMEM;
	free(page);
	return r;
}
