/* erpulse-agent internals shared by the files of agent/: settings, probe
 * runner, state, spool, push, enrollment and the daemon loop. docs/agent.md
 * describes the behaviour; this header the seams between the pieces. */
#ifndef ERPULSE_AGENT_H
#define ERPULSE_AGENT_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "erpulse/config.h"
#include "erpulse/crypto.h"
#include "erpulse/log.h"
#include "erpulse/probe.h"
#include "erpulse/util.h"

#ifndef EP_SYSCONFDIR
#define EP_SYSCONFDIR "/etc"
#endif
#define AGENT_DEFAULT_CONFIG EP_SYSCONFDIR "/erpulse/agent.conf"

/* Exit codes (docs/agent.md, "Exit codes"). */
enum agent_exit {
	AGENT_EXIT_OK = 0,
	AGENT_EXIT_FAILURE = 1,      /* runtime failure (message says what) */
	AGENT_EXIT_USAGE = 2,        /* bad command line */
	AGENT_EXIT_CONFIG = 3,       /* configuration missing or invalid */
	AGENT_EXIT_NOT_ENROLLED = 4, /* no agent id / key: run enroll */
	AGENT_EXIT_UNDELIVERED = 5,  /* report spooled, but the collector did not take it */
	AGENT_EXIT_REFUSED = 6,      /* the collector refused (token, 4xx): will not work as is */
};

/* One configured probe instance: a section [type] or [type.instance], or a
 * probe enabled by default without a section (section NULL). */
struct agent_instance {
	const struct ep_probe *probe;
	const struct ep_config_section *section; /* borrowed from agent_conf.cfg */
	char name[128];                          /* "postgres.erp", "disk" */
};

/* The [agent] section plus the probe instances, validated. */
struct agent_conf {
	struct ep_config *cfg;
	char *path;
	const char *collector; /* may be NULL: the enrolled URL from the state is used */
	int64_t interval_s;
	int64_t jitter_s;
	const char *state_dir;
	int64_t spool_max_bytes;
	int64_t spool_max_age_s;
	const char *ca_file;
	const char *pinned_pubkey;
	const char *proxy;
	int64_t probe_timeout_s;
	enum ep_log_level log_level;
	bool allow_root;
	const char *user;
	const char *root; /* filesystem root given to probes ("/") */
	size_t n_instances;
	struct agent_instance *instances;
};

extern const struct ep_option agent_options[];

/* Loads and validates path: the [agent] section and every probe section
 * against its probe's options table. Every problem found is appended to
 * problems (one line each) and the function returns -EINVAL; 0 with *ret
 * owned by the caller (agent_conf_free), or -errno (file unreadable). */
int agent_conf_load(const char *path, struct agent_conf **ret, struct ep_buf *problems);
void agent_conf_free(struct agent_conf *c);

/* ---- state (state_dir/state, JSON, atomic writes) ------------------------ */

struct agent_state {
	char agent_id[80];
	char customer_id[128];
	char collector[1024];
	int64_t next_seq;      /* the next seq to use; persisted before use */
	int64_t dropped;       /* dropped reports no accepted report has announced */
	int64_t dropped_total; /* every report ever dropped (only grows) */
	json_t *drop_marks;    /* [[seq, dropped_total when seq was built], ...] */
	int64_t last_push_at;  /* wall clock seconds of the last delivery attempt */
	char last_push[512];   /* "accepted seq 42", "HTTP 401 unauthorized: ..." */
	int64_t last_ok_at;    /* last 2xx */
	json_t *probes;        /* object: instance -> {status, error, at} */
};

/* Loads state_dir/state; a missing file gives a fresh state (next_seq 1).
 * -EINVAL with err for a corrupt file (nothing left to free on failure).
 * next_seq and dropped are kept within AGENT_SEQ_MAX. */
int agent_state_load(const char *state_dir, struct agent_state *ret, char *err, size_t errlen);
int agent_state_save(const char *state_dir, const struct agent_state *st);
void agent_state_free(struct agent_state *st);
bool agent_state_enrolled(const struct agent_state *st);

/* Dropped reports (docs/agent.md, "Dropped reports"): every report carries
 * st->dropped, the drops no report accepted by the collector has announced
 * yet. A drop adds to it; building report seq records the total it saw; the
 * collector accepting seq takes away what seq announced, so drops that
 * happened after seq was built are still announced by the next reports. */
void agent_state_count_drops(struct agent_state *st, int64_t n);
/* Records that report seq was built now (before it is persisted). 0 or -ENOMEM. */
int agent_state_report_built(struct agent_state *st, int64_t seq);
/* The collector accepted report seq (or answered duplicate). */
void agent_state_report_accepted(struct agent_state *st, int64_t seq);
/* Forgets which report saw which total (seqs renumbered or restarted):
 * the drops stay announced until a report built from now on is accepted. */
