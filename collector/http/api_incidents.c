/* Incidents and SLA figures (docs/incidents.md, "API"):
 *   GET  /api/v1/incidents[?state=&customer=]   the triage queue, or a state
 *   GET  /api/v1/incidents/{id}                 one incident with its timeline
 *   POST /api/v1/incidents/{id}/{action}        acknowledge, assign, comment, wait,
 *                                               resume, resolve, close, reopen, snooze
 *   GET  /api/v1/sla[?customer=&month=YYYY-MM]  SLA figures of a month
 *   GET  /api/v1/maintenance[?customer=]        maintenance windows
 *   POST /api/v1/maintenance/{id}/approve       a customer admin (or support) approves one
 * Bearer tokens; customer scope is enforced in the store's queries. */
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/http/http.h"
#include "collector/service/calendar.h"
#include "collector/service/service.h"
#include "collector/store/incidents.h"
#include "collector/store/sql.h"
#include "erpulse/log.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

#define PREFIX "/api/v1/incidents/"

/* "/api/v1/incidents/12/acknowledge" -> 12, "acknowledge" (NULL for
 * "/api/v1/incidents/12"). 0 or -EINVAL. */
static int parse_url(const char *url, int64_t *ret_id, const char **ret_action)
{
	char num[24];
	const char *p = url + strlen(PREFIX), *slash = strchr(p, '/');
	size_t len = slash ? (size_t)(slash - p) : strlen(p);
	if (len == 0 || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, p, len);
	num[len] = '\0';
	if (ep_parse_int64(num, 1, INT64_MAX, ret_id) < 0)
		return -EINVAL;
	*ret_action = slash ? slash + 1 : NULL;
	if (slash && (!slash[1] || strchr(slash + 1, '/')))
		return -EINVAL;
	return 0;
}

bool coll_api_incident_action_url(const char *url)
{
	int64_t id;
	const char *action;
	return strncmp(url, PREFIX, strlen(PREFIX)) == 0 && parse_url(url, &id, &action) == 0 &&
	       action;
}

/* A customer argument (name or id) -> id; "" when unknown. */
static int customer_arg(struct coll_store *s, struct req *rq, char id[COLL_ID_SIZE],
			const char **ret)
{
	const char *c = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "customer");
	*ret = NULL;
	if (!c)
		return 0;
	int r = coll_store_customer_find(s, c, id);
	if (r == -ENOENT) {
		snprintf(id, COLL_ID_SIZE, "-"); /* matches nothing */
		r = 0;
	}
	*ret = id;
	return r;
}

static int page(struct coll_store *s, const struct coll_scope *scope, struct coll_page *p,
		int64_t now, json_t **ret)
{
	(void)now;
	return coll_store_incidents_page(s, scope, p, ret);
}

static int all(struct coll_store *s, const struct coll_scope *scope, struct req *rq, int64_t now,
	       json_t **ret)
{
	(void)now;
	char cid[COLL_ID_SIZE];
	struct coll_incident_filter f = {
		.state = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "state"),
		.limit = scope->limit,
	};
	int r = customer_arg(s, rq, cid, &f.customer_id);
	if (r < 0)
		return r;
	if (f.state && strcmp(f.state, "live") == 0)
		f.state = NULL;
	return coll_store_incidents(s, scope, &f, ret);
}

static int list(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
		const char *url, int64_t now, json_t **ret)
{
	(void)url;
	return coll_http_list(s, scope, rq, "incidents", page, all, now, ret);
}

enum MHD_Result coll_api_incidents(struct req *rq, const char *url)
{
	return coll_http_read(rq, url, list, NULL);
}

static int show(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
		const char *url, int64_t now, json_t **ret)
{
	(void)rq;
	(void)now;
	int64_t id;
	const char *action;
	if (parse_url(url, &id, &action) < 0 || action)
		return -ENOENT;
	/* customer roles (a scope) see the customer-visible timeline only */
	return coll_store_incident(s, scope, id, scope->customer_id == NULL, ret);
}

enum MHD_Result coll_api_incident(struct req *rq, const char *url)
{
	return coll_http_read(rq, url, show, NULL);
}

