/* HTTP(S) server core (server.h, http.h): transport, TLS, limits (body caps,
 * the enrollment rate limit, the total request deadline's bookkeeping),
 * the libmicrohttpd callbacks, and starting and stopping the threads.
 * Request handlers run on libmicrohttpd's thread pool; which handler answers
 * a URL is the route table's business (routes.c), what it does is its
 * api_<resource>.c's. Reports are queued for the batcher threads
 * (api_reports.c), nothing is acknowledged before it is committed. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "collector/http/http.h"
#include "collector/metrics.h"
#include "collector/notify/outbox.h"
#include "erpulse/log.h"
#include "erpulse/util.h"

/* TLS 1.2 and 1.3 with AEAD suites only ([server] tls_min_version,
 * tls_ciphers): no CBC, no SHA-1 MACs, no RSA key exchange. */
#define TLS_PRIORITY_BASE "SECURE128:-VERS-ALL:+VERS-TLS1.3"
#define TLS_PRIORITY_SUITES                                                                        \
	":-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:"        \
	"+ECDHE-ECDSA:+ECDHE-RSA:+DHE-RSA:%SERVER_PRECEDENCE"

/* ---- client address and rate limit ------------------------------------------------ */

void coll_http_client_ip(struct MHD_Connection *c, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	buf[0] = '\0';
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
			  (socklen_t)size);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  buf, (socklen_t)size);
}

/* ---- framing: what libmicrohttpd lets through ------------------------------------------- */

