/* GET / and the dashboard's assets (collector/web/dashboard.h). */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/http/http.h"
#include "collector/web/dashboard.h"
#include "erpulse/log.h"
#include "erpulse/util.h"

/* The dashboard page (docs/dashboard.md): static, holds no data, served
 * with its Content-Security-Policy and the other headers it needs. */
enum MHD_Result coll_api_dashboard(struct req *rq, const char *url)
{
	struct MHD_Connection *c = rq->conn;
	const char *body = NULL, *type = NULL;
	size_t len = 0;
	if (coll_dashboard_asset(url, &body, &len, &type) < 0)
		return coll_http_error(c, 404, "not_found", "no such endpoint");
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
								    MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", type);
	for (const struct coll_dashboard_header *h = coll_dashboard_headers; h->name; h++)
		MHD_add_response_header(resp, h->name, h->value);
	enum MHD_Result r = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return r;
}
