/* The dashboard page (dashboard.h). The HTML lives in
 * collector/web/index.html; page.inc is its generated C form. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "collector/web/dashboard.h"
#include "collector/ingest.h"

#include "collector/web/i18n.h"

#include "collector/web/assets.inc"
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

_Static_assert(sizeof(uplot_js) - 1 == UPLOT_JS_LEN, "assets.inc: stale (run embed.py)");

/* The page's other files: uPlot (its hash is in the CSP) and the catalogs. */
static int other_asset(const char *url, const char **ret_body, size_t *ret_len,
		       const char **ret_content_type)
{
	const char *body, *type;
	size_t len;
	if (strcmp(url, "/" COLL_DASHBOARD_UPLOT) == 0) {
		body = uplot_js;
		len = UPLOT_JS_LEN;
		type = "text/javascript; charset=utf-8";
	} else if (strncmp(url, "/i18n/", 6) == 0 && strlen(url) > 11 &&
		   strcmp(url + strlen(url) - 5, ".json") == 0) {
		char lang[16];
		size_t n = strlen(url) - 11;
		if (n >= sizeof(lang))
			return -ENOENT;
		memcpy(lang, url + 6, n);
		lang[n] = '\0';
		body = coll_i18n_catalog(lang, &len);
		if (!body)
			return -ENOENT;
		type = "application/json; charset=utf-8";
	} else
		return -ENOENT;
	if (ret_body)
		*ret_body = body;
	if (ret_len)
		*ret_len = len;
	if (ret_content_type)
		*ret_content_type = type;
	return 0;
}

int coll_dashboard_asset(const char *url, const char **ret_body, size_t *ret_len,
			 const char **ret_content_type)
{
	if (!url)
		return -ENOENT;
	if (!is_page(url))
		return other_asset(url, ret_body, ret_len, ret_content_type);
	if (ret_body)
		*ret_body = dashboard_page;
	if (ret_len)
		*ret_len = sizeof(dashboard_page) - 1;
	if (ret_content_type)
		*ret_content_type = "text/html; charset=utf-8";
	return 0;
}