struct framing {
	unsigned content_length, transfer_encoding, host;
	bool bad_name, bad_value, bad_length, folded_framing;
};

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind, const char *key,
				    const char *value)
{
	struct framing *f = cls;
	(void)kind;
	for (const char *p = value ? value : ""; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t')
			f->bad_value = true;
	/* libmicrohttpd 0.9.75 appends a folded line to the header's NAME
	 * ("Content-Length: 2" + " 0" is "Content-Length0: 2"), which would
	 * hide the framing header: the body would be read as empty and its
	 * bytes as the next request, where a proxy that unfolds sees a body */
	if (strncasecmp(key, "Content-Length", 14) == 0 && key[14])
		f->folded_framing = true;
	if (strncasecmp(key, "Transfer-Encoding", 17) == 0 && key[17])
		f->folded_framing = true;
	if (strcasecmp(key, "Content-Length") == 0) {
		f->content_length++;
		if (!value || !*value || strspn(value, "0123456789") != strlen(value))
			f->bad_length = true;
	} else if (strcasecmp(key, "Transfer-Encoding") == 0)
		f->transfer_encoding++;
	else if (strcasecmp(key, "Host") == 0)
		f->host++;
	for (const char *p = key; *p; p++)
		if (*p == ' ' || *p == '\t' || *p == '\r')
			f->bad_name = true;
	return MHD_YES;
}

/* NULL, or why the request's framing is ambiguous (docs/collector.md
 * "Limits": answered 400 and the connection closed, since what follows on
 * it cannot be told apart from this request's body). */
static const char *framing_problem(struct MHD_Connection *c, const char *version)
{
	struct framing f = {0};
	MHD_get_connection_values(c, MHD_HEADER_KIND, count_header, &f);
	if (f.content_length > 1)
		return "more than one Content-Length";
	if (f.content_length && f.transfer_encoding)
		return "both Content-Length and Transfer-Encoding";
	if (f.transfer_encoding > 1)
		return "more than one Transfer-Encoding";
	if (f.folded_framing)
		return "a folded Content-Length or Transfer-Encoding line";
	if (f.bad_length)
		return "a Content-Length that is not a number";
	if (f.bad_name)
		return "white space in a header name";
	if (f.bad_value)
		return "a control character (a bare CR, a folded line) in a header value";
	if (strcmp(version, "HTTP/1.1") == 0 && f.host != 1)
		return f.host ? "more than one Host" : "HTTP/1.1 without Host";
	return NULL;
}

/* A %00 in the URL would end the decoded path early (/api/v1/hosts/ID%00x
 * read as ID): such a URL is left undecoded, so it matches nothing. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *uri)
{
	(void)cls;
	(void)c;
	for (const char *p = uri; (p = strchr(p, '%')) != NULL; p++)
		if (p[1] == '0' && p[2] == '0')
			return strlen(uri);
	return MHD_http_unescape(uri);
}

/* ---- connections: header deadline, eviction ------------------------------------------ */

static struct track *track_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

/* Under tlock. */
static void track_headers(struct coll_server *srv, struct track *t, bool headers)
{
	if (t->headers == headers)
		return;
	t->headers = headers;
	if (!t->cut) {
		if (headers)
			srv->waiting--;
		else
			srv->waiting++;
	}
}

/* Under tlock: cut t (libmicrohttpd sees EOF and closes it; the fd stays
 * its own). */
static void track_cut(struct coll_server *srv, struct track *t)
{
	shutdown(t->fd, SHUT_RDWR);
	if (!t->headers)
		srv->waiting--;
	t->cut = true;
	coll_metrics_reject(COLL_REJECT_TIMEOUT);
}

void coll_http_reap(struct coll_server *srv)
{
	int64_t now = ep_mono_ms(), limit = srv->cfg->request_deadline_s * 1000,
		hlimit = srv->cfg->header_timeout_s * 1000;
	pthread_mutex_lock(&srv->tlock);
	for (struct track *t = srv->tracks; t; t = t->next) {
		int64_t age = now - atomic_load(&t->start_ms);
		if (!t->cut && (age > limit || (!t->headers && age > hlimit)))
			track_cut(srv, t);
	}
	pthread_mutex_unlock(&srv->tlock);
}

/* ---- libmicrohttpd callbacks -------------------------------------------------------- */

/* Takes n bytes of the in-flight body budget; false when it would go over. */
static bool inflight_take(struct coll_server *srv, uint64_t n)
{
	uint64_t max = (uint64_t)srv->cfg->max_inflight_bytes;
	uint64_t cur = atomic_load(&srv->inflight);
	do {
		if (cur + n > max)
			return false;
	} while (!atomic_compare_exchange_weak(&srv->inflight, &cur, cur + n));
	return true;
}

/* The first call for a request: its headers are complete. Everything that
 * can be decided before the body is decided here, so that a refused body is
 * never read into memory. */
static enum MHD_Result on_headers(struct coll_server *srv, struct MHD_Connection *c,
				  const char *url, const char *method, const char *version,
				  void **con_cls)
{
	struct track *t = track_of(c);
	if (t) {
		pthread_mutex_lock(&srv->tlock);
		track_headers(srv, t, true);
		pthread_mutex_unlock(&srv->tlock);
	}
	const char *bad = framing_problem(c, version);
	if (bad) {
		coll_metrics_reject(COLL_REJECT_BAD_REQUEST);
		return coll_http_error_close(c, 400, "bad_request", bad);
	}
	const struct coll_route *route = coll_route_find(url);
	if (!route)
		return coll_http_error(c, 404, "not_found", "no such endpoint");
	bool method_ok = route->post ? strcmp(method, "POST") == 0
				     : strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	if (!method_ok)
		return coll_http_error(c, 405, "method_not_allowed", "method not allowed here");
	size_t cap = route->body == COLL_BODY_REPORT ? (size_t)srv->cfg->max_body_bytes
		     : route->body == COLL_BODY_ENROLL || route->body == COLL_BODY_ACTION
			     ? ENROLL_MAX_BODY
			     : 0;
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	int64_t declared = 0;
	bool too_large = cl && ep_parse_int64(cl, 0, INT64_MAX, &declared) == 0 &&
			 (uint64_t)declared > cap && route->body != COLL_BODY_NONE;
	if (too_large && (uint64_t)declared > DRAIN_MAX) {
		/* refused before a byte of the body is read */
		coll_metrics_reject(COLL_REJECT_TOO_LARGE);
		return coll_http_error(c, 413, "too_large", "request body too large");
	}
	if (route->rate_limited) {
		char ip[INET6_ADDRSTRLEN];
		coll_http_client_ip(c, ip, sizeof(ip));
		if (!coll_rate_allow(srv->rate, ip, ep_mono_ms())) {
			coll_metrics_enroll(0);
			return coll_http_error(c, 429, "rate_limited",
					       "too many enrollments; retry later");
		}
	}
	struct req *rq = calloc(1, sizeof(*rq));
	if (!rq)
		return MHD_NO;
	rq->srv = srv;
	rq->conn = c;
	rq->route = route;
	rq->start_ms = ep_mono_ms();
	rq->too_large = too_large;
	ep_buf_init(&rq->body, cap);
	*con_cls = rq; /* freed by on_completed from here on */
	if (route->body == COLL_BODY_REPORT) {
		enum MHD_Result ret;
		if (coll_api_reports_admit(rq, &ret))
			return ret;
	}
	if (rq->agent_known) {
		/* an agent sends one report at a time: a few bodies per agent id
		 * at most, so that the ids of a few hosts cannot take the budget */
		uint32_t h = 2166136261u;
		for (const char *p = rq->agent.id; *p; p++)
			h = (h ^ (unsigned char)*p) * 16777619u;
		size_t slot = h % AGENT_SLOTS;
		if (atomic_fetch_add(&srv->agent_bodies[slot], 1) >= AGENT_BODIES) {
			atomic_fetch_sub(&srv->agent_bodies[slot], 1);
			coll_metrics_reject(COLL_REJECT_UNAVAILABLE);
			return coll_http_error_close(c, 503, "busy",
						     "this agent has reports in flight already; "
						     "retry later");
		}
		rq->agent_slot = slot + 1;
	}
	if (route->body != COLL_BODY_NONE && !too_large) {
		/* the most this body may take: its declared length, or the cap */
		uint64_t want = cl ? (uint64_t)declared : (uint64_t)cap;
		if (want && !inflight_take(srv, want)) {
			coll_metrics_reject(COLL_REJECT_UNAVAILABLE);
			return coll_http_error_close(c, 503, "busy",
						     "too many request bodies in flight; retry "
						     "later");
		}
		rq->reserved = want;
		if (cl && declared > 0) {
			/* one allocation of the declared size instead of doubling */
			rq->body.data = malloc((size_t)declared + 1);
			if (rq->body.data) {
				rq->body.data[0] = '\0';
				rq->body.cap = (size_t)declared + 1;
			}
		}
	}
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct coll_server *srv = cls;
	struct req *rq = *con_cls;

	if (!rq)
		return on_headers(srv, c, url, method, version, con_cls);
	if (*upload_size > 0) {
		/* A body over the cap is read and dropped up to DRAIN_MAX, so that
		 * the client, still sending, reliably reads the 413 (answering at
		 * once and closing makes its kernel see a reset instead). */
		rq->seen += *upload_size;
		if (!rq->too_large && ep_buf_append(&rq->body, upload, *upload_size) < 0) {
			rq->too_large = true;
			ep_buf_free(&rq->body);
		}
		*upload_size = 0;
		if (rq->too_large && rq->seen > DRAIN_MAX) {
			coll_metrics_reject(COLL_REJECT_TOO_LARGE);
			return coll_http_error(c, 413, "too_large", "request body too large");
		}
		return MHD_YES;
	}
	return rq->route->handle(rq, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct coll_server *srv = cls;
	struct req *rq = *con_cls;
	(void)toe;
	struct track *t = track_of(c);
	if (t) {
		atomic_store(&t->start_ms, ep_mono_ms()); /* the next request's clock */
		pthread_mutex_lock(&srv->tlock);
		track_headers(srv, t, false);
		pthread_mutex_unlock(&srv->tlock);
	}
	if (!rq)
		return;
	atomic_fetch_sub(&srv->inflight, rq->reserved);
	if (rq->agent_slot)
		atomic_fetch_sub(&srv->agent_bodies[rq->agent_slot - 1], 1);
	json_decref(rq->report);
	free(rq->check_err);
	free(rq->findings);
	free(rq->stored);
	ep_buf_free(&rq->body);
	free(rq);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct coll_server *srv = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct track *t = calloc(1, sizeof(*t));
		if (!t || !ci) {
			free(t);
			return;
		}
		t->fd = ci->connect_fd;
		atomic_store(&t->start_ms, ep_mono_ms());
		pthread_mutex_lock(&srv->tlock);
		/* Too many connections still without their request's headers:
		 * cut the oldest, so that slow or idle clients cannot take the
		 * room a quick one (an agent) needs. */
		if (srv->waiting >= srv->wait_limit)
			for (struct track *o = srv->tracks_tail; o; o = o->prev)
				if (!o->cut && !o->headers) {
					track_cut(srv, o);
					break;
				}
		t->next = srv->tracks;
		if (srv->tracks)
			srv->tracks->prev = t;
		else
			srv->tracks_tail = t;
		srv->tracks = t;
		srv->waiting++;
		pthread_mutex_unlock(&srv->tlock);
		*socket_context = t;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		struct track *t = *socket_context;
		if (!t)
			return;
		/* notified before libmicrohttpd closes the fd: once unlinked under
		 * the lock, the reaper can no longer touch it */
		pthread_mutex_lock(&srv->tlock);
		if (!t->cut && !t->headers)
			srv->waiting--;
		if (t->prev)
			t->prev->next = t->next;
		else
			srv->tracks = t->next;
		if (t->next)
			t->next->prev = t->prev;
		else
			srv->tracks_tail = t->prev;
		pthread_mutex_unlock(&srv->tlock);
		free(t);
		*socket_context = NULL;
	}
}

/* ---- start / stop ------------------------------------------------------------------------- */

static int read_pem(const char *path, char **ret, char *err, size_t errlen)
{
	size_t len;
	int r = ep_read_file(path, 1 << 20, ret, &len);
	if (r < 0)
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(-r));
	return r;
}

