/* The collector's store (docs/store.md): one interface over SQLite and
 * PostgreSQL (collector/db.h). A struct coll_store is one connection; the
 * server keeps a small pool of them. Errors: 0 or -errno; -ENOENT not found,
 * -EEXIST already there, -ETIMEDOUT/-ECONNRESET/-EBUSY/-EIO store unavailable
 * (503 to clients). Read functions take a struct coll_scope that is required:
 * customer isolation is enforced here, in the queries, not in the handlers. */
#ifndef COLL_STORE_H
#define COLL_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "collector/store/db.h"
#include "erpulse/crypto.h"

#define COLL_ID_SIZE        33 /* 32 hex + NUL (agents); customers and users use 16 hex */
#define COLL_SCHEMA_VERSION 14

struct coll_store {
	struct coll_db *db;
	uint64_t outbox_added; /* rows coll_store_outbox_add wrote (committed or not) */
	/* batches run again per report with savepoints (an item failed after
	 * the batch may have written; coll_store_ingest_batch) */
	uint64_t ingest_reruns;
	/* raw report bodies: every one for this many days, then one per agent
	 * and UTC day until the retention's end (0 = every one until then) */
	int64_t keep_raw_days;
	/* raw samples: this many days, then rolled up by hour (0 = as long as
	 * the retention's keep_raw_s; store/partitions.c) */
	int64_t keep_samples_days;
	/* PostgreSQL ingest: the writes of the round being run (store/reports.c,
	 * coll_store_round_score), NULL outside one */
	struct coll_round_writes *round;
	char err[512];
};

/* Who is reading: customer_id NULL = every customer (vendor roles). limit
 * and offset page the host and alert lists (limit 0 = the default: 100000
 * hosts, 1000 alerts). */
struct coll_scope {
	const char *customer_id;
	int64_t limit, offset;
};

int coll_store_open(const char *url, const struct coll_db_opts *opts, struct coll_store **ret,
		    char *err, size_t errlen);
void coll_store_close(struct coll_store *s);
/* Applies every migration newer than the database's version, each in its own
 * transaction (PostgreSQL: under pg_advisory_lock so that several collectors
 * starting together migrate once). 0 or -errno with s->err. */
int coll_store_migrate(struct coll_store *s);
/* coll_store_migrate up to version (tests build a store of an older
 * schema with it). */
int coll_store_migrate_to(struct coll_store *s, int version);
/* Current schema version (0 = empty database). */
int coll_store_schema_version(struct coll_store *s, int *ret);
/* A trivial query: is the store reachable? */
int coll_store_ping(struct coll_store *s);
/* Bound the next calls (absolute ep_mono_ms() deadline, INT64_MAX = none). */
void coll_store_set_deadline(struct coll_store *s, int64_t at_ms);
/* True for errors meaning "store unavailable, try later" (503). */
bool coll_store_unavailable(int r);

/* ---- customers, tokens, users ---------------------------------------- */

int coll_store_customer_add(struct coll_store *s, const char *name, int64_t now,
			    char ret_id[COLL_ID_SIZE]);
/* name or id -> id. -ENOENT when neither matches. */
int coll_store_customer_find(struct coll_store *s, const char *name_or_id,
			     char ret_id[COLL_ID_SIZE]);
/* [{id, name, created_at, hosts, score, band, worst_host}] */
int coll_store_customers(struct coll_store *s, const struct coll_scope *scope, json_t **ret);

/* Stores an enrollment token's hash (ep_hash_secret). uses >= 1. */
int coll_store_token_add(struct coll_store *s, const char *customer_id, const char *hash,
			 int64_t uses, int64_t expires_at, int64_t now);

/* API roles (docs/incidents.md, "Roles"). Vendor-side roles see every
 * customer; the customer roles see their own customer only. */
enum coll_role {
	COLL_ROLE_VENDOR,         /* "vendor": vendor admin */
	COLL_ROLE_VIEWER,         /* "viewer": customer viewer */
	COLL_ROLE_SUPPORT,        /* "support": acts on incidents */
	COLL_ROLE_VENDOR_VIEWER,  /* "vendor_viewer": reads everything */
	COLL_ROLE_CUSTOMER_ADMIN, /* "customer_admin": comments, approves windows */
	COLL_ROLE_COUNT,
};
const char *coll_role_name(enum coll_role r);
int coll_role_parse(const char *s, enum coll_role *ret); /* 0 or -EINVAL */
bool coll_role_sees_all(enum coll_role r);
struct coll_user {
	char id[COLL_ID_SIZE];
	char name[256];
	enum coll_role role;
	char customer_id[COLL_ID_SIZE]; /* "" for vendor */
};
int coll_store_user_add(struct coll_store *s, const char *name, enum coll_role role,
			const char *customer_id, const char *token_hash, int64_t now);
