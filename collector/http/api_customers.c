/* GET /api/v1/customers (docs/api.md "Paging", docs/collector.md "Read
 * API"). */
#include <errno.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <string.h>

#include "collector/http/http.h"

static int page(struct coll_store *s, const struct coll_scope *scope, struct coll_page *p,
		int64_t now, json_t **ret)
{
	(void)now;
	return coll_store_customers_page(s, scope, p, ret);
}

static int all(struct coll_store *s, const struct coll_scope *scope, struct req *rq, int64_t now,
	       json_t **ret)
{
	(void)rq;
	(void)now;
	return coll_store_customers(s, scope, ret);
}

static int customers(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
		     const char *url, int64_t now, json_t **ret)
{
	(void)url;
	return coll_http_list(s, scope, rq, "customers", page, all, now, ret);
}

enum MHD_Result coll_api_customers(struct req *rq, const char *url)
{
	return coll_http_read(rq, url, customers, NULL);
}
