/* GET /api/v1/hosts and GET /api/v1/hosts/<id> (docs/api.md "Paging",
 * docs/collector.md "Read API"). */
#include <errno.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <string.h>

#include "collector/http/http.h"
#include "collector/ingest.h"

static int page(struct coll_store *s, const struct coll_scope *scope, struct coll_page *p,
		int64_t now, json_t **ret)
{
	return coll_store_hosts_page(s, scope, now, p, ret);
}

static int all(struct coll_store *s, const struct coll_scope *scope, struct req *rq, int64_t now,
	       json_t **ret)
{
	(void)rq;
	return coll_store_hosts(s, scope, now, ret);
}

static int hosts(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
		 const char *url, int64_t now, json_t **ret)
{
	(void)url;
	return coll_http_list(s, scope, rq, "hosts", page, all, now, ret);
}

static int host(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
		const char *url, int64_t now, json_t **ret)
{
	(void)rq;
	const char *id = url + strlen("/api/v1/hosts/");
	return coll_agent_id_valid(id) ? coll_store_host(s, scope, id, now, ret) : -ENOENT;
}

enum MHD_Result coll_api_hosts(struct req *rq, const char *url)
{
	return coll_http_read(rq, url, hosts, NULL);
}

enum MHD_Result coll_api_host(struct req *rq, const char *url)
{
	return coll_http_read(rq, url, host, NULL);
}