/* API bearer token hash -> user. -ENOENT when unknown. */
int coll_store_user_by_token(struct coll_store *s, const char *token_hash, struct coll_user *ret);

/* ---- lifecycle (lifecycle.c) ----------------------------------------- */

/* [{id, name, role, customer, created_at}] */
int coll_store_users(struct coll_store *s, json_t **ret);
/* Deletes the user (its token stops working). -ENOENT when unknown. */
int coll_store_user_revoke(struct coll_store *s, const char *name_or_id);
/* Replaces the user's token hash. -ENOENT when unknown. */
int coll_store_user_rotate(struct coll_store *s, const char *name_or_id, const char *token_hash);
/* [{id (the hash's first 12 hex digits), customer, uses_left, expires_at,
 *   created_at, state: valid | used_up | expired}], newest first */
int coll_store_tokens(struct coll_store *s, int64_t now, json_t **ret);
/* id: 8-12 hex digits of the hash. -ENOENT, -EEXIST (ambiguous), -EINVAL. */
int coll_store_token_revoke(struct coll_store *s, const char *id, int64_t now);
/* A new token (new_hash) for the same customer, uses and expiry (7 days
 * when past); the old one is used up. Same errors as revoke. */
int coll_store_token_rotate(struct coll_store *s, const char *id, const char *new_hash,
			    int64_t now);
int coll_store_customer_rename(struct coll_store *s, const char *name_or_id, const char *name);
int coll_store_agent_production(struct coll_store *s, const char *id, bool production);
/* "" clears it. */
int coll_store_agent_label(struct coll_store *s, const char *id, const char *label);
/* Archived: revoked as well (it reports no more), kept for its history. */
int coll_store_agent_archive(struct coll_store *s, const char *id, int64_t now);
/* The customer, all its hosts (archived and revoked) and its tokens (used up). */
int coll_store_customer_archive(struct coll_store *s, const char *name_or_id, int64_t now);

/* ---- agents ---------------------------------------------------------- */

struct coll_enroll {
	const char *token_hash;
	const char *hostname;
	const char *public_key_b64;
	const char *agent_version;
	int64_t now;
	int64_t interval_s;
};
/* Consumes one use of the token and registers the agent, atomically.
 * 0, -ENOENT (unknown token), -EKEYEXPIRED (expired), -EUSERS (used up). */
int coll_store_enroll(struct coll_store *s, const struct coll_enroll *e,
		      char ret_agent_id[COLL_ID_SIZE], char ret_customer_id[COLL_ID_SIZE]);

struct coll_agent {
	char id[COLL_ID_SIZE];
	char customer_id[COLL_ID_SIZE];
	unsigned char public_key[EP_PUBLIC_KEY_BYTES];
	bool revoked;
	int64_t last_seq;
};
/* -ENOENT when unknown. */
int coll_store_agent_get(struct coll_store *s, const char *id, struct coll_agent *ret);
int coll_store_agent_revoke(struct coll_store *s, const char *id, int64_t now);
/* [{id, customer_id, customer, hostname, agent_version, enrolled_at, revoked,
 *   last_seq, last_report_at, state, score, band, seq_rewinds, production,
 *   label, archived_at}] */
int coll_store_agents(struct coll_store *s, const struct coll_scope *scope, int64_t now,
		      json_t **ret);
/* Agents counted by state: active, silent, revoked, never_reported. */
int coll_store_agent_states(struct coll_store *s, int64_t now, int64_t counts[4]);

/* ---- ingest ---------------------------------------------------------- */

/* How far ahead of the last accepted seq a report may be (docs/protocol.md
 * "Sequence numbers"); further is a conflict, never stored. */
#define COLL_SEQ_MAX_JUMP     1000000
#define COLL_SEQ_MAX_JUMP_SQL "1000000"