/* http.h */
int coll_month_range(const char *m, int64_t now, int64_t *from, int64_t *to)
{
	int y, mo;
	if (!m) {
		int d;
		coll_date_civil((int32_t)(now / 86400), &y, &mo, &d);
	} else {
		char buf[16];
		int32_t day;
		if (strlen(m) != 7)
			return -EINVAL;
		snprintf(buf, sizeof(buf), "%s-01", m);
		if (coll_date_parse(buf, &day) < 0)
			return -EINVAL;
		int d;
		coll_date_civil(day, &y, &mo, &d);
	}
	*from = (int64_t)coll_date_days(y, mo, 1) * 86400;
	*to = (int64_t)coll_date_days(mo == 12 ? y + 1 : y, mo == 12 ? 1 : mo + 1, 1) * 86400;
	return 0;
}

static int sla(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
	       const char *url, int64_t now, json_t **ret)
{
	(void)url;
	char cid[COLL_ID_SIZE];
	const char *customer;
	int64_t from, to;
	now = coll_service_now();
	if (coll_month_range(MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "month"),
			     now, &from, &to) < 0) {
		snprintf(s->err, sizeof(s->err), "month: YYYY-MM");
		return -EINVAL;
	}
	int r = customer_arg(s, rq, cid, &customer);
	if (r < 0)
		return r;
	return coll_store_sla(s, &rq->srv->cfg->service.ctx, scope, customer, from, to, now, ret);
}

enum MHD_Result coll_api_sla(struct req *rq, const char *url)
{
	return coll_http_read(rq, url, sla, "sla");
}

/* until: epoch seconds or RFC 3339 text */
static int until_arg(const json_t *body, int64_t *ret)
{
	const json_t *u = json_object_get(body, "until");
	time_t t;
	*ret = 0;
	if (!u)
		return 0;
	if (json_is_integer(u)) {
		*ret = json_integer_value(u);
		return 0;
	}
	if (json_is_string(u) && ep_time_parse(json_string_value(u), &t) == 0) {
		*ret = (int64_t)t;
		return 0;
	}
	return -EINVAL;
}

enum MHD_Result coll_api_incident_action(struct req *rq, const char *url)
{
	struct MHD_Connection *c = rq->conn;
	struct coll_user user;
	enum MHD_Result ret;
	json_t *body = NULL;
	char err[512], ip[64];
	int64_t id;
	const char *action;
	if (coll_http_authorize(rq, &user, &ret) < 0)
		return ret;
	if (rq->too_large)
		return coll_http_error(c, 413, "too_large", "request body too large");
	if (parse_url(url, &id, &action) < 0)
		return coll_http_error(c, 404, "not_found", "no such endpoint");
	struct coll_action_request req = {0};
	if (coll_incident_action_parse(action, &req.action) < 0 || req.action >= COLL_ACT_RAISE)
		return coll_http_error(c, 404, "not_found",
				       "actions: acknowledge, assign, comment, wait, resume, "
				       "resolve, close, reopen, snooze");
	if (rq->body.len == 0) {
		body = json_object();
	} else if (ep_json_parse_strict(rq->body.data, rq->body.len, ENROLL_MAX_BODY, &body, err,
					sizeof(err)) < 0) {
		return coll_http_error(c, 400, "bad_request", err);
	}
	if (!json_is_object(body) || until_arg(body, &req.until) < 0) {
		json_decref(body);
		return coll_http_error(c, 400, "bad_request",
				       "a JSON object; until: epoch seconds or RFC 3339");
	}
	req.assignee = coll_jstr(body, "assignee");
	req.text = coll_jstr(body, "text");
	req.reason = coll_jstr(body, "reason");
	const char *vis = coll_jstr(body, "visibility");
	req.customer_visible = vis && strcmp(vis, "customer") == 0;
	coll_http_client_ip(c, ip, sizeof(ip));
	struct coll_actor who = {user.name, coll_role_name(user.role), ip};
	struct coll_scope scope = {
		.customer_id = coll_role_sees_all(user.role) ? NULL : user.customer_id,
	};
	struct coll_store *s = coll_pool_get(&rq->srv->pool, coll_http_deadline(rq->srv));
	if (!s) {
		json_decref(body);
		return coll_http_unavailable(c);
	}
	int64_t now = coll_service_now();
	int r = coll_store_incident_act(s, &rq->srv->cfg->service.ctx, &scope, id, &who, &req, now);
	json_t *inc = NULL;
	if (r >= 0 && coll_store_incident(s, &scope, id, scope.customer_id == NULL, &inc) < 0)
		inc = json_null();
	snprintf(err, sizeof(err), "%s", s->err);
	if (r < 0 && coll_store_unavailable(r))
		ep_log_warning("incident %lld %s: %s", (long long)id, action, s->err);
	coll_pool_put(&rq->srv->pool, s);
	json_decref(body);
	switch (r) {
	case 0:
	case 1:
		ep_log_info("incident %lld: %s by %s (%s) from %s%s", (long long)id, action,
			    user.name, who.role, ip, r == 1 ? " (nothing to do)" : "");
		return coll_http_json(
			c, 200, json_pack("{s:b,s:o}", "changed", r == 0, "incident", inc), NULL);
	case -ENOENT:
		return coll_http_error(c, 404, "not_found", "no such incident");
	case -EPERM:
		return coll_http_error(c, 403, "forbidden", err);
	case -EINVAL:
		return coll_http_error(c, 400, "bad_request", err);
	case -ECANCELED:
		return coll_http_error(c, 409, "conflict", err);
	default:
		return coll_store_unavailable(r) ? coll_http_unavailable(c)
						 : coll_http_error(c, 500, "internal", "failed");
	}
}

