/* `erpulse-agent status [--json]` and what `once` says about its report.
 * docs/agent.md ("status", "Exit codes") describes both outputs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent.h"

/* The user-visible texts of this file, in one place (a catalog later). */
static const char *const txt_not_enrolled =
	"no (run: erpulse-agent enroll --collector URL --token TOKEN)";
/* printf formats must be literals (-Wformat-nonliteral): macros, not a table */
#define TXT_NOT_SENT                                                                               \
	"report seq %lld: not sent: %s; kept in the spool (%lld report(s) waiting; the daemon "    \
	"or the next once retries)\n"
#define TXT_ACCEPTED  "report seq %lld: accepted by %s\n"
#define TXT_DUPLICATE "report seq %lld: duplicate: %s had it already (removed from the spool)\n"
#define TXT_REFUSED                                                                                \
	"report seq %lld: refused by %s: %s (moved to %s/quarantine, never sent again)\n"

enum agent_push_class agent_last_push_class(const struct agent_state *st)
{
	if (!st->last_push[0])
		return AGENT_PUSH_NONE;
	if (strncmp(st->last_push, "accepted seq ", 13) == 0 ||
	    strncmp(st->last_push, "duplicate seq ", 14) == 0)
		return AGENT_PUSH_OK;
	/* deliver.c's words for a 401/403 and a 400/413 */
	if (strstr(st->last_push, " refuses this agent: ") ||
	    (strncmp(st->last_push, "report seq ", 11) == 0 &&
	     strstr(st->last_push, " refused by ")))
		return AGENT_PUSH_REFUSED;
	return AGENT_PUSH_FAILED;
}

static const char *const push_class_name[] = {
	[AGENT_PUSH_NONE] = "none",
	[AGENT_PUSH_OK] = "ok",
	[AGENT_PUSH_FAILED] = "failed",
	[AGENT_PUSH_REFUSED] = "refused",
};

void agent_once_say(const struct agent_ctx *a, const char *url)
{
	struct agent_spool_stats s = {0};

	if (a->watch_seq <= 0)
		return;
	switch (a->watch) {
	case AGENT_WATCH_ACCEPTED:
		printf(TXT_ACCEPTED, (long long)a->watch_seq, url ? url : "the collector");
		break;
	case AGENT_WATCH_DUPLICATE:
		printf(TXT_DUPLICATE, (long long)a->watch_seq, url ? url : "the collector");
		break;
	case AGENT_WATCH_REFUSED:
		printf(TXT_REFUSED, (long long)a->watch_seq, url ? url : "the collector",
		       a->watch_reason, a->spool_dir);
		break;
	case AGENT_WATCH_NOT_SENT:
		agent_spool_stats(a->spool_dir, &s);
		printf(TXT_NOT_SENT, (long long)a->watch_seq,
		       a->problem[0] ? a->problem : "delivery stopped before it",
		       (long long)s.count);
		break;
	}
	fflush(stdout);
}