enum coll_ingest_result {
	COLL_INGEST_PENDING = 0,
	COLL_INGEST_ACCEPTED,
	COLL_INGEST_DUPLICATE,
	COLL_INGEST_FAILED,
	COLL_INGEST_CONFLICT, /* error: -ERANGE seq too far ahead, -EEXIST seq taken */
};

struct coll_ingest {
	/* in: a verified, parsed, validated report */
	struct coll_agent agent;
	json_t *report; /* borrowed */
	const char *body;
	size_t len;
	int64_t seq;
	int64_t received_at; /* epoch seconds */
	/* optional: coll_store_findings_json(report), computed before the batch
	 * (off the write lock); NULL = computed inside coll_store_ingest */
	const char *findings_json;
	/* with findings_json: coll_text_hash(findings_json) when has_findings_hash
	 * (also off the write lock; a ~12 KB text hashed per report) */
	int64_t findings_hash;
	bool has_findings_hash;
	/* optional: the body as stored (coll_codec_compress), compressed before
	 * the batch (off the write lock); NULL = compressed by the store */
	const void *stored;
	size_t stored_len;
	/* out */
	enum coll_ingest_result result;
	int64_t last_seq;    /* for duplicates and conflicts */
	int64_t open_alerts; /* the agent's open alerts before this report */
	int error;           /* -errno when FAILED */
};

/* The hook's per-report writes that wait for the end of the round (PostgreSQL:
 * coll_store_ingest_batch runs a batch in rounds, each agent at most once per
 * round) and go with the round's other reports in one statement each: the
 * hourly score row (what coll_store_history_score writes) and the texts of an
 * agent_analysis row that exists (mask: bit 0 score, 1 forecasts, 2 instances;
 * hash/text of the others are ignored). Nothing later in the same round reads
 * them: the next report of the agent is in the next round. -ENOTSUP outside a
 * round (the caller writes them itself), 0, or -ENOMEM. */
int coll_store_round_score(struct coll_store *s, const char *agent_id, int64_t ts, int score,
			   const int categories[5]);
int coll_store_round_analysis(struct coll_store *s, const char *agent_id, unsigned mask,
			      const int64_t hash[3], char *const text[3]);
/* The analysis state of the agent of a report in the round, read for the
 * whole round after its seq gate: one row of (number of the customer's
 * threshold overrides, instances, score_hash, forecasts_hash,
 * instances_hash; NULLs without an agent_analysis row) into *ret, as the
 * analysis reads it alone. -ENOTSUP outside a round (the caller reads it). */
int coll_store_round_state(struct coll_store *s, const char *agent_id, struct coll_db_res *ret);
/* The forecasts' fit state of the agent of a report in the round, read
 * with its analysis state: (fitted_at, sampled_at, state) as
 * "SELECT fitted_at, sampled_at, state FROM forecast_fits WHERE agent_id
 * = ?" returns it (no row without one; state's bytes with their length).
 * The row is what the transaction wrote last (rounds of one agent follow
 * each other). -ENOTSUP outside a round (the caller reads it). */
int coll_store_round_fits(struct coll_store *s, const char *agent_id, struct coll_db_res *ret);

/* What the caller does with each accepted report inside the ingest
 * transaction, after the report and its findings are stored (the analysis
 * registers coll_analysis_run here: samples, score, alerts, outbox rows).
 * 0, or -errno: the item fails. The store never calls into the analysis
 * itself; it only calls the hook it is given. */
typedef int (*coll_ingest_hook)(void *ctx, struct coll_store *s, const struct coll_ingest *it);

/* Stores n reports in one transaction (group commit); one bad report fails
 * alone: the batch runs without savepoints first and, should an item fail
 * after it may have written, is rolled back and run again with a savepoint
 * per item. A revoked agent's item fails with -EPERM. Duplicates (seq <= last) change
 * nothing but the rewind flag. For accepted reports hook (may be NULL) runs
 * with ctx in the same transaction. Returns 0 when the transaction committed
 * (see each item's result) or -errno when it did not (then no item was
 * stored). The ingest path calls coll_store_ingest (analysis/pipeline.h),
 * which passes the analysis as the hook. */
int coll_store_ingest_batch(struct coll_store *s, struct coll_ingest *const *items, size_t n,
			    coll_ingest_hook hook, void *ctx);

/* json_dumps(j, JSON_COMPACT) -- the same text, written by a faster dumper
 * (ingest dumps the findings, score and forecasts of every report).
 * malloc'd, NULL when out of memory. */
