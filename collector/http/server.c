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
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "collector/http/http.h"
#include "collector/metrics.h"
#include "collector/notify/outbox.h"
#include "erpulse/log.h"
#include "erpulse/util.h"

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

/* Token bucket per client address. */
static bool rate_allow(struct coll_server *srv, const char *ip)
{
	uint32_t h = 2166136261u;
	for (const char *p = ip; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	double per_ms = (double)srv->cfg->enroll_per_minute / 60000.0;
	double burst = (double)srv->cfg->enroll_burst;
	int64_t now = ep_mono_ms();
	bool ok;
	pthread_mutex_lock(&srv->rlock);
	struct rate_slot *s = &srv->rate[h % RATE_SLOTS];
	if (strcmp(s->ip, ip) != 0) {
		snprintf(s->ip, sizeof(s->ip), "%s", ip);
		s->tokens = burst;
		s->at_ms = now;
	}
	s->tokens += (double)(now - s->at_ms) * per_ms;
	if (s->tokens > burst)
		s->tokens = burst;
	s->at_ms = now;
	ok = s->tokens >= 1.0;
	if (ok)
		s->tokens -= 1.0;
	pthread_mutex_unlock(&srv->rlock);
	return ok;
}

/* ---- libmicrohttpd callbacks -------------------------------------------------------- */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct coll_server *srv = cls;
	struct req *rq = *con_cls;
	(void)version;

	if (!rq) {
		const struct coll_route *route = coll_route_find(url);
		if (!route)
			return coll_http_error(c, 404, "not_found", "no such endpoint");
		bool method_ok =
			route->post ? strcmp(method, "POST") == 0
				    : strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
		if (!method_ok)
			return coll_http_error(c, 405, "method_not_allowed",
					       "method not allowed here");
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
			if (!rate_allow(srv, ip)) {
				coll_metrics_reject(COLL_REJECT_RATE_LIMITED);
				return coll_http_error(c, 429, "rate_limited",
						       "too many enrollments from this address");
			}
		}
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		rq->srv = srv;
		rq->conn = c;
		rq->route = route;
		rq->start_ms = ep_mono_ms();
		rq->too_large = too_large;
		ep_buf_init(&rq->body, cap);
		if (!too_large && declared > 0 && (uint64_t)declared <= cap) {
			/* one allocation of the declared size instead of doubling */
			rq->body.data = malloc((size_t)declared + 1);
			if (rq->body.data) {
				rq->body.data[0] = '\0';
				rq->body.cap = (size_t)declared + 1;
			}
		}
		*con_cls = rq;
		return MHD_YES;
	}
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
	struct req *rq = *con_cls;
	(void)cls;
	(void)toe;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci && ci->socket_context) {
		struct track *t = ci->socket_context;
		atomic_store(&t->start_ms, ep_mono_ms()); /* the next request's clock */
	}
	if (!rq)
		return;
	json_decref(rq->report);
	free(rq->findings);
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
		if (!t || !ci)
			return;
		t->fd = ci->connect_fd;
		atomic_store(&t->start_ms, ep_mono_ms());
		pthread_mutex_lock(&srv->tlock);
		t->next = srv->tracks;
		if (srv->tracks)
			srv->tracks->prev = t;
		srv->tracks = t;
		pthread_mutex_unlock(&srv->tlock);
		*socket_context = t;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		struct track *t = *socket_context;
		if (!t)
			return;
		/* notified before libmicrohttpd closes the fd: once unlinked under
		 * the lock, the reaper can no longer touch it */
		pthread_mutex_lock(&srv->tlock);
		if (t->prev)
			t->prev->next = t->next;
		else
			srv->tracks = t->next;
		if (t->next)
			t->next->prev = t->prev;
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
	pthread_mutex_init(&srv->rlock, NULL);
	pthread_mutex_init(&srv->alock, NULL);
	pthread_mutex_init(&srv->pool.lock, NULL);
	pthread_cond_init(&srv->pool.cond, NULL);

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
	srv->rate = calloc(RATE_SLOTS, sizeof(*srv->rate));
	srv->agents = calloc(AGENT_SLOTS, sizeof(*srv->agents));
	if (!srv->rate || !srv->agents) {
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
		srv->n_writers = coll_db_kind(srv->writer->db) == COLL_DB_SQLITE ? 1 : 4;
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
	}
	r = coll_outbox_start(&oc, &srv->outbox, err, errlen);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < srv->n_writers; i++) {
		struct batcher_arg *ba = malloc(sizeof(*ba));
		r = ba ? 0 : -ENOMEM;
		if (ba) {
			ba->srv = srv;
			ba->w = srv->writers[i];
			r = -pthread_create(&srv->batchers[i], NULL, coll_http_batcher, ba);
			if (r < 0)
				free(ba);
		}
		if (r < 0) {
			snprintf(err, errlen, "cannot start the batcher: %s", strerror(-r));
			goto fail_batcher;
		}
		srv->n_batchers++;
	}
	r = -pthread_create(&srv->maint, NULL, coll_http_maint, srv);
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
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads =
		cfg->threads > 0 ? (unsigned)cfg->threads : (unsigned)(ncpu > 0 ? ncpu : 2);
	struct MHD_OptionItem tls_opts[] = {
		{MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key},
		{MHD_OPTION_END, 0, NULL},
	};
	srv->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, &ss,
		MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)max_conn, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_per_ip,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->memory_limit_bytes,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, srv, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
		MHD_OPTION_ARRAY, cfg->tls ? tls_opts : &tls_opts[2], MHD_OPTION_END);
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
	pthread_mutex_lock(&srv->qlock);
	srv->stop = true;
	pthread_cond_broadcast(&srv->qcond);
	pthread_mutex_unlock(&srv->qlock);
	for (size_t i = 0; i < srv->n_batchers; i++)
		pthread_join(srv->batchers[i], NULL);
	srv->n_batchers = 0;
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
	while (srv->tracks) {
		struct track *t = srv->tracks;
		srv->tracks = t->next;
		free(t);
	}
	free(srv->rate);
	free(srv->agents);
	free(srv->tls_cert);
	free(srv->tls_key);
	pthread_mutex_destroy(&srv->qlock);
	pthread_cond_destroy(&srv->qcond);
	pthread_mutex_destroy(&srv->mlock);
	pthread_cond_destroy(&srv->mcond);
	pthread_mutex_destroy(&srv->tlock);
	pthread_mutex_destroy(&srv->rlock);
	pthread_mutex_destroy(&srv->alock);
	pthread_mutex_destroy(&srv->pool.lock);
	pthread_cond_destroy(&srv->pool.cond);
	free(srv);
}
