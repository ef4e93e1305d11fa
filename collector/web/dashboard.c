/* The dashboard page (dashboard.h). The HTML lives in
 * collector/web/index.html; page.inc is its generated C form. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "collector/web/dashboard.h"
#include "collector/ingest.h"

#include "collector/web/page.inc"

_Static_assert(sizeof(dashboard_page) - 1 == DASHBOARD_PAGE_LEN,
	       "page.inc: the page holds a NUL byte or its length is stale (run embed.py)");

const char coll_dashboard_csp[] = DASHBOARD_CSP;

const struct coll_dashboard_header coll_dashboard_headers[] = {
	{"Content-Security-Policy", DASHBOARD_CSP},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"X-Frame-Options", "DENY"},
	{"Cross-Origin-Opener-Policy", "same-origin"},
	{"Cache-Control", "no-store"},
	{NULL, NULL},
};

static bool is_page(const char *url)
{
	if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
		return true;
	/* /hosts/ID: the page reads the id from its own location */
	return strncmp(url, "/hosts/", 7) == 0 && coll_agent_id_valid(url + 7);
}

int coll_dashboard_asset(const char *url, const char **ret_body, size_t *ret_len,
			 const char **ret_content_type)
{
	if (!url || !is_page(url))
		return -ENOENT;
	if (ret_body)
		*ret_body = dashboard_page;
	if (ret_len)
		*ret_len = sizeof(dashboard_page) - 1;
	if (ret_content_type)
		*ret_content_type = "text/html; charset=utf-8";
	return 0;
}
