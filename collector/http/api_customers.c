/* GET /api/v1/customers (docs/collector.md, "Read API"). */
#include <errno.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <string.h>

#include "collector/http/http.h"

static int customers(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
		     const char *url, int64_t now, json_t **ret)
{
	(void)rq;
	(void)url;
	(void)now;
	return coll_store_customers(s, scope, ret);
}

enum MHD_Result coll_api_customers(struct req *rq, const char *url)
{
	return coll_http_read(rq, url, customers, "customers");
}