void agent_state_forget_builds(struct agent_state *st);

/* Per-instance probe state (result->state) in state_dir/probes/NAME.json. */
json_t *agent_probe_state_load(const char *state_dir, const char *instance);
int agent_probe_state_save(const char *state_dir, const char *instance, const json_t *state);

/* ---- probe runner (forked workers) ---------------------------------------- */

struct agent_probe_outcome {
	char name[128];
	enum ep_probe_status status;
	char error[1024];
	char target[256];
	int64_t duration_ms;
	json_t *metrics;  /* owned */
	json_t *findings; /* owned */
	json_t *state;    /* owned; NULL when the worker did not return one */
};

/* Called often (at least every 200 ms) while waiting, to feed the watchdog;
 * rate-limits itself. Returns true to abort. */
typedef bool (*agent_tick_fn)(void *userdata);

enum agent_run_mode {
	AGENT_RUN_MEASURE, /* init, run, fini */
	AGENT_RUN_FRESH,   /* the same, carrying no earlier figure (once --fresh) */
	AGENT_RUN_CHECK,   /* init, check, fini (check-config) */
};

/* Runs every instance in its own forked worker, all in parallel, each cut off
 * (SIGKILL of its process group) timeout_ms after start. ret has n entries,
 * in the order of instances; the caller frees them (agent_outcomes_free).
 * Returns 0, -ECANCELED when tick asked to stop (workers killed), -errno. */
int agent_run_probes(const struct agent_instance *instances, size_t n, const char *root,
		     const char *state_dir, int64_t timeout_ms, enum agent_run_mode mode,
		     agent_tick_fn tick, void *userdata, struct agent_probe_outcome **ret);
void agent_outcomes_free(struct agent_probe_outcome *o, size_t n);

/* ---- spool (state_dir/spool) ---------------------------------------------- */

/* A spooled report is "<20-digit seq>.report": a header line with the base64
 * signature and the body length, then the exact body (docs/agent.md, "Spool"). */
struct agent_spool_stats {
	int64_t count;
	int64_t bytes;
	int64_t oldest_seq;
};

#define AGENT_SPOOL_MAX_FILE (EP_REPORT_MAX_BYTES + 256)

int agent_spool_dir(const char *state_dir, char *buf, size_t size);
int agent_spool_path(const char *spool_dir, int64_t seq, char *buf, size_t size);
/* Writes the signed report durably (temp, fsync, rename, dir fsync). 0 or -errno. */
int agent_spool_write(const char *spool_dir, int64_t seq, const char *sig_b64, const char *body,
		      size_t len);
/* Reads and checks one spooled file: -EBADMSG when corrupt or truncated. On
 * success *ret_body (malloc'd, NUL-terminated, the caller's) and sig_b64. */
int agent_spool_read(const char *path, char sig_b64[EP_SIGNATURE_B64_SIZE], char **ret_body,
		     size_t *ret_len);
/* The (at most max) lowest seqs in the spool, ascending, in one streaming pass
 * over the directory. Temp files left by a crash (older than a minute) are
 * removed on the way. 0 or -errno; a missing directory is an empty spool. */
int agent_spool_oldest(const char *spool_dir, int64_t *seqs, size_t max, size_t *ret_n);
/* The same for the seqs above after, changing nothing (export reads a spool
 * the daemon may be delivering from). */
int agent_spool_after(const char *spool_dir, int64_t after, int64_t *seqs, size_t max,
		      size_t *ret_n);
/* Count and bytes, streaming. */
int agent_spool_stats(const char *spool_dir, struct agent_spool_stats *ret);
/* Moves a file to spool/quarantine (kept for a human, never sent again). */
int agent_spool_quarantine(const char *spool_dir, const char *path);
/* Drops the oldest reports until the spool holds at most max_bytes and none
 * is older than max_age_s (0 = no age limit). *ret_dropped gets the number of
 * reports dropped (the drops they announced stay counted in the state). */
int agent_spool_enforce(const char *spool_dir, int64_t max_bytes, int64_t max_age_s, int64_t now,
			int64_t *ret_dropped);

/* ---- HTTP (libcurl) ---------------------------------------------------------- */

struct agent_http_opts {
	const char *ca_file;
	const char *pinned_pubkey;
	const char *proxy;
	volatile sig_atomic_t *stop; /* transfer aborted when set */
	agent_tick_fn tick;
	void *userdata;
};

