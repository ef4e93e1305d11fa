/* Answers (http.h): JSON and text responses, errors, 503 with Retry-After;
 * the store connection pool the handlers borrow from. */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/http/http.h"
#include "erpulse/log.h"
#include "erpulse/util.h"

/* ---- responses -------------------------------------------------------------- */

enum MHD_Result coll_http_text(struct MHD_Connection *c, unsigned status, const char *type,
			       char *text, const char *retry_after)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer_with_free_callback(strlen(text), text, free);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (retry_after)
		MHD_add_response_header(resp, "Retry-After", retry_after);
	if (MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION))
		MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
	enum MHD_Result r = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return r;
}

/* Consumes j. */
enum MHD_Result coll_http_json(struct MHD_Connection *c, unsigned status, json_t *j,
			       const char *retry_after)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return MHD_NO;
	return coll_http_text(c, status, "application/json", text, retry_after);
}

enum MHD_Result coll_http_error(struct MHD_Connection *c, unsigned status, const char *code,
				const char *message)
{
	const char *retry = (status == 503 || status == 429) ? RETRY_AFTER : NULL;
	json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
	if (!j) /* message not UTF-8: say less */
		j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", code);
	return coll_http_json(c, status, j, retry);
}

enum MHD_Result coll_http_error_close(struct MHD_Connection *c, unsigned status, const char *code,
				      const char *message)
{
	json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return MHD_NO;
	struct MHD_Response *resp =
		MHD_create_response_from_buffer_with_free_callback(strlen(text), text, free);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "Connection", "close");
	if (status == 503)
		MHD_add_response_header(resp, "Retry-After", RETRY_AFTER);
	enum MHD_Result r = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return r;
}

enum MHD_Result coll_http_unavailable(struct MHD_Connection *c)
{
	return coll_http_error(c, 503, "unavailable", "the store is unavailable; retry later");
}

/* ---- store pool ----------------------------------------------------------------- */

struct coll_store *coll_pool_get(struct pool *p, int64_t deadline_ms)
{
	struct coll_store *s = NULL;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		for (size_t i = 0; i < p->n; i++)
			if (!p->busy[i]) {
				p->busy[i] = true;
				s = p->v[i];
				break;
			}
		if (s)
			break;
		int64_t left = deadline_ms - ep_mono_ms();
		if (left <= 0)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ns = ts.tv_nsec + (left > 200 ? 200 : left) * 1000000;
		ts.tv_sec += ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
	}
	pthread_mutex_unlock(&p->lock);
	if (s)
		coll_store_set_deadline(s, deadline_ms);
	return s;
}

void coll_pool_put(struct pool *p, struct coll_store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i] == s)
			p->busy[i] = false;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* a store call from a request must end within this: 503 before 2 s */
int64_t coll_http_deadline(const struct coll_server *srv)
{
	int64_t ms = srv->cfg->statement_timeout_ms;
	if (ms > 1500)
		ms = 1500;
	return ep_mono_ms() + ms;
}
