/* POST /api/v1/enroll (docs/collector.md, "Enrollment"): a one-time token
 * and the agent's public key in, an agent id out. */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/http/http.h"
#include "collector/metrics.h"
#include "collector/store/sql.h"
#include "erpulse/crypto.h"
#include "erpulse/log.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

/* ---- handlers ----------------------------------------------------------------------- */

enum MHD_Result coll_api_enroll(struct req *rq, const char *url)
{
	(void)url;
	struct coll_server *srv = rq->srv;
	struct MHD_Connection *c = rq->conn;
	json_t *body = NULL;
	char err[256];
	enum MHD_Result ret;

	if (rq->too_large) {
		coll_metrics_enroll(0);
		return coll_http_error(c, 413, "too_large", "enrollment body too large");
	}
	if (ep_json_parse_strict(rq->body.data ? rq->body.data : "", rq->body.len, ENROLL_MAX_BODY,
				 &body, err, sizeof(err)) < 0) {
		coll_metrics_enroll(0);
		return coll_http_error(c, 400, "bad_request", err);
	}
	const char *token = coll_jstr(body, "token"), *hostname = coll_jstr(body, "hostname");
	const char *pk = coll_jstr(body, "public_key"), *version = coll_jstr(body, "agent_version");
	unsigned char key[EP_PUBLIC_KEY_BYTES + 4];
	size_t key_len = 0;
	if (!json_is_object(body) || !token || !hostname || !pk || !version || !token[0] ||
	    !hostname[0] || strlen(hostname) > 255 || strlen(version) > 64 || strlen(token) > 256) {
		ret = coll_http_error(
			c, 400, "bad_request",
			"expected {token, hostname, public_key, agent_version} strings");
		goto out_fail;
	}
	if (ep_base64_decode(pk, strlen(pk), key, sizeof(key), &key_len) < 0 ||
	    key_len != EP_PUBLIC_KEY_BYTES) {
		ret = coll_http_error(c, 400, "bad_request",
				      "public_key: expected base64 of 32 bytes");
		goto out_fail;
	}
	char hash[65];
	ep_hash_secret(token, hash);
	struct coll_enroll e = {
		.token_hash = hash,
		.hostname = hostname,
		.public_key_b64 = pk,
		.agent_version = version,
		.now = ep_wall_ms() / 1000,
		.interval_s = srv->cfg->agent_interval_s,
	};
	char agent_id[COLL_ID_SIZE], customer_id[COLL_ID_SIZE];
	struct coll_store *s = coll_pool_get(&srv->pool, coll_http_deadline(srv));
	if (!s) {
		ret = coll_http_unavailable(c);
		goto out_fail;
	}
	int r = coll_store_enroll(s, &e, agent_id, customer_id);
	if (r < 0 && coll_store_unavailable(r))
		ep_log_warning("enroll: store: %s", s->err);
	coll_pool_put(&srv->pool, s);
	switch (r) {
	case 0:
		break;
	case -ENOENT:
		ret = coll_http_error(c, 401, "token_invalid", "unknown enrollment token");
		goto out_fail;
	case -EKEYEXPIRED:
		ret = coll_http_error(c, 401, "token_expired", "the enrollment token has expired");
		goto out_fail;
	case -EUSERS:
		ret = coll_http_error(c, 401, "token_used_up",
				      "the enrollment token has no uses left");
		goto out_fail;
	default:
		ret = coll_store_unavailable(r)
			      ? coll_http_unavailable(c)
			      : coll_http_error(c, 500, "internal", "enrollment failed");
		goto out_fail;
	}
	ep_log_notice("enrolled agent %s (%s) for customer %s", agent_id, hostname, customer_id);
	coll_metrics_enroll(1);
	json_decref(body);
	return coll_http_json(c, 201,
			      json_pack("{s:s,s:s,s:I}", "agent_id", agent_id, "customer_id",
					customer_id, "interval_s",
					(json_int_t)srv->cfg->agent_interval_s),
			      NULL);
out_fail:
	coll_metrics_enroll(0);
	json_decref(body);
	return ret;
}
