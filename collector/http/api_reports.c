/* POST /api/v1/reports (docs/collector.md, "Ingest"): a report's connection
 * is suspended once its body is in; a checker thread verifies, parses and
 * queues it; the batcher threads (one per writer connection) store up to
 * batch_max reports per transaction (group commit) and resume the
 * connections with their answers, so nothing is acknowledged before it is
 * committed. SQLite with pipeline_commits: the batcher hands the committed
 * batch to the syncer, which answers it once the WAL is synced, while the
 * batcher runs the next one (nothing is acknowledged before it is on disk). */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/http/http.h"
#include "collector/store/codec.h"
#include "collector/analysis/analysis.h"
#include "collector/ingest.h"
#include "collector/metrics.h"
#include "collector/notify/outbox.h"
#include "collector/service/service.h"
#include "collector/store/sql.h"
#include "erpulse/log.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

static enum MHD_Result answer_ingest(struct req *rq)
{
	struct MHD_Connection *c = rq->conn;
	struct coll_ingest *it = &rq->item;
	coll_metrics_observe(COLL_HIST_INGEST, ep_mono_ms() - rq->start_ms);
	switch (it->result) {
	case COLL_INGEST_ACCEPTED:
	case COLL_INGEST_DUPLICATE: {
		/* the same text json_dumps(JSON_COMPACT) writes, without building it */
		char *text = malloc(96);
		if (!text)
			return MHD_NO;
		if (it->result == COLL_INGEST_ACCEPTED) {
			coll_metrics_accepted();
			snprintf(text, 96, "{\"status\":\"accepted\",\"seq\":%lld}",
				 (long long)it->seq);
		} else {
			coll_metrics_duplicate();
			snprintf(text, 96,
				 "{\"status\":\"duplicate\",\"seq\":%lld,\"last_seq\":%lld}",
				 (long long)it->seq, (long long)it->last_seq);
		}
		return coll_http_text(c, 200, "application/json", text, NULL);
	}
	case COLL_INGEST_CONFLICT: {
		coll_metrics_reject(COLL_REJECT_CONFLICT);
		char msg[256];
		if (it->error == -ERANGE)
			snprintf(msg, sizeof(msg),
				 "seq %lld is more than %d ahead of the last accepted seq %lld",
				 (long long)it->seq, COLL_SEQ_MAX_JUMP, (long long)it->last_seq);
		else
			snprintf(msg, sizeof(msg),
				 "seq %lld was not stored with this body (last accepted seq %lld): "
				 "a restored or cloned agent?",
				 (long long)it->seq, (long long)it->last_seq);
		return coll_http_json(
			c, 409,
			json_pack("{s:{s:s,s:s},s:I,s:I}", "error", "code",
				  it->error == -ERANGE ? "seq_too_far" : "seq_conflict", "message",
				  msg, "seq", (json_int_t)it->seq, "last_seq",
				  (json_int_t)it->last_seq),
			NULL);
	}
	default:
		if (it->error == -EPERM) {
			coll_metrics_reject(COLL_REJECT_REVOKED);
			return coll_http_error(c, 403, "revoked", "this agent has been revoked");
		}
		if (coll_store_unavailable(it->error) || it->error == 0) {
			coll_metrics_reject(COLL_REJECT_UNAVAILABLE);
			return coll_http_unavailable(c);
		}
		coll_metrics_reject(COLL_REJECT_INTERNAL);
		return coll_http_error(c, 500, "internal", "the report could not be stored");
	}
}

