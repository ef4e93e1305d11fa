/* The HTTP server's inside (collector/http/README.md), shared by its files
 * and by nobody else: the core (server.c: transport, TLS, limits, the
 * libmicrohttpd callbacks), the answers and the store pool (respond.c), the
 * route table (routes.c) and one api_<resource>.c per resource. The core
 * knows routes only through the table; a resource is added by writing its
 * api_<resource>.c and one line in routes.c. */
#ifndef COLL_HTTP_H
#define COLL_HTTP_H

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/analysis/analysis.h"
#include "collector/http/ratelimit.h"
#include "collector/ingest.h"
#include "collector/http/server.h"
#include "collector/store/store.h"
#include "erpulse/util.h"

#define ENROLL_MAX_BODY (64 * 1024)
#define QUEUE_MAX       20000 /* reports waiting for the batcher; beyond: 503 */
#define RATE_SLOTS      4096
#define AGENT_SLOTS     8192
#define AGENT_TTL_MS    30000
#define AGENT_BODIES    2           /* report bodies in flight per agent id (slot) */
#define DRAIN_MAX       (16u << 20) /* oversized bodies read and dropped up to this */
#define RETRY_AFTER     "2"

struct req;

/* One resource's handler: called once the whole body is in rq->body (and
 * again when the batcher resumes a suspended connection). */
typedef enum MHD_Result (*coll_handler)(struct req *rq, const char *url);

/* Which body a route takes (the cap the core enforces before reading it). */
enum coll_body {
	COLL_BODY_NONE,   /* GET/HEAD: no body is read */
	COLL_BODY_REPORT, /* [limits] max_body_bytes */
	COLL_BODY_ENROLL, /* ENROLL_MAX_BODY */
	COLL_BODY_ACTION, /* an incident action's JSON: ENROLL_MAX_BODY */
};

/* One line of the route table (routes.c). Matched in order: path exact, or
 * path as a prefix followed by at least one byte (prefix), or match(url). */
struct coll_route {
	const char *path;
	bool prefix;
	bool (*match)(const char *url);
	bool post; /* POST, else GET and HEAD */
	enum coll_body body;
	bool rate_limited; /* the per-address token bucket ([limits] enroll_*) */
	coll_handler handle;
};

/* The route of url, NULL when none. */
const struct coll_route *coll_route_find(const char *url);

struct req {
	struct coll_server *srv;
	struct MHD_Connection *conn;
	const struct coll_route *route;
	int64_t start_ms;
	struct ep_buf body;
	bool too_large;
	uint64_t seen;     /* body bytes received */
	uint64_t reserved; /* of the in-flight body budget, given back when done */
	/* reports: the agent named by X-Erpulse-Agent, looked up before the body */
	bool agent_known;
	struct coll_agent agent;
	size_t agent_slot; /* 1 + the slot of agent_bodies taken, 0: none */
	/* ingest: handed to a checker (sig: the header's value), then queued
	 * for the batcher, or checked and answered with the verdict chk */
	const char *sig;
	bool checked;
	enum coll_check chk;
	char *check_err;
	bool queued;
	_Atomic bool done;
	struct coll_ingest item;
	json_t *report;
	char *findings; /* item.findings_json, rendered before the batch */
	void *stored;   /* item.stored, compressed before the batch */
	struct req *next;
};

/* one per TCP connection, for the total request deadline, the header
 * deadline and the eviction of slow connections (fields under tlock but
 * start_ms) */
struct track {
	int fd;
	_Atomic int64_t start_ms;
	bool cut;
	bool headers; /* the current request's headers are complete */
	struct track *prev, *next;
};

