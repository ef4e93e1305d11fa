/* GET /api/v1/alerts[?state=all] (docs/api.md "Paging", docs/collector.md
 * "Read API"). */
#include <errno.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <string.h>

#include "collector/http/http.h"

static int page(struct coll_store *s, const struct coll_scope *scope, struct coll_page *p,
		int64_t now, json_t **ret)
{
	(void)now;
	return coll_store_alerts_page(s, scope, p, ret);
}

static int all(struct coll_store *s, const struct coll_scope *scope, struct req *rq, int64_t now,
	       json_t **ret)
{
	(void)now;
	const char *state = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "state");
	bool open_only = !state || strcmp(state, "all") != 0;
	return coll_store_alerts(s, scope, open_only, ret);
}

static int alerts(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
		  const char *url, int64_t now, json_t **ret)
{
	(void)url;
	return coll_http_list(s, scope, rq, "alerts", page, all, now, ret);
}

enum MHD_Result coll_api_alerts(struct req *rq, const char *url)
{
	return coll_http_read(rq, url, alerts, NULL);
}