static struct agent_slot *agent_slot_of(struct coll_server *srv, const char *id)
{
	uint32_t h = 2166136261u;
	for (const char *p = id; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return &srv->agents[h % AGENT_SLOTS];
}

static bool agent_cached(struct coll_server *srv, const char *id, struct coll_agent *ret)
{
	bool hit = false;
	pthread_mutex_lock(&srv->alock);
	struct agent_slot *sl = agent_slot_of(srv, id);
	if (sl->at_ms && strcmp(sl->a.id, id) == 0 && ep_mono_ms() - sl->at_ms < AGENT_TTL_MS) {
		*ret = sl->a;
		hit = true;
	}
	pthread_mutex_unlock(&srv->alock);
	return hit;
}

static void agent_remember(struct coll_server *srv, const struct coll_agent *a)
{
	pthread_mutex_lock(&srv->alock);
	struct agent_slot *sl = agent_slot_of(srv, a->id);
	sl->a = *a;
	sl->at_ms = ep_mono_ms();
	pthread_mutex_unlock(&srv->alock);
}

int coll_api_reports_admit(struct req *rq, enum MHD_Result *ret)
{
	struct coll_server *srv = rq->srv;
	struct MHD_Connection *c = rq->conn;
	const char *agent_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Erpulse-Agent");
	const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Erpulse-Signature");
	struct coll_agent *agent = &rq->agent;
	if (!agent_id || !sig || !coll_agent_id_valid(agent_id)) {
		coll_metrics_reject(COLL_REJECT_UNAUTHORIZED);
		*ret = coll_http_error(c, 401, "unauthorized", "unknown agent or bad signature");
		return 1;
	}
	if (!agent_cached(srv, agent_id, agent)) {
		struct coll_store *s = coll_pool_get(&srv->pool, coll_http_deadline(srv));
		if (!s) {
			coll_metrics_reject(COLL_REJECT_UNAVAILABLE);
			*ret = coll_http_unavailable(c);
			return 1;
		}
		int r = coll_store_agent_get(s, agent_id, agent);
		if (r < 0 && r != -ENOENT)
			ep_log_warning("ingest: store: %s", s->err);
		coll_pool_put(&srv->pool, s);
		if (r == -ENOENT) {
			coll_metrics_reject(COLL_REJECT_UNAUTHORIZED);
			*ret = coll_http_error(c, 401, "unauthorized",
					       "unknown agent or bad signature");
			return 1;
		}
		if (r < 0) {
			coll_metrics_reject(COLL_REJECT_UNAVAILABLE);
			*ret = coll_http_unavailable(c);
			return 1;
		}
		agent_remember(srv, agent);
	}
	/* refused before its body is read: a revoked agent's reports are never
	 * stored, and the body would only cost memory */
	if (agent->revoked) {
		coll_metrics_reject(COLL_REJECT_REVOKED);
		*ret = coll_http_error(c, 403, "revoked", "this agent has been revoked");
		return 1;
	}
	rq->agent_known = true;
	return 0;
}

/* The check's verdict on a report that was not queued (api: resumed by its
 * checker). */
static enum MHD_Result answer_check(struct req *rq)
{
	struct MHD_Connection *c = rq->conn;
	const char *err = rq->check_err ? rq->check_err : "invalid report";
	switch (rq->chk) {
	case COLL_CHECK_UNAUTHORIZED:
		coll_metrics_reject(COLL_REJECT_UNAUTHORIZED);
		return coll_http_error(c, 401, "unauthorized", "unknown agent or bad signature");
	case COLL_CHECK_TOO_LARGE:
		coll_metrics_reject(COLL_REJECT_TOO_LARGE);
		return coll_http_error(c, 413, "too_large", err);
	case COLL_CHECK_BAD_REQUEST:
		coll_metrics_reject(COLL_REJECT_BAD_REQUEST);
		return coll_http_error(c, 400, "bad_request", err);
	case COLL_CHECK_OK: /* checked, but the queue was full or closing */
		break;
	}
	coll_metrics_reject(COLL_REJECT_UNAVAILABLE);
	return coll_http_unavailable(c);
}

enum MHD_Result coll_api_reports(struct req *rq, const char *url)
{
	(void)url;
	struct coll_server *srv = rq->srv;
	struct MHD_Connection *c = rq->conn;