char *coll_json_compact(const json_t *j);

/* The same text appended to b with its NUL (b->len counts it), so that
 * several texts can share one buffer; 0, -EINVAL for NULL, -ENOMEM or
 * -E2BIG (b is then partly written). */
struct ep_buf;
int coll_json_compact_append(struct ep_buf *b, const json_t *j);

/* The same text written without a json_t tree (the score and forecasts
 * texts of every report): each coll_jw_* appends to w->b exactly what
 * coll_json_compact writes for the value json_string(s), json_real(v) or
 * json_null(), json_integer(v), json_boolean(v) would make; coll_jw_put
 * appends n bytes of s as they are (punctuation and keys), coll_jw_raw a C
 * string. The first error sticks in w->r and makes the later calls do
 * nothing: -EINVAL where the tree could not have been built (s NULL, or not
 * valid UTF-8: json_string refuses it), -ENOMEM or -E2BIG. */
struct coll_json_writer {
	struct ep_buf *b;
	int r;
};
void coll_jw_put(struct coll_json_writer *w, const char *s, size_t n);
static inline void coll_jw_raw(struct coll_json_writer *w, const char *s)
{
	coll_jw_put(w, s, strlen(s)); /* a literal's length is known when compiled */
}
void coll_jw_str(struct coll_json_writer *w, const char *s);
void coll_jw_str_or_null(struct coll_json_writer *w, const char *s); /* NULL: null */
void coll_jw_real_or_null(struct coll_json_writer *w, double v);     /* not finite: null */
void coll_jw_int(struct coll_json_writer *w, int64_t v);
void coll_jw_bool(struct coll_json_writer *w, bool v);
/* The tree of the text a writer left in b when r (what it answered) is 0,
 * NULL otherwise or when out of memory; b is freed either way. */
json_t *coll_json_text_tree(struct ep_buf *b, int r);

/* A 64-bit hash of text (SipHash-2-4, a fixed key), never 0: what ingest
 * keeps beside a stored text to tell whether a new one differs. */
int64_t coll_text_hash(const char *text);

/* The text stored as an agent's current findings: a JSON array of every
 * finding of report, each with its probe's name added as "probe". malloc'd,
 * NULL when out of memory. */
char *coll_store_findings_json(const json_t *report);

/* Deletes raw reports older than keep_raw_s, rollups older than
 * keep_rollup_s; rolls samples past s->keep_samples_days (or keep_raw_s)
 * up by hour (coll_store_history_retention). Raw report bodies older
 * than s->keep_raw_days go sooner (coll_store_reports_retention). */
int coll_store_retention(struct coll_store *s, int64_t now, int64_t keep_raw_s,
			 int64_t keep_rollup_s);

/* Raw report retention (docs/decisions.md "zstd"): every body of the last
 * raw_days UTC days (whole days past it; 0 = the whole keep_s), one per agent
 * and day (its last) from then until keep_s; PostgreSQL drops day partitions,
 * SQLite deletes in short transactions. Also creates the coming days'
 * partitions. 0 or -errno (message in s->err). */
int coll_store_reports_retention(struct coll_store *s, int64_t now, int64_t raw_days,
				 int64_t keep_s);

/* PostgreSQL: makes the day partitions of the raw reports from yesterday
 * to the day after tomorrow (at start and hourly). No-op for SQLite. 0 or
 * -errno (message in s->err). */
int coll_store_reports_partitions(struct coll_store *s, int64_t now);

/* The stored report (agent_id, seq) as its JSON text, decoded and capped
 * (store/codec.h). *ret: malloc'd. 0; -ENOENT when no longer kept; -EBADMSG
 * or -EFBIG for a corrupt body (message in s->err); -errno. */
int coll_store_report_body(struct coll_store *s, const char *agent_id, int64_t seq, char **ret,
			   size_t *ret_len);
/* Decodes the body column of every row of res in place (codec in column
 * codec_col): the value becomes its JSON text; a corrupt body becomes NULL
 * (and is counted in *ret_bad when not NULL). 0 or -errno. */
int coll_store_decode_bodies(struct coll_store *s, struct coll_db_res *res, size_t body_col,
			     size_t codec_col, size_t *ret_bad);