struct pool {
	struct coll_store **v;
	bool *busy;
	size_t n;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

/* Agent lookups cached briefly: public keys never change for an id, and a
 * revocation the cache has not seen yet is still refused by the seq gate in
 * the store transaction (it requires revoked_at IS NULL). */
struct agent_slot {
	struct coll_agent a;
	int64_t at_ms;
};

struct coll_server {
	const struct coll_settings *cfg;
	struct agent_slot *agents;
	pthread_mutex_t alock;
	struct MHD_Daemon *mhd;
	int port;
	char *tls_cert, *tls_key;
	struct pool pool;
	struct coll_analysis an;
	struct coll_outbox *outbox;
	/* batchers: one per writer connection */
	struct coll_store *writer; /* migrations */
	struct coll_store **writers;
	pthread_t *batchers;
	size_t n_writers, n_batchers;
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct req *qhead, *qtail;
	size_t qlen;
	_Atomic bool stop;
	/* maintenance + reaper */
	pthread_t maint;
	pthread_mutex_t mlock;
	pthread_cond_t mcond;
	struct track *tracks, *tracks_tail; /* newest first */
	size_t waiting;                     /* connections without complete request headers */
	size_t wait_limit;                  /* beyond it the oldest waiting one is cut */
	pthread_mutex_t tlock;
	/* enroll rate limit */
	struct coll_rate *rate;
	/* body bytes being received, all connections ([limits] max_inflight_kb) */
	_Atomic uint64_t inflight;
	/* report bodies in flight per agent id (hashed, AGENT_SLOTS) */
	_Atomic unsigned *agent_bodies;
	/* the write path: the last group commit's outcome (0 or -errno), for
	 * /healthz; failed batches of the current outage, for the log */
	_Atomic int last_commit;
	_Atomic uint64_t outage_batches;
	/* checkers: the signature check, parse and compression of report
	 * bodies, off libmicrohttpd's threads (their queue: ck*, under cklock) */
	pthread_t *checkers;
	size_t n_checkers;
	pthread_mutex_t cklock;
	pthread_cond_t ckcond;
	struct req *ckhead, *cktail;
	bool ckstop; /* under cklock: refuse new reports, drain and exit */
	/* SQLite with [store] pipeline_commits: committed batches wait on the
	 * sync list (chained by next) until the syncer thread's fdatasync of
	 * the WAL returns, then are answered; the batcher meanwhile runs the
	 * next batch (api_reports.c) */
	char *wal; /* the WAL's path; NULL: a commit is durable on return */
	pthread_t syncer;
	bool has_syncer;
	pthread_mutex_t slock;
	pthread_cond_t scond;
	struct req *shead, *stail;
	bool sstop; /* under slock: the batchers are gone, drain and exit */
	bool skick; /* under slock: a batch on the list added notices */
};

/* ---- answers (respond.c) ----------------------------------------------- */

/* Queues text (malloc'd, consumed) with Content-Type type and no-store. */
enum MHD_Result coll_http_text(struct MHD_Connection *c, unsigned status, const char *type,
			       char *text, const char *retry_after);
/* Consumes j. */
enum MHD_Result coll_http_json(struct MHD_Connection *c, unsigned status, json_t *j,
			       const char *retry_after);
/* {"error": {"code", "message"}}; 503 and 429 carry Retry-After. */
enum MHD_Result coll_http_error(struct MHD_Connection *c, unsigned status, const char *code,
				const char *message);
enum MHD_Result coll_http_unavailable(struct MHD_Connection *c);
/* An error answer after which the connection is closed (bad framing). */
enum MHD_Result coll_http_error_close(struct MHD_Connection *c, unsigned status, const char *code,
				      const char *message);

/* A pooled store connection with its deadline set, NULL at the deadline. */
struct coll_store *coll_pool_get(struct pool *p, int64_t deadline_ms);
void coll_pool_put(struct pool *p, struct coll_store *s);
/* a store call from a request must end within this: 503 before 2 s */
int64_t coll_http_deadline(const struct coll_server *srv);

/* The client's address (numeric text, "" when unknown) (server.c). */
void coll_http_client_ip(struct MHD_Connection *c, char *buf, size_t size);

/* ---- the read API (api_read.c) ---------------------------------------- */

/* Bearer token -> user. 0, or an answer was queued (ret set). */
int coll_http_authorize(struct req *rq, struct coll_user *user, enum MHD_Result *ret);

/* One read query: fills *ret (-ENOENT: 404). */
typedef int (*coll_read_fn)(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
			    const char *url, int64_t now, json_t **ret);
/* Authorizes, parses limit/offset, runs fn on a pooled connection and
 * answers; the result is wrapped as {key: result} unless key is NULL. */
enum MHD_Result coll_http_read(struct req *rq, const char *url, coll_read_fn fn, const char *key);

/* Does the request ask for the page shape {items, next, total} (it has
 * cursor, sort, order, band or q)? Without them a list answers its old
 * shape {<list>: [...]} with limit/offset (docs/decisions.md "keyset"). */
bool coll_http_paged(struct req *rq);
/* The request's paging arguments (sort, order, cursor, limit, band, q,
 * state, customer: a name or id, resolved into cid) into page. 0, -EINVAL
 * (s->err), -errno. */
int coll_http_page(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
		   struct coll_page *page, char cid[COLL_ID_SIZE]);
/* {items, next (null on the last page), total (null after the first)};
 * consumes items. */
json_t *coll_http_page_answer(json_t *items, const struct coll_page *page);
typedef int (*coll_page_fn)(struct coll_store *s, const struct coll_scope *scope,
			    struct coll_page *page, int64_t now, json_t **ret);
typedef int (*coll_list_fn)(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
			    int64_t now, json_t **ret);
/* A list endpoint: the page shape through page_fn when coll_http_paged,
 * else {key: list_fn's list}. Use with coll_http_read(..., key NULL). */
int coll_http_list(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
		   const char *key, coll_page_fn page_fn, coll_list_fn list_fn, int64_t now,
		   json_t **ret);

/* Reports (api_reports.c): called once the headers are in, before a byte
 * of the body is read: refuses a request whose X-Erpulse-Agent is missing,
 * unknown or revoked. 0 (rq->agent set), or 1 with an answer queued (*ret). */
int coll_api_reports_admit(struct req *rq, enum MHD_Result *ret);

/* ---- handlers (api_*.c), registered in routes.c ------------------------ */

enum MHD_Result coll_api_reports(struct req *rq, const char *url);
enum MHD_Result coll_api_enroll(struct req *rq, const char *url);
enum MHD_Result coll_api_healthz(struct req *rq, const char *url);
enum MHD_Result coll_api_metrics(struct req *rq, const char *url);
enum MHD_Result coll_api_customers(struct req *rq, const char *url);
enum MHD_Result coll_api_hosts(struct req *rq, const char *url);
enum MHD_Result coll_api_host(struct req *rq, const char *url);
enum MHD_Result coll_api_alerts(struct req *rq, const char *url);
enum MHD_Result coll_api_adoption(struct req *rq, const char *url);
enum MHD_Result coll_api_dashboard(struct req *rq, const char *url);
/* GET /api/v1/dashboard: the dashboard's first view, bounded (api_dashboard.c) */
enum MHD_Result coll_api_dashboard_data(struct req *rq, const char *url);
enum MHD_Result coll_api_incidents(struct req *rq, const char *url);
enum MHD_Result coll_api_incident(struct req *rq, const char *url);
enum MHD_Result coll_api_incident_action(struct req *rq, const char *url);
/* "2026-12" (NULL: now's month) -> [first second of the month, of the
 * next) in UTC. 0 or -EINVAL. */
int coll_month_range(const char *m, int64_t now, int64_t *from, int64_t *to);
enum MHD_Result coll_api_sla(struct req *rq, const char *url);
/* Is url an incident action (POST /api/v1/incidents/{id}/{action})? */
bool coll_api_incident_action_url(const char *url);
enum MHD_Result coll_api_windows(struct req *rq, const char *url);
enum MHD_Result coll_api_window_approve(struct req *rq, const char *url);
/* Is url POST /api/v1/maintenance/{id}/approve? */
bool coll_api_window_approve_url(const char *url);
/* the monthly reports of a customer (api_custreports.c) */
enum MHD_Result coll_api_custreports(struct req *rq, const char *url);
bool coll_custreports_url(const char *url);
/* history for charts (api_series.c); coll_series_url matches its URLs */
enum MHD_Result coll_api_series(struct req *rq, const char *url);
bool coll_series_url(const char *url);

#define COLL_SERIES_MAX_NAMES 32
#define COLL_SERIES_MAX_SPAN  (400 * 86400)
struct coll_series_args {
	struct coll_series_query q; /* names point into buf */
	char buf[8192];
	const char *names[COLL_SERIES_MAX_NAMES];
};
/* The history API's arguments (each NULL when absent) -> a query: from < to
 * at most COLL_SERIES_MAX_SPAN apart (default the last 7 days before now),
 * the step raised by coll_series_step, up to COLL_SERIES_MAX_NAMES non-empty
 * comma-separated names. 0, or -EINVAL with *ret_why (static text). */
int coll_series_args(const char *names, const char *from, const char *to, const char *step,
		     int64_t now, struct coll_series_args *ret, const char **ret_why);

/* ---- threads ------------------------------------------------------------ */

struct batcher_arg {
	struct coll_server *srv;
	struct coll_store *w;
};
/* One batcher per writer connection (api_reports.c); arg: a malloc'd
 * struct batcher_arg, freed by the thread. */
void *coll_http_batcher(void *arg);
/* A checker (api_reports.c), [server] ingest_threads of them; arg: the
 * server. */
/* The checkers when ingest_threads is 0: one per CPU (ncpu; 2 when not
 * known), but one CPU is left to SQLite's single batcher. */
size_t coll_http_default_checkers(long ncpu, bool sqlite);
void *coll_http_checker(void *arg);
/* The syncer (api_reports.c), when srv->wal is set; arg: the server. */
void *coll_http_syncer(void *arg);
/* Cuts connections over the total request deadline, or without complete
 * request headers past the header deadline (server.c; maint.c calls it). */
void coll_http_reap(struct coll_server *srv);
/* The maintenance thread (maint.c); arg: the server. */
void *coll_http_maint(void *arg);

#endif
