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
