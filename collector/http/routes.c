/* The collector's one table of routes (http.h, docs/collector.md "API"):
 * a resource is one api_<resource>.c plus one line here. Order matters: the
 * first line that matches wins. */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "collector/http/http.h"
#include "collector/web/dashboard.h"

static bool dashboard_asset(const char *url)
{
	return coll_dashboard_asset(url, NULL, NULL, NULL) == 0;
}

static const struct coll_route routes[] = {
	{"/api/v1/reports", false, NULL, true, COLL_BODY_REPORT, false, coll_api_reports},
	{"/api/v1/enroll", false, NULL, true, COLL_BODY_ENROLL, true, coll_api_enroll},
	{"/healthz", false, NULL, false, COLL_BODY_NONE, false, coll_api_healthz},
	{"/metrics", false, NULL, false, COLL_BODY_NONE, false, coll_api_metrics},
	{NULL, false, coll_series_url, false, COLL_BODY_NONE, false, coll_api_series},
	{NULL, false, coll_custreports_url, false, COLL_BODY_NONE, false, coll_api_custreports},
	{"/api/v1/customers", false, NULL, false, COLL_BODY_NONE, false, coll_api_customers},
	{"/api/v1/hosts", false, NULL, false, COLL_BODY_NONE, false, coll_api_hosts},
	{"/api/v1/hosts/", true, NULL, false, COLL_BODY_NONE, false, coll_api_host},
	{"/api/v1/alerts", false, NULL, false, COLL_BODY_NONE, false, coll_api_alerts},
	{"/api/v1/dashboard", false, NULL, false, COLL_BODY_NONE, false, coll_api_dashboard_data},
	{"/api/v1/adoption/", true, NULL, false, COLL_BODY_NONE, false, coll_api_adoption},
	{NULL, false, coll_api_incident_action_url, true, COLL_BODY_ACTION, false,
	 coll_api_incident_action},
	{"/api/v1/incidents", false, NULL, false, COLL_BODY_NONE, false, coll_api_incidents},
	{"/api/v1/incidents/", true, NULL, false, COLL_BODY_NONE, false, coll_api_incident},
	{"/api/v1/sla", false, NULL, false, COLL_BODY_NONE, false, coll_api_sla},
	{"/api/v1/maintenance", false, NULL, false, COLL_BODY_NONE, false, coll_api_windows},
	{NULL, false, coll_api_window_approve_url, true, COLL_BODY_ACTION, false,
	 coll_api_window_approve},
	{NULL, false, dashboard_asset, false, COLL_BODY_NONE, false, coll_api_dashboard},
};

const struct coll_route *coll_route_find(const char *url)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct coll_route *r = &routes[i];
		if (r->match ? r->match(url)
		    : r->prefix
			    ? strncmp(url, r->path, strlen(r->path)) == 0 && url[strlen(r->path)]
			    : strcmp(url, r->path) == 0)
			return r;
	}
	return NULL;
}