/* The compression dictionary (store/codec.h): trains one on the latest
 * bodies when the newest is older than a week (or there is none and enough
 * bodies), and makes the newest the process's current one. Hourly, from the
 * maintenance. 0 or -errno. */
int coll_store_codec_maintain(struct coll_store *s, int64_t now);
/* Only the second half of it: the newest dictionary as of now becomes the
 * process's current one (serve, at its start: a restarted collector
 * compresses with the store's dictionary from its first report). 0 or
 * -errno. */
int coll_store_codec_load(struct coll_store *s, int64_t now);

/* ---- time-ordered history (store/partitions.c) ---- */

struct coll_retention_stats {
	size_t partitions_dropped; /* PostgreSQL */
	size_t series_retired;     /* SQLite: sample series rolled up and cut */
	int64_t longest_tx_ms;     /* SQLite: the longest write transaction */
};
/* PostgreSQL: makes the partitions of samples, rollups and score history
 * around now (one period back, three ahead; docs/decisions.md "pgpart").
 * No-op for SQLite. 0 or -errno (message in s->err). */
int coll_store_partitions_maintain(struct coll_store *s, int64_t now);
/* Stores n samples of an agent at ts (series[i] = value[i]; a sample
 * already there is replaced) in as few statements as it can (one for up
 * to 16). Inside the ingest transaction. 0 or -errno. */
int coll_store_samples_add(struct coll_store *s, const char *agent_id, int64_t ts,
			   const char *const *series, const double *value, size_t n);
/* Calls fn once per sample of the agent's series newer than since, as
 * (series name, ts, value) in that order (by name, then ts), until fn returns
 * non-zero. The forecasts' update (analysis). 0, fn's value, or -errno
 * (message in s->err). */
int coll_store_samples_since(struct coll_store *s, const char *agent_id, int64_t since,
			     coll_db_row_fn fn, void *ctx);
/* The retention of samples older than s->keep_samples_days (0: than
 * keep_raw_s; the cut on a whole hour), rolled up by hour first, rollups and score history older
 * than keep_rollup_s: PostgreSQL drops whole partitions once every row in them is past the window
 * (never DELETE scans); SQLite deletes in short transactions. ret_stats may be NULL. 0 or -errno
 * (message in s->err). */
int coll_store_history_retention(struct coll_store *s, int64_t now, int64_t keep_raw_s,
				 int64_t keep_rollup_s, struct coll_retention_stats *ret_stats);

/* ---- read API -------------------------------------------------------- */

/* [{id, customer_id, hostname, last_report_at, score, band, open_alerts, state}]
 * worst first. */
int coll_store_hosts(struct coll_store *s, const struct coll_scope *scope, int64_t now,
		     json_t **ret);
/* {host..., report: <latest raw report>, score: {...}, forecasts: [...],
 *  alerts: [...], findings: [...]}; -ENOENT when missing or out of scope. */
int coll_store_host(struct coll_store *s, const struct coll_scope *scope, const char *id,
		    int64_t now, json_t **ret);
/* [{id, host_id, hostname, customer_id, rule, object, severity, value,
 *   message, opened_at, updated_at, closed_at}] newest first; open_only. */
int coll_store_alerts(struct coll_store *s, const struct coll_scope *scope, bool open_only,
		      json_t **ret);

/* ---- keyset pages (store/paging.c, docs/api.md "Paging") -------------- */

#define COLL_PAGE_DEFAULT 100
#define COLL_PAGE_MAX     1000
#define COLL_CURSOR_MAX   4352 /* a cursor's text, NUL included */

/* One page of a list: the sort (a column of the list's whitelist), the
 * cursor of the previous page, filters (NULL: none). The customer scope
 * (struct coll_scope) applies on top of every filter and every cursor. */
struct coll_page {
	const char *sort;     /* NULL: the list's default */
	const char *order;    /* "asc" | "desc"; NULL: the column's default */
	const char *cursor;   /* the previous answer's next; NULL: the first page */
	int64_t limit;        /* 1..COLL_PAGE_MAX; 0: COLL_PAGE_DEFAULT */
	const char *customer; /* a customer id */
	const char *band;     /* hosts: critical, unknown, at_risk, healthy */
	const char *q;        /* hosts: substring of the hostname or label */
	const char *state;    /* hosts: active, silent, never_reported, revoked, current;
				 alerts: open (default) or all; incidents: as
				 coll_incident_filter */
	/* out */
	char next[COLL_CURSOR_MAX]; /* "" on the last page */
	int64_t total;              /* matching rows on the first page; -1 on later pages */
};
/* Pages of the host, alert and customer lists: items as the lists above.
 * 0, -EINVAL (s->err says why: the sort, the order, the cursor or a
 * filter) or -errno. */