	if (rq->queued) /* resumed by the batcher or the syncer */
		return answer_ingest(rq);
	if (rq->checked) /* resumed by its checker, not queued */
		return answer_check(rq);
	if (rq->too_large) {
		coll_metrics_reject(COLL_REJECT_TOO_LARGE);
		return coll_http_error(c, 413, "too_large", "report body too large");
	}
	if (!rq->agent_known) /* admitted before the body, always */
		return coll_http_error(c, 500, "internal", "report not admitted");
	/* the signature check and the parse run on the checker threads: this
	 * thread serves the other connections meanwhile, and the work is shared
	 * evenly whichever thread libmicrohttpd gave the connection to */
	rq->sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Erpulse-Signature");
	pthread_mutex_lock(&srv->cklock);
	if (srv->ckstop) {
		pthread_mutex_unlock(&srv->cklock);
		coll_metrics_reject(COLL_REJECT_UNAVAILABLE);
		return coll_http_unavailable(c);
	}
	/* suspended before it is handed over, so that the checker's or the
	 * batcher's resume always finds it suspended */
	MHD_suspend_connection(c);
	rq->next = NULL;
	if (srv->cktail)
		srv->cktail->next = rq;
	else
		srv->ckhead = rq;
	srv->cktail = rq;
	pthread_cond_signal(&srv->ckcond);
	pthread_mutex_unlock(&srv->cklock);
	return MHD_YES;
}

/* A checker's work on one suspended report: signature, parse, findings text
 * and compression, then the batcher's queue; or its verdict and a resume. */
static void check_one(struct coll_server *srv, struct req *rq)
{
	char err[512];
	struct coll_agent *agent = &rq->agent;
	int64_t seq = 0;
	json_t *report = NULL;
	const char *body = rq->body.data ? rq->body.data : "";
	rq->chk = coll_ingest_check(agent->public_key, agent->id, rq->sig, body, rq->body.len,
				    (size_t)srv->cfg->max_body_bytes, &report, &seq, err,
				    sizeof(err));
	if (rq->chk != COLL_CHECK_OK) {
		rq->check_err = strdup(err);
		rq->checked = true;
		MHD_resume_connection(rq->conn);
		return;
	}
	/* rendered here rather than by the batcher under the write lock
	 * (NULL: the store renders it) */
	rq->findings = coll_store_findings_json(report);
	int64_t findings_hash = rq->findings ? coll_text_hash(rq->findings) : 0;
	size_t stored_len = 0;
	if (coll_codec_compress(body, rq->body.len, &rq->stored, &stored_len) < 0)
		rq->stored = NULL; /* the store compresses it */
	pthread_mutex_lock(&srv->qlock);
	if (srv->qlen >= QUEUE_MAX || srv->stop) {
		pthread_mutex_unlock(&srv->qlock);
		json_decref(report);
		rq->checked = true; /* chk is OK: answered 503 */
		MHD_resume_connection(rq->conn);
		return;
	}
	rq->report = report;
	rq->item = (struct coll_ingest){
		.findings_json = rq->findings,
		.findings_hash = findings_hash,
		.has_findings_hash = rq->findings != NULL,
		.stored = rq->stored,
		.stored_len = stored_len,
		.agent = *agent,
		.report = report,
		.body = body,
		.len = rq->body.len,
		.seq = seq,
		.received_at = coll_test_clock("ERPULSE_TEST_INGEST_CLOCK_FILE"),
	};
	rq->queued = true;
	rq->next = NULL;
	if (srv->qtail)
		srv->qtail->next = rq;
	else
		srv->qhead = rq;
	srv->qtail = rq;
	srv->qlen++;
	pthread_cond_signal(&srv->qcond);
	pthread_mutex_unlock(&srv->qlock);
}

size_t coll_http_default_checkers(long ncpu, bool sqlite)
{
	if (ncpu < 1)
		return 2;
	/* SQLite's one batcher is the serial stage: checkers on every core
	 * make it wait for a core behind them (2 cores: 1 checker carried
	 * 7-13% more reports/s than 2 with session 5's batcher, the same
	 * with session 6's; docs/store.md "Session 6 (integrator)") */
	if (sqlite && ncpu > 1)
		return (size_t)(ncpu - 1);
	return (size_t)ncpu;
}

void *coll_http_checker(void *arg)
{
	struct coll_server *srv = arg;
	for (;;) {
		pthread_mutex_lock(&srv->cklock);
		while (!srv->ckhead && !srv->ckstop)
			pthread_cond_wait(&srv->ckcond, &srv->cklock);
		struct req *rq = srv->ckhead;
		if (rq) {
			srv->ckhead = rq->next;
			if (!srv->ckhead)
				srv->cktail = NULL;
		}
		pthread_mutex_unlock(&srv->cklock);
		if (!rq) /* stopping, and nothing is left */
			break;
		check_one(srv, rq);
	}
	return NULL;
}

/* ---- threads ---------------------------------------------------------------------------- */

/* A batch's outcome for /healthz and the log: one warning per outage, and
 * one line when it ends, rather than one per failed batch. */
static void note_outcome(struct coll_server *srv, int r, const char *why)
{
	atomic_store(&srv->last_commit, r < 0 ? r : 0);
	if (r < 0 && atomic_fetch_add(&srv->outage_batches, 1) == 0)
		ep_log_warning("ingest: reports are not being stored: %s (further "
			       "failures are counted until it recovers)",
			       why);
	if (r == 0) {
		uint64_t failed = atomic_exchange(&srv->outage_batches, 0);
		if (failed)
			ep_log_notice("ingest: reports are stored again (%llu batches "
				      "failed meanwhile)",
				      (unsigned long long)failed);
	}
}

/* Answers the requests of list (chained by next): their results are set. */
static void resume_all(struct req *list)
{
	while (list) {
		struct req *rq = list;
		list = rq->next;
		atomic_store(&rq->done, true);
		MHD_resume_connection(rq->conn);
	}
}

void *coll_http_syncer(void *arg)
{
	struct coll_server *srv = arg;
	for (;;) {
		pthread_mutex_lock(&srv->slock);
		while (!srv->shead && !srv->sstop)
			pthread_cond_wait(&srv->scond, &srv->slock);
		/* every batch on the list has committed: one sync covers them all */
		struct req *list = srv->shead;
		bool kick = srv->skick, stop = srv->sstop;
		srv->shead = srv->stail = NULL;
		srv->skick = false;
		pthread_mutex_unlock(&srv->slock);
		if (!list && stop)
			break;
		int r = coll_db_sync_wal(srv->wal);
		if (r < 0) {
			/* committed but perhaps not on disk: not acknowledged (the agent
			 * sends it again and is told it is a duplicate) */
			char why[300];
			snprintf(why, sizeof(why), "syncing %s: %s", srv->wal, strerror(-r));
			for (struct req *rq = list; rq; rq = rq->next) {
				rq->item.result = COLL_INGEST_FAILED;
				rq->item.error = r;
			}
			note_outcome(srv, r, why);
		} else
			note_outcome(srv, 0, NULL);
		resume_all(list);
		if (r == 0 && kick)
			coll_outbox_kick(srv->outbox);
	}
	return NULL;
}

void *coll_http_batcher(void *arg)
{
	struct batcher_arg *ba = arg;
	struct coll_server *srv = ba->srv;
	struct coll_store *w = ba->w;
	free(ba);
	size_t max = (size_t)srv->cfg->batch_max;
	struct req **batch = calloc(max, sizeof(*batch));
	struct coll_ingest **items = calloc(max, sizeof(*items));
	if (!batch || !items) {
		ep_log_err("batcher: out of memory");
		abort();
	}
	for (;;) {
		size_t n = 0;
		pthread_mutex_lock(&srv->qlock);
		while (!srv->qhead && !srv->stop)
			pthread_cond_wait(&srv->qcond, &srv->qlock);
		while (srv->qhead && n < max) {
			batch[n] = srv->qhead;
			srv->qhead = srv->qhead->next;
			srv->qlen--;
			items[n] = &batch[n]->item;
			n++;
		}
		if (!srv->qhead)
			srv->qtail = NULL;
		bool stop = srv->stop;
		pthread_mutex_unlock(&srv->qlock);
		if (n == 0 && stop)
			break;
		int64_t t0 = ep_mono_ms();
		uint64_t added = w->outbox_added;
		/* PostgreSQL: 503 before agents time out; SQLite: a big batch on a
		 * busy disk may take longer and nothing else can serve it anyway */
		int64_t budget = coll_db_kind(w->db) == COLL_DB_SQLITE
					 ? srv->cfg->busy_timeout_ms
					 : srv->cfg->statement_timeout_ms;
		coll_store_set_deadline(w, t0 + budget);
		int r = coll_store_ingest(w, items, n, &srv->an);
		if (r == -EBUSY || r == -ECONNRESET || r == -EAGAIN) {
			/* one more try: a reconnect or a deadlock/serialization retry */
			coll_store_set_deadline(w, ep_mono_ms() + budget);
			r = coll_store_ingest(w, items, n, &srv->an);
		}
		coll_metrics_observe(COLL_HIST_STORE, ep_mono_ms() - t0);
		coll_metrics_batch(n);
		for (size_t i = 0; i < n; i++) {
			if (items[i]->result == COLL_INGEST_FAILED && r == 0 &&
			    items[i]->error != -EPERM)
				ep_log_warning("ingest: report %s/%lld not stored: %s",
					       items[i]->agent.id, (long long)items[i]->seq,
					       strerror(-items[i]->error));
			batch[i]->next = i + 1 < n ? batch[i + 1] : NULL;
		}
		bool kick = r == 0 && w->outbox_added != added;
		if (r == 0 && srv->wal) {
			/* committed, not yet on disk: answered by the syncer once it
			 * is, while this thread goes on with the next batch */
			pthread_mutex_lock(&srv->slock);
			if (srv->stail)
				srv->stail->next = batch[0];
			else
				srv->shead = batch[0];
			srv->stail = batch[n - 1];
			srv->skick = srv->skick || kick;
			pthread_cond_signal(&srv->scond);
			pthread_mutex_unlock(&srv->slock);
			continue;
		}
		note_outcome(srv, r, w->err);
		resume_all(batch[0]);
		if (kick)
			coll_outbox_kick(srv->outbox);
	}
	free(batch);
	free(items);
	return NULL;
}
