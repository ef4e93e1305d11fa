/* GET /api/v1/hosts/<id>/series, /api/v1/customers/<id>/series and
 * /api/v1/fleet/series: history for charts (docs/dashboard.md, "History
 * API"). Arguments: names=a,b (comma separated), from, to (epoch s; default
 * the last 7 days), step (s; raised so that no series has more than
 * COLL_SERIES_MAX_POINTS points). */
#include <errno.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "collector/http/http.h"
#include "collector/ingest.h"
#include "erpulse/util.h"

/* 0, or -EINVAL with a message for a 400. */
int coll_series_args(const char *names, const char *from, const char *to, const char *step,
		     int64_t now, struct coll_series_args *a, const char **ret_why)
{
	int64_t st = 0;
	memset(a, 0, sizeof(*a));
	a->q.to = now + 1;
	a->q.from = now - 7 * 86400;
	if ((to && ep_parse_int64(to, 0, INT64_MAX / 4, &a->q.to) < 0) ||
	    (from && ep_parse_int64(from, 0, INT64_MAX / 4, &a->q.from) < 0) ||
	    (step && ep_parse_int64(step, 0, COLL_SERIES_MAX_SPAN, &st) < 0) ||
	    a->q.from >= a->q.to || a->q.to - a->q.from > COLL_SERIES_MAX_SPAN) {
		*ret_why = "from < to (epoch seconds, at most 400 days apart), step: seconds";
		return -EINVAL;
	}
	a->q.step = coll_series_step(a->q.from, a->q.to, st);
	a->q.names = a->names;
	if (!names || !*names)
		return 0;
	if (strlen(names) >= sizeof(a->buf)) {
		*ret_why = "names: too long";
		return -EINVAL;
	}
	memcpy(a->buf, names, strlen(names) + 1);
	for (char *p = a->buf, *e; p; p = e) {
		e = strchr(p, ',');
		if (e)
			*e++ = '\0';
		if (!*p)
			continue;
		if (a->q.n_names == COLL_SERIES_MAX_NAMES) {
			*ret_why = "names: at most 32";
			return -EINVAL;
		}
		a->names[a->q.n_names++] = p;
	}
	return 0;
}

static int parse(struct req *rq, int64_t now, struct coll_series_args *a, const char **ret_why)
{
	struct MHD_Connection *c = rq->conn;
	return coll_series_args(MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "names"),
				MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "from"),
				MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "to"),
				MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "step"), now,
				a, ret_why);
}

/* The id between prefix and "/series" in url, copied into id; false when
 * url is not of that form. */
static bool id_of(const char *url, const char *prefix, char id[COLL_ID_SIZE])
{
	size_t n = strlen(prefix);
	if (strncmp(url, prefix, n) != 0)
		return false;
	const char *slash = strchr(url + n, '/');
	if (!slash || strcmp(slash, "/series") != 0 || slash == url + n ||
	    (size_t)(slash - url - n) >= COLL_ID_SIZE)
		return false;
	memcpy(id, url + n, (size_t)(slash - url - n));
	id[slash - url - n] = '\0';
	return true;
}

bool coll_series_url(const char *url)
{
	char id[COLL_ID_SIZE];
	return strcmp(url, "/api/v1/fleet/series") == 0 || id_of(url, "/api/v1/hosts/", id) ||
	       id_of(url, "/api/v1/customers/", id);
}

static int series(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
		  const char *url, int64_t now, json_t **ret)
{
	struct coll_series_args a;
	const char *why;
	char id[COLL_ID_SIZE];
	if (parse(rq, now, &a, &why) < 0)
		return -EINVAL; /* checked before: cannot happen */
	if (id_of(url, "/api/v1/hosts/", id))
		return coll_agent_id_valid(id) ? coll_store_host_series(s, scope, id, &a.q, ret)
					       : -ENOENT;
	if (id_of(url, "/api/v1/customers/", id))
		return coll_store_customer_series(s, scope, id, &a.q, ret);
	return coll_store_fleet_series(s, scope, &a.q, ret);
}

enum MHD_Result coll_api_series(struct req *rq, const char *url)
{
	struct coll_series_args a;
	const char *why = NULL;
	if (parse(rq, ep_wall_ms() / 1000, &a, &why) < 0)
		return coll_http_error(rq->conn, 400, "bad_request", why);
	return coll_http_read(rq, url, series, NULL);
}