int coll_store_hosts_page(struct coll_store *s, const struct coll_scope *scope, int64_t now,
			  struct coll_page *page, json_t **ret);
int coll_store_alerts_page(struct coll_store *s, const struct coll_scope *scope,
			   struct coll_page *page, json_t **ret);
int coll_store_customers_page(struct coll_store *s, const struct coll_scope *scope,
			      struct coll_page *page, json_t **ret);
/* The dashboard's first view (docs/dashboard.md): {bands: {critical,
 * unknown, at_risk, healthy}, hosts, alerts: {critical, warning}} of the
 * hosts in scope that are not revoked. */
int coll_store_fleet_counts(struct coll_store *s, const struct coll_scope *scope, json_t **ret);

/* ---- history (store/history.c, docs/dashboard.md "History API") ---- */

#define COLL_SERIES_MAX_POINTS  1000 /* points per series, whatever the range */
#define COLL_HISTORY_CATEGORIES 5    /* database, storage, errors, patches, liveness */

struct coll_series_query {
	int64_t from, to, step; /* [from, to) epoch s; step from coll_series_step */
	const char *const *names;
	size_t n_names; /* 0: the host's series names instead of data */
};
/* The step to use: at least step, 60 s and (to - from) / COLL_SERIES_MAX_POINTS. */
int64_t coll_series_step(int64_t from, int64_t to, int64_t step);
/* Records a host's score of a report at ts (one row per hour: its worst
 * score, the latest category scores in the order above). Inside the ingest
 * transaction. */
int coll_store_history_score(struct coll_store *s, const char *agent_id, int64_t ts, int score,
			     const int categories[COLL_HISTORY_CATEGORIES]);
/* Hourly: per customer band counts and score of this hour; deletes history
 * older than keep_s. */
int coll_store_history_maintain(struct coll_store *s, int64_t now, int64_t keep_s);
/* {from, to, step, series: [{name, t: [...], v: [...]}]} of a host; names:
 * "score", "score.<category>", "<kind>:<object>" (samples); with no names
 * {names: [...]} (what the host has). -ENOENT when out of scope. */
int coll_store_host_series(struct coll_store *s, const struct coll_scope *scope, const char *id,
			   const struct coll_series_query *q, json_t **ret);
/* The same for a customer (names: score, healthy, at_risk, critical,
 * unknown, no_score) and for every customer in scope. */
int coll_store_customer_series(struct coll_store *s, const struct coll_scope *scope,
			       const char *customer_id, const struct coll_series_query *q,
			       json_t **ret);
int coll_store_fleet_series(struct coll_store *s, const struct coll_scope *scope,
			    const struct coll_series_query *q, json_t **ret);

/* ---- outbox ---------------------------------------------------------- */

struct coll_outbox_row {
	int64_t id;
	char *channel; /* "webhook" | "email" */
	char *payload; /* JSON text of the notice */
	int attempts;
};
void coll_outbox_rows_free(struct coll_outbox_row *rows, size_t n);
/* Adds one notice for delivery (inside the ingest transaction). */
int coll_store_outbox_add(struct coll_store *s, const char *channel, const char *payload,
			  int64_t now);
/* Claims up to max due rows for lease_s seconds (PostgreSQL: FOR UPDATE SKIP
 * LOCKED; SQLite: one UPDATE under the write lock). *ret malloc'd. */
int coll_store_outbox_claim(struct coll_store *s, const char *worker, int64_t now, int64_t lease_s,
			    size_t max, struct coll_outbox_row **ret, size_t *ret_n);
int coll_store_outbox_sent(struct coll_store *s, int64_t id, const char *worker, int64_t now);
/* Failed attempt: retry at next_at, or give up (dead = true). */
int coll_store_outbox_failed(struct coll_store *s, int64_t id, const char *worker, int64_t next_at,
			     bool dead, const char *error);
/* Rows not yet sent (nor dead). */
int coll_store_outbox_depth(struct coll_store *s, int64_t *ret);

#endif