enum agent_http_class {
	AGENT_HTTP_OK,      /* got an HTTP answer (any status) */
	AGENT_HTTP_BAD_URL, /* malformed or not https */
	AGENT_HTTP_DNS,     /* host name not resolved */
	AGENT_HTTP_REFUSED, /* connection refused / unreachable */
	AGENT_HTTP_TLS,     /* certificate or pin verification failed */
	AGENT_HTTP_TIMEOUT, /* connect / total / low-speed timeout */
	AGENT_HTTP_NETWORK, /* any other transport error */
	AGENT_HTTP_ABORTED, /* stop flag */
};

struct agent_http_result {
	enum agent_http_class cls;
	long status;           /* HTTP status when cls == AGENT_HTTP_OK */
	int64_t retry_after_s; /* -1 when absent */
	int64_t date;          /* the answer's Date header (epoch seconds), -1 when absent */
	char error[512];       /* transport failure, with curl's reason */
	struct ep_buf body;    /* the answer (capped); ep_buf_free it */
};

/* POSTs body (JSON) to url with extra headers (NULL-terminated "Name: value"
 * strings). Returns 0 with *res filled in (res->body freed by the caller), or
 * -ENOMEM. Transport failures are 0 with res->cls != AGENT_HTTP_OK. */
int agent_http_post(const char *url, const char *const *headers, const char *body, size_t len,
		    const struct agent_http_opts *opts, struct agent_http_result *res);
/* GETs url (check-config asks the collector's /healthz), same rules. */
int agent_http_get(const char *url, const struct agent_http_opts *opts,
		   struct agent_http_result *res);
const char *agent_http_class_name(enum agent_http_class c);
int agent_http_global_init(void);

/* Exponential backoff with full jitter: a random delay in [0, min(cap,
 * base * 2^attempt)], but never less than retry_after_s when that is >= 0
 * (itself capped at one hour). Seconds. */
int64_t agent_backoff_s(unsigned attempt, int64_t base_s, int64_t cap_s, int64_t retry_after_s);

/* ---- delivery ------------------------------------------------------------- */

enum agent_deliver_result {
	AGENT_DELIVER_EMPTY,   /* spool empty: everything delivered */
	AGENT_DELIVER_RETRY,   /* temporary failure: back off and try again */
	AGENT_DELIVER_BLOCKED, /* 401/403: will not work as is; try next cycle */
	AGENT_DELIVER_MORE,    /* time budget used up with reports left: call again */
};

struct agent_ctx {
	struct agent_conf *conf;
	struct agent_state st;
	struct ep_keypair key;
	bool have_key;
	char spool_dir[4096];
	volatile sig_atomic_t *stop;
	agent_tick_fn tick;
	void *userdata;
	int64_t retry_after_s; /* from the last answer, -1 if none */
	int refused;           /* reports quarantined after a 400/413 by agent_deliver */
	int64_t budget_ms;     /* agent_deliver returns MORE after this long (0 = no limit) */
	bool fresh;            /* once --fresh: probes measure again what they would carry */
	char problem[1024];    /* the last delivery problem, for STATUS= and logs */
	/* What became of one report (once says it): agent_deliver sets watch
	 * when it delivers watch_seq, follows it through a resynchronisation,
	 * and leaves AGENT_WATCH_NOT_SENT when it stopped before reaching it. */
	int64_t watch_seq; /* 0 = none */
	enum agent_watch {
		AGENT_WATCH_NOT_SENT,
		AGENT_WATCH_ACCEPTED,
		AGENT_WATCH_DUPLICATE,
		AGENT_WATCH_REFUSED, /* 400/413: quarantined */
	} watch;
	char watch_reason[1024]; /* with AGENT_WATCH_REFUSED: the collector's answer */
	int delivered;           /* reports taken by the collector (accepted or duplicate) */
};

/* The URL reports and enrollment go to: the config's collector, else the
 * enrolled one. NULL when neither is set. */