static json_t *time_json(int64_t t)
{
	char buf[32];

	if (t > 0 && ep_time_format((time_t)t, buf, sizeof(buf)) == 0)
		return json_string(buf);
	return json_null();
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static int print_json(const struct agent_conf *c, const struct agent_state *st,
		      const struct agent_spool_stats *s, const struct agent_spool_stats *q,
		      const char *spool, const char *qdir, int rc)
{
	bool enrolled = agent_state_enrolled(st);
	const char *coll = c->collector ? c->collector : st->collector;
	json_t *o = json_pack(
		"{s:s, s:b, s:o, s:o, s:o, s:I, s:{s:s, s:o, s:o}, s:o, s:{s:I, s:I, s:o, s:s}, "
		"s:{s:I, s:s}, s:I, s:O, s:i}",
		"config", c->path, "enrolled", enrolled, "agent_id",
		str_or_null(enrolled ? st->agent_id : NULL), "customer_id",
		str_or_null(enrolled ? st->customer_id : NULL), "collector", str_or_null(coll),
		"next_seq", (json_int_t)st->next_seq, "last_push", "result",
		push_class_name[agent_last_push_class(st)], "message", str_or_null(st->last_push),
		"at", time_json(st->last_push_at), "last_success_at", time_json(st->last_ok_at),
		"spool", "reports", (json_int_t)s->count, "bytes", (json_int_t)s->bytes,
		"oldest_seq", s->count ? json_integer(s->oldest_seq) : json_null(), "dir", spool,
		"quarantine", "reports", (json_int_t)q->count, "dir", qdir, "dropped_unannounced",
		(json_int_t)st->dropped, "probes", st->probes, "exit_code", rc);
	int r;

	if (!o)
		return -ENOMEM;
	r = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(o);
	if (r == 0)
		fputc('\n', stdout);
	return r == 0 ? 0 : -EIO;
}

static void print_time(const char *label, int64_t t)
{
	char buf[32];

	if (t > 0 && ep_time_format((time_t)t, buf, sizeof(buf)) == 0)
		printf("%-14s%s\n", label, buf);
	else
		printf("%-14snever\n", label);
}

static void print_text(const struct agent_conf *c, const struct agent_state *st,
		       const struct agent_spool_stats *s, const struct agent_spool_stats *q,
		       const char *qdir)
{
	const char *key;
	json_t *v;

	printf("%-14s%s\n", "config:", c->path);
	if (agent_state_enrolled(st)) {
		printf("%-14syes: agent %s, customer %s\n", "enrolled:", st->agent_id,
		       st->customer_id);
		printf("%-14s%s\n", "collector:", c->collector ? c->collector : st->collector);
	} else {
		printf("%-14s%s\n", "enrolled:", txt_not_enrolled);
	}
	printf("%-14s%lld\n", "next seq:", (long long)st->next_seq);
	printf("%-14s%s%s\n", "last push:", st->last_push[0] ? st->last_push : "none",
	       agent_last_push_class(st) == AGENT_PUSH_FAILED ||
			       agent_last_push_class(st) == AGENT_PUSH_REFUSED
		       ? " (FAILED)"
		       : "");
	print_time("  at:", st->last_push_at);
	print_time("last success:", st->last_ok_at);
	printf("%-14s%lld report(s), %lld bytes", "spool:", (long long)s->count,
	       (long long)s->bytes);
	if (s->count)
		printf(", oldest seq %lld", (long long)s->oldest_seq);
	printf("\n");
	if (q->count)
		printf("%-14s%lld report(s) in %s\n", "quarantine:", (long long)q->count, qdir);
	printf("%-14s%lld (announced in the next report)\n", "dropped:", (long long)st->dropped);
	printf("probes:\n");
	json_object_foreach(st->probes, key, v)
	{
		const char *status = json_string_value(json_object_get(v, "status"));
		const char *error = json_string_value(json_object_get(v, "error"));
		printf("  %-20s %s%s%s\n", key, status ? status : "?", error && *error ? ": " : "",
		       error && *error ? error : "");
	}
}

int agent_status(const struct agent_conf *c, bool json)
{
	struct agent_state st;
	struct agent_spool_stats s = {0}, q = {0};
	char err[1024], spool[4096], qdir[4096];
	int rc;

	if (agent_state_load(c->state_dir, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "erpulse-agent: %s\n", err);
		return AGENT_EXIT_FAILURE;
	}
	agent_spool_dir(c->state_dir, spool, sizeof(spool));
	agent_spool_stats(spool, &s);
	ep_snprintf(qdir, sizeof(qdir), "%s/quarantine", spool);
	agent_spool_stats(qdir, &q);
	switch (agent_last_push_class(&st)) {
	case AGENT_PUSH_FAILED:
		rc = AGENT_EXIT_UNDELIVERED;
		break;
	case AGENT_PUSH_REFUSED:
		rc = AGENT_EXIT_REFUSED;
		break;
	default:
		rc = AGENT_EXIT_OK;
	}
	if (!agent_state_enrolled(&st))
		rc = AGENT_EXIT_NOT_ENROLLED;
	if (json) {
		if (print_json(c, &st, &s, &q, spool, qdir, rc) < 0)
			rc = AGENT_EXIT_FAILURE;
	} else {
		print_text(c, &st, &s, &q, qdir);
	}
	agent_state_free(&st);
	return rc;
}
