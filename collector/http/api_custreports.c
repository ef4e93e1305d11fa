/* GET /api/v1/customers/{id}/reports (the stored monthly reports) and
 * GET /api/v1/customers/{id}/reports/{YYYY-MM}?lang=en|zh-CN&format=pdf|html
 * (one of them, as a download). Vendor roles see every customer, a
 * customer's users their own: another customer's reports answer 404, as
 * missing ones do (the scope is enforced in the store's queries). */
#include <errno.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/http/http.h"
#include "collector/notify/notify.h"
#include "collector/report/report.h"
#include "collector/report/schedule.h"
#include "collector/store/reports_monthly.h"
#include "erpulse/log.h"
#include "erpulse/util.h"

#define PREFIX "/api/v1/customers/"

/* url -> customer id and month ("" for the list); false when url is not
 * one of ours. */
static bool parse_url(const char *url, char id[COLL_ID_SIZE], char month[8])
{
	size_t n = strlen(PREFIX);
	if (strncmp(url, PREFIX, n) != 0)
		return false;
	const char *p = url + n, *slash = strchr(p, '/');
	if (!slash || slash == p || (size_t)(slash - p) >= COLL_ID_SIZE ||
	    strncmp(slash, "/reports", 8) != 0)
		return false;
	memcpy(id, p, (size_t)(slash - p));
	id[slash - p] = '\0';
	const char *rest = slash + 8;
	struct coll_month m;
	month[0] = '\0';
	if (!*rest)
		return true;
	if (rest[0] != '/' || coll_month_parse(rest + 1, &m) < 0)
		return false;
	memcpy(month, rest + 1, 8);
	return true;
}

bool coll_custreports_url(const char *url)
{
	char id[COLL_ID_SIZE], month[8];
	return parse_url(url, id, month);
}

static int list(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
		const char *url, int64_t now, json_t **ret)
{
	char id[COLL_ID_SIZE], month[8];
	(void)rq;
	(void)now;
	if (!parse_url(url, id, month))
		return -ENOENT;
	return coll_store_report_list(s, scope, id, ret);
}

static enum MHD_Result download(struct req *rq, const char *id, const char *month)
{
	struct coll_user user;
	enum MHD_Result ret;
	struct MHD_Connection *c = rq->conn;
	const char *lang = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "lang");
	const char *format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
	if (!format)
		format = "pdf";
	if ((lang && strcmp(lang, "en") && strcmp(lang, "zh-CN")) ||
	    (strcmp(format, "pdf") && strcmp(format, "html")))
		return coll_http_error(c, 400, "bad_request",
				       "lang: en or zh-CN (default: the customer's), format: pdf "
				       "(default) or html");
	if (coll_http_authorize(rq, &user, &ret) < 0)
		return ret;
	struct coll_scope scope = {
		.customer_id = coll_role_sees_all(user.role) ? NULL : user.customer_id,
	};
	struct coll_store *s = coll_pool_get(&rq->srv->pool, coll_http_deadline(rq->srv));
	if (!s)
		return coll_http_unavailable(c);
	unsigned char *data = NULL;
	size_t len = 0;
	char found_lang[8] = "", file[512];
	struct coll_report_target t;
	int r = coll_store_report_get(s, &scope, id, month, lang, format, &data, &len, found_lang);
	if (r == 0)
		r = coll_store_report_target(s, id, &t);
	if (r < 0 && r != -ENOENT)
		ep_log_warning("reports API %s: %s", id, s->err);
	coll_pool_put(&rq->srv->pool, s);
	if (r < 0) {
		free(data);
		if (r == -ENOENT)
			return coll_http_error(c, 404, "not_found", "no such report");
		return coll_store_unavailable(r) ? coll_http_unavailable(c)
						 : coll_http_error(c, 500, "internal", "failed");
	}
	struct coll_month m;
	coll_month_parse(month, &m);
	enum coll_report_format f = strcmp(format, "pdf") ? COLL_REPORT_HTML : COLL_REPORT_PDF;
	char *disposition = NULL;
	if (coll_report_filename(t.name, m.year, m.month, found_lang, f, file, sizeof(file)) < 0)
		snprintf(file, sizeof(file), "erpulse-report-%s.%s", month, format);
	struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(
		len, data, free); /* consumes data */
	if (!resp || coll_content_disposition(file, &disposition) < 0) {
		if (resp)
			MHD_destroy_response(resp);
		else
			free(data);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type",
				f == COLL_REPORT_PDF ? "application/pdf"
						     : "text/html; charset=utf-8");
	MHD_add_response_header(resp, "Content-Disposition", disposition);
	MHD_add_response_header(resp, "Content-Language", found_lang);
	MHD_add_response_header(resp, "Cache-Control", "private, no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	/* the HTML report has inline CSS and SVG only: nothing may run */
	MHD_add_response_header(resp, "Content-Security-Policy",
				"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
				"sandbox");
	if (MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION))
		MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
	free(disposition);
	ret = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result coll_api_custreports(struct req *rq, const char *url)
{
	char id[COLL_ID_SIZE], month[8];
	if (!parse_url(url, id, month))
		return coll_http_error(rq->conn, 404, "not_found", "no such object");
	if (month[0])
		return download(rq, id, month);
	return coll_http_read(rq, url, list, "reports");
}