/* Before the batchers are stopped: the checkers refuse new reports, hand
 * what they hold to the batchers' queue (or answer it) and exit. */
static void stop_checkers(struct coll_server *srv)
{
	pthread_mutex_lock(&srv->cklock);
	srv->ckstop = true;
	pthread_cond_broadcast(&srv->ckcond);
	pthread_mutex_unlock(&srv->cklock);
	for (size_t i = 0; i < srv->n_checkers; i++)
		pthread_join(srv->checkers[i], NULL);
	srv->n_checkers = 0;
}

/* Once the batchers are joined: the syncer answers what they handed it and
 * exits. */
static void stop_syncer(struct coll_server *srv)
{
	if (!srv->has_syncer)
		return;
	pthread_mutex_lock(&srv->slock);
	srv->sstop = true;
	pthread_cond_signal(&srv->scond);
	pthread_mutex_unlock(&srv->slock);
	pthread_join(srv->syncer, NULL);
	srv->has_syncer = false;
}

int coll_server_port(const struct coll_server *srv)
{
	return srv->port;
}

int coll_server_start(const struct coll_settings *cfg, struct coll_server **ret, char *err,
		      size_t errlen)
{
	struct coll_server *srv = calloc(1, sizeof(*srv));
	int r;
	if (!srv)
		return -ENOMEM;
	srv->cfg = cfg;
	pthread_mutex_init(&srv->qlock, NULL);
	pthread_cond_init(&srv->qcond, NULL);
	pthread_mutex_init(&srv->mlock, NULL);
	pthread_cond_init(&srv->mcond, NULL);
	pthread_mutex_init(&srv->tlock, NULL);
	pthread_mutex_init(&srv->alock, NULL);
	pthread_mutex_init(&srv->pool.lock, NULL);
	pthread_cond_init(&srv->pool.cond, NULL);
	pthread_mutex_init(&srv->slock, NULL);
	pthread_cond_init(&srv->scond, NULL);
	pthread_mutex_init(&srv->cklock, NULL);
	pthread_cond_init(&srv->ckcond, NULL);

	if (cfg->tls) {
		if (!cfg->tls_cert || !cfg->tls_key) {
			snprintf(err, errlen,
				 "[server] tls_cert and tls_key are required (or tls = no, for "
				 "tests and behind a TLS proxy only)");
			r = -EINVAL;
			goto fail;
		}
		if ((r = read_pem(cfg->tls_cert, &srv->tls_cert, err, errlen)) < 0 ||
		    (r = read_pem(cfg->tls_key, &srv->tls_key, err, errlen)) < 0)
			goto fail;
	}
	srv->agents = calloc(AGENT_SLOTS, sizeof(*srv->agents));
	srv->agent_bodies = calloc(AGENT_SLOTS, sizeof(*srv->agent_bodies));
	r = coll_rate_new(RATE_SLOTS, (double)cfg->enroll_per_minute, (double)cfg->enroll_burst,
			  (double)cfg->enroll_global_per_minute, (double)cfg->enroll_global_burst,
			  &srv->rate);
	if (r < 0 || !srv->agents || !srv->agent_bodies) {
		r = -ENOMEM;
		goto fail;
	}

	struct coll_db_opts dbo = {
		.statement_timeout_ms = cfg->statement_timeout_ms,
		.connect_timeout_ms = cfg->connect_timeout_ms,
		.busy_timeout_ms = cfg->busy_timeout_ms,
	};
	r = coll_store_open(cfg->store_url, &dbo, &srv->writer, err, errlen);
	if (r < 0)
		goto fail;
	coll_store_set_deadline(srv->writer, INT64_MAX);
	r = coll_store_migrate(srv->writer);
	if (r < 0) {
		snprintf(err, errlen, "migrating the store: %s", srv->writer->err);
		goto fail;
	}
	srv->pool.n = (size_t)cfg->pool_size;
	srv->pool.v = calloc(srv->pool.n, sizeof(*srv->pool.v));
	srv->pool.busy = calloc(srv->pool.n, sizeof(*srv->pool.busy));
	if (!srv->pool.v || !srv->pool.busy) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < srv->pool.n; i++) {
		r = coll_store_open(cfg->store_url, &dbo, &srv->pool.v[i], err, errlen);
		if (r < 0)
			goto fail;
	}

	r = coll_analysis_config(cfg, &srv->an, err, errlen);
	if (r < 0)
		goto fail;
	srv->an.service = &cfg->service; /* incidents (docs/incidents.md) */
	struct coll_outbox_cfg oc = {
		.store_url = cfg->store_url,
		.db = dbo,
		.webhook_url = cfg->webhook_url,
		.smtp_url = cfg->smtp_url,
		.mail_from = cfg->mail_from,
		.mail_to = cfg->mail_to,
		.send = coll_settings_send_opts(cfg),
		.max_attempts = cfg->max_attempts,
		.channels = &cfg->service.channels,
	};
	srv->n_writers = (size_t)cfg->writers;
	if (srv->n_writers == 0)
		srv->n_writers = coll_db_kind(srv->writer->db) == COLL_DB_SQLITE ? 1 : 2;
	srv->writers = calloc(srv->n_writers, sizeof(*srv->writers));
	srv->batchers = calloc(srv->n_writers, sizeof(*srv->batchers));
	if (!srv->writers || !srv->batchers) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < srv->n_writers; i++) {
		r = coll_store_open(cfg->store_url, &dbo, &srv->writers[i], err, errlen);
		if (r < 0)
			goto fail;
		/* SQLite: the maintenance thread checkpoints the WAL */
		coll_db_tune_writer(srv->writers[i]->db);
		if (!cfg->pipeline_commits)
			continue;
		/* SQLite: the syncer makes the commits durable (one WAL for all) */
		char *wal = NULL;
		r = coll_db_defer_sync(srv->writers[i]->db, &wal);
		if (r < 0 && r != -ENOTSUP) {
			snprintf(err, errlen, "setting up the ingest connection: %s",
				 coll_db_error(srv->writers[i]->db));
			goto fail;
		}
		if (!srv->wal)
			srv->wal = wal;
		else
			free(wal);
	}
	/* the store's compression dictionary from the first report on (the
	 * maintenance trains and reloads it hourly, its first time a minute
	 * from now); without one, bodies are compressed without */
	if (coll_store_codec_load(srv->writers[0], ep_wall_ms() / 1000) < 0)
		ep_log_warning("compression dictionary: %s", srv->writers[0]->err);
	r = coll_outbox_start(&oc, &srv->outbox, err, errlen);
	if (r < 0)
		goto fail;
	if (srv->wal) {
		r = ep_thread_start(&srv->syncer, coll_http_syncer, srv, "ep-syncer");
		if (r < 0) {
			snprintf(err, errlen, "cannot start the syncer: %s", strerror(-r));
			goto fail_batcher;
		}
		srv->has_syncer = true;
	}
	for (size_t i = 0; i < srv->n_writers; i++) {
		struct batcher_arg *ba = malloc(sizeof(*ba));
		r = ba ? 0 : -ENOMEM;
		if (ba) {
			ba->srv = srv;
			ba->w = srv->writers[i];
			r = ep_thread_start(&srv->batchers[i], coll_http_batcher, ba, "ep-batcher");
			if (r < 0)
				free(ba);
		}
		if (r < 0) {
			snprintf(err, errlen, "cannot start the batcher: %s", strerror(-r));
			goto fail_batcher;
		}
		srv->n_batchers++;
	}
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t nck = cfg->ingest_threads > 0
			     ? (size_t)cfg->ingest_threads
			     : coll_http_default_checkers(ncpu, coll_db_kind(srv->writer->db) ==
									COLL_DB_SQLITE);
	srv->checkers = calloc(nck, sizeof(*srv->checkers));
	if (!srv->checkers) {
		r = -ENOMEM;
		goto fail_batcher;
	}
	for (size_t i = 0; i < nck; i++) {
		r = ep_thread_start(&srv->checkers[i], coll_http_checker, srv, "ep-checker");
		if (r < 0) {
			snprintf(err, errlen, "cannot start the checkers: %s", strerror(-r));
			goto fail_batcher;
		}
		srv->n_checkers++;
	}
	r = ep_thread_start(&srv->maint, coll_http_maint, srv, "ep-maint");
	if (r < 0) {
		snprintf(err, errlen, "cannot start the maintenance thread: %s", strerror(-r));
		goto fail_batcher;
	}

	/* connections: below the descriptor limit, with room for the store */
	struct rlimit rl;
	int64_t max_conn = cfg->max_connections;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
			getrlimit(RLIMIT_NOFILE, &rl);
		}
		int64_t room = (int64_t)rl.rlim_cur - 64 - 2 * cfg->pool_size;
		if (room < max_conn) {
			ep_log_warning("max_connections lowered from %lld to %lld to fit "
				       "RLIMIT_NOFILE (%llu)",
				       (long long)max_conn, (long long)room,
				       (unsigned long long)rl.rlim_cur);
			max_conn = room > 16 ? room : 16;
		}
	}
	/* A quarter of the connections is kept for requests whose headers are
	 * in (agents): slow or idle ones beyond the rest are cut, oldest first;
	 * one address holds at most a quarter (docs/collector.md "Limits"). */
	srv->wait_limit = (size_t)(max_conn - max_conn / 4);
	int64_t per_ip = cfg->max_per_ip;
	if (per_ip > max_conn / 4) {
		per_ip = max_conn / 4 > 1 ? max_conn / 4 : 1;
		if (cfg->max_per_ip != 1024) /* not the default */
			ep_log_warning("max_per_ip lowered from %lld to %lld (a quarter of "
				       "max_connections)",
				       (long long)cfg->max_per_ip, (long long)per_ip);
	}
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG | MHD_USE_TURBO;
	if (inet_pton(AF_INET, cfg->listen_host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)cfg->port);
	} else if (inet_pton(AF_INET6, cfg->listen_host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)cfg->port);
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, errlen, "[server] listen: '%s' is not a numeric IP address",
			 cfg->listen_host);
		r = -EINVAL;
		goto fail_maint;
	}
	if (cfg->tls)
		flags |= MHD_USE_TLS;
	unsigned threads =
		cfg->threads > 0 ? (unsigned)cfg->threads : (unsigned)(ncpu > 0 ? ncpu : 2);
	char prio[1200];
	if (cfg->tls_ciphers)
		snprintf(prio, sizeof(prio), "%s", cfg->tls_ciphers);
	else
		snprintf(prio, sizeof(prio), "%s%s%s", TLS_PRIORITY_BASE,
			 strcmp(cfg->tls_min_version, "1.3") == 0 ? "" : ":+VERS-TLS1.2",
			 TLS_PRIORITY_SUITES);
	struct MHD_OptionItem tls_opts[] = {
		{MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key},
		{MHD_OPTION_HTTPS_PRIORITIES, 0, prio},
		{MHD_OPTION_END, 0, NULL},
	};
	srv->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, &ss,
		MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)max_conn, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)per_ip,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->memory_limit_bytes,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, srv, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
		MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL, MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
		MHD_OPTION_ARRAY, cfg->tls ? tls_opts : &tls_opts[3], MHD_OPTION_END);
	if (!srv->mhd) {
		snprintf(err, errlen, "cannot listen on %s:%d (in use, or TLS files invalid)",
			 cfg->listen_host, cfg->port);
		r = -EADDRINUSE;
		goto fail_maint;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di ? di->port : cfg->port;
	*ret = srv;
	return 0;

fail_maint:
	pthread_mutex_lock(&srv->mlock);
	srv->stop = true;
	pthread_cond_signal(&srv->mcond);
	pthread_mutex_unlock(&srv->mlock);
	pthread_join(srv->maint, NULL);
fail_batcher:
	stop_checkers(srv);
	pthread_mutex_lock(&srv->qlock);
	srv->stop = true;
	pthread_cond_broadcast(&srv->qcond);
	pthread_mutex_unlock(&srv->qlock);
	for (size_t i = 0; i < srv->n_batchers; i++)
		pthread_join(srv->batchers[i], NULL);
	srv->n_batchers = 0;
	stop_syncer(srv);
	coll_outbox_stop(srv->outbox);
	srv->outbox = NULL;
fail:
	srv->mhd = NULL;
	srv->maint = 0;
	coll_server_stop(srv);
	return r;
}