/* ---- maintenance windows ------------------------------------------------------------ */

#define WPREFIX "/api/v1/maintenance/"

bool coll_api_window_approve_url(const char *url)
{
	size_t n = strlen(WPREFIX);
	const char *slash = strncmp(url, WPREFIX, n) == 0 ? strchr(url + n, '/') : NULL;
	return slash && strcmp(slash, "/approve") == 0 && slash > url + n;
}

static int windows(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
		   const char *url, int64_t now, json_t **ret)
{
	(void)url;
	(void)now;
	char cid[COLL_ID_SIZE];
	const char *customer;
	int r = customer_arg(s, rq, cid, &customer);
	return r < 0 ? r : coll_store_windows(s, scope, customer, ret);
}

enum MHD_Result coll_api_windows(struct req *rq, const char *url)
{
	return coll_http_read(rq, url, windows, "windows");
}

enum MHD_Result coll_api_window_approve(struct req *rq, const char *url)
{
	struct coll_user user;
	enum MHD_Result ret;
	char num[24], ip[64], err[512];
	int64_t id;
	if (coll_http_authorize(rq, &user, &ret) < 0)
		return ret;
	const char *p = url + strlen(WPREFIX);
	size_t len = strcspn(p, "/");
	snprintf(num, sizeof(num), "%.*s", (int)(len < sizeof(num) ? len : 0), p);
	if (ep_parse_int64(num, 1, INT64_MAX, &id) < 0)
		return coll_http_error(rq->conn, 404, "not_found", "no such window");
	coll_http_client_ip(rq->conn, ip, sizeof(ip));
	struct coll_actor who = {user.name, coll_role_name(user.role), ip};
	struct coll_scope scope = {
		.customer_id = coll_role_sees_all(user.role) ? NULL : user.customer_id,
	};
	struct coll_store *s = coll_pool_get(&rq->srv->pool, coll_http_deadline(rq->srv));
	if (!s)
		return coll_http_unavailable(rq->conn);
	int r = coll_store_window_approve(s, &scope, id, &who, coll_service_now());
	snprintf(err, sizeof(err), "%s", s->err);
	coll_pool_put(&rq->srv->pool, s);
	if (r >= 0)
		return coll_http_json(rq->conn, 200, json_pack("{s:b}", "changed", r == 0), NULL);
	if (r == -ENOENT)
		return coll_http_error(rq->conn, 404, "not_found", "no such window");
	if (r == -EPERM)
		return coll_http_error(rq->conn, 403, "forbidden", err);
	return coll_store_unavailable(r) ? coll_http_unavailable(rq->conn)
					 : coll_http_error(rq->conn, 500, "internal", "failed");
}