const char *agent_collector_url(const struct agent_ctx *a);
/* base + path without a doubled slash. 0 or -ENOSPC. */
int agent_endpoint(const char *base, const char *path, char *buf, size_t size);
/* Records a delivery problem (a->problem and the state's last_push). */
void agent_set_problem(struct agent_ctx *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "HTTP 401 unauthorized: message" from an error answer. */
void agent_describe_answer(const struct agent_http_result *res, char *buf, size_t size);
/* The most a seq or a count of dropped reports read from outside (the
 * collector's last_seq, the state file, a spooled report) may be: far beyond
 * any real agent, far enough below INT64_MAX that adding to it never
 * overflows. */
#define AGENT_SEQ_MAX (INT64_MAX / 8)
/* What a 2xx answer to a report says (docs/protocol.md, "Reports"). */
struct agent_ack {
	bool accepted;    /* "status": "accepted" */
	bool duplicate;   /* "status": "duplicate" */
	bool resync;      /* a duplicate whose integer last_seq is in [next_seq, AGENT_SEQ_MAX] */
	bool untrusted;   /* a duplicate whose last_seq is beyond AGENT_SEQ_MAX (a far-future
			     seq from a clone): the report may not be stored */
	int64_t seq;      /* the answer's "seq", -1 when absent */
	int64_t last_seq; /* with resync: the collector's last accepted seq */
};
/* A 409 answer (docs/protocol.md "Sequence numbers"): "seq_conflict" (the
 * seq is taken by another body) or "seq_too_far"; last_seq: the collector's,
 * -1 when absent or beyond AGENT_SEQ_MAX. false when body is not one. */
bool agent_conflict_parse(const char *body, size_t len, char *code, size_t code_size,
			  int64_t *ret_last_seq);
/* Parses the answer body (len bytes, need not be NUL-terminated; NULL = empty). */
void agent_ack_parse(const char *body, size_t len, int64_t next_seq, struct agent_ack *ret);
/* Delivers the spool oldest first, one at a time, until empty or a failure. */
enum agent_deliver_result agent_deliver(struct agent_ctx *a);

/* One cycle: probes, report, seq, sign, spool. With print_only the exact
 * body goes to *ret_body and nothing is written. only: run just the
 * instances of that name or probe type (NULL = all). 0 or -errno (logged). */
int agent_cycle(struct agent_ctx *a, bool print_only, const char *only, char **ret_body);

/* Enrollment (agent/enroll.c). Prints a one-line message to stderr on
 * failure; returns an agent_exit code. */
int agent_enroll(struct agent_conf *conf, const char *url, const char *token, bool force);
/* The 200/201 answer to an enrollment (body: len bytes, need not be
 * NUL-terminated; NULL = empty): agent_id (shorter than aid_size, no '/', no
 * control character) and customer_id strings, copied (customer_id
 * truncated to cid_size). 0, or -EBADMSG. */
int agent_enroll_answer_parse(const char *body, size_t len, char *agent_id, size_t aid_size,
			      char *customer_id, size_t cid_size);
/* The one-line message (no control characters) for a refused enrollment
 * from the error answer's status and body; returns AGENT_EXIT_FAILURE for a
 * 429 / 5xx worth retrying, else AGENT_EXIT_REFUSED. */
int agent_enroll_refusal(long status, const char *body, size_t len, char *msg, size_t size);

/* When the cycle after one starting at from (monotonic ms) starts: interval
 * spread uniformly over +-jitter/2, never sooner than 1 s. */
int64_t agent_next_cycle_ms(const struct agent_conf *c, int64_t from);

/* The daemon (agent/daemon.c). Returns an agent_exit code. */
int agent_daemon(const char *config_path);

/* Creates state_dir (0750) when missing and takes the exclusive lock
 * state_dir/lock (one agent per state directory). The descriptor (held until
 * exit) or -EBUSY / -errno with err. */
int agent_lock_state(const char *state_dir, char *err, size_t errlen);

/* ---- status and once's verdict (agent/status.c) --------------------------- */

/* What the state's last_push says about the last delivery attempt. */
enum agent_push_class {
	AGENT_PUSH_NONE,    /* never tried */
	AGENT_PUSH_OK,      /* accepted or duplicate */
	AGENT_PUSH_FAILED,  /* transport failure, 429/5xx: reports wait in the spool */
	AGENT_PUSH_REFUSED, /* 401/403 (agent refused) or 400/413 (report quarantined) */
};
enum agent_push_class agent_last_push_class(const struct agent_state *st);
/* Prints `status` (text or --json) to stdout; returns the exit code: 0, 4 not
 * enrolled, 5 the last delivery failed, 6 it was refused, 1 state unreadable. */
int agent_status(const struct agent_conf *c, bool json);
/* One line on stdout: what became of a->watch_seq after agent_deliver
 * (accepted / duplicate / refused and why / not sent and why). */
void agent_once_say(const struct agent_ctx *a, const char *url);

/* check-config (agent/check.c): prints every problem and warning, returns
 * 0 (warnings allowed), 3 (a problem), or 5 when the only problems are that
 * the collector cannot be reached. offline: the collector is not contacted. */
int agent_check_config(const struct agent_conf *c, bool offline);

/* export -o FILE (agent/export.c): writes the spooled signed reports,
 * oldest first, into one bundle (docs/protocol.md, "Bundles"), at most
 * max_bytes of it (0 = no limit); remove: delete from the spool the reports
 * written, once the bundle is durable. Returns an agent_exit code. */
int agent_export(const struct agent_conf *c, const char *out_path, bool remove, int64_t max_bytes);

/* Drops root to conf->user unless allow_root. 0 or -errno with err. */
int agent_drop_privileges(const struct agent_conf *conf, char *err, size_t errlen);

#endif