void coll_server_stop(struct coll_server *srv)
{
	if (!srv)
		return;
	if (srv->mhd)
		MHD_quiesce_daemon(srv->mhd);
	/* the checkers first: what they hold goes to the batchers' queue */
	if (srv->mhd)
		stop_checkers(srv);
	pthread_mutex_lock(&srv->qlock);
	bool running = !srv->stop;
	srv->stop = true;
	pthread_cond_broadcast(&srv->qcond);
	pthread_mutex_unlock(&srv->qlock);
	if (running && srv->mhd) {
		/* the batchers drain the queue (every suspended connection gets its
		 * answer) before they exit */
		for (size_t i = 0; i < srv->n_batchers; i++)
			pthread_join(srv->batchers[i], NULL);
		stop_syncer(srv); /* after the batchers: it answers their last batches */
		pthread_mutex_lock(&srv->mlock);
		pthread_cond_signal(&srv->mcond);
		pthread_mutex_unlock(&srv->mlock);
		pthread_join(srv->maint, NULL);
	}
	if (srv->mhd)
		MHD_stop_daemon(srv->mhd);
	coll_outbox_stop(srv->outbox);
	for (size_t i = 0; i < srv->pool.n; i++)
		coll_store_close(srv->pool.v[i]);
	free(srv->pool.v);
	free(srv->pool.busy);
	coll_store_close(srv->writer);
	for (size_t i = 0; i < srv->n_writers; i++)
		coll_store_close(srv->writers ? srv->writers[i] : NULL);
	free(srv->writers);
	free(srv->batchers);
	free(srv->checkers);
	while (srv->tracks) {
		struct track *t = srv->tracks;
		srv->tracks = t->next;
		free(t);
	}
	coll_rate_free(srv->rate);
	free(srv->agents);
	free(srv->agent_bodies);
	free(srv->tls_cert);
	free(srv->tls_key);
	pthread_mutex_destroy(&srv->qlock);
	pthread_cond_destroy(&srv->qcond);
	pthread_mutex_destroy(&srv->mlock);
	pthread_cond_destroy(&srv->mcond);
	pthread_mutex_destroy(&srv->tlock);
	pthread_mutex_destroy(&srv->alock);
	pthread_mutex_destroy(&srv->pool.lock);
	pthread_cond_destroy(&srv->pool.cond);
	pthread_mutex_destroy(&srv->slock);
	pthread_cond_destroy(&srv->scond);
	pthread_mutex_destroy(&srv->cklock);
	pthread_cond_destroy(&srv->ckcond);
	free(srv->wal);
	free(srv);
}
