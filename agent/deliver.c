/* Delivery of the spool: oldest first, one report at a time, each removed
 * only after a 2xx (accepted or duplicate). docs/protocol.md gives the
 * answers; docs/agent.md ("Delivery") what the agent does with each. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"

#define BATCH 64

const char *agent_collector_url(const struct agent_ctx *a)
{
	if (a->conf && a->conf->collector)
		return a->conf->collector;
	if (a->st.collector[0])
		return a->st.collector;
	return NULL;
}

int agent_endpoint(const char *base, const char *path, char *buf, size_t size)
{
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	return ep_snprintf(buf, size, "%.*s%s", (int)n, base, path);
}

void agent_set_problem(struct agent_ctx *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->problem, sizeof(a->problem), fmt, ap);
	va_end(ap);
	ep_snprintf(a->st.last_push, sizeof(a->st.last_push), "%s", a->problem);
	a->st.last_push_at = time(NULL);
}

/* "HTTP 401 unauthorized: bad signature" from an error answer. */
void agent_describe_answer(const struct agent_http_result *res, char *buf, size_t size)
{
	json_t *o = json_loadb(res->body.data ? res->body.data : "", res->body.len, 0, NULL);
	json_t *e = json_object_get(o, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	if (code)
		ep_snprintf(buf, size, "HTTP %ld %s%s%s", res->status, code, msg ? ": " : "",
			    msg ? msg : "");
	else
		ep_snprintf(buf, size, "HTTP %ld", res->status);
	json_decref(o);
	/* the text comes from the network and ends up in STATUS= and the log:
	 * no control characters (a newline would forge a notify assignment) */
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

void agent_ack_parse(const char *body, size_t len, int64_t next_seq, struct agent_ack *ret)
{
	json_t *o = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
	const char *status = json_string_value(json_object_get(o, "status"));
	json_t *ls = json_object_get(o, "last_seq");

	json_t *sq = json_object_get(o, "seq");

	memset(ret, 0, sizeof(*ret));
	ret->accepted = status && strcmp(status, "accepted") == 0;
	ret->duplicate = status && strcmp(status, "duplicate") == 0;
	ret->seq = json_is_integer(sq) ? (int64_t)json_integer_value(sq) : -1;
	ret->untrusted =
		ret->duplicate && json_is_integer(ls) && json_integer_value(ls) > AGENT_SEQ_MAX;
	/* the spool is renumbered from last_seq + 1 upwards: a last_seq near
	 * INT64_MAX (no agent gets there) would overflow the counter */
	if (ret->duplicate && json_is_integer(ls) && json_integer_value(ls) >= next_seq &&
	    json_integer_value(ls) <= AGENT_SEQ_MAX) {
		ret->resync = true;
		ret->last_seq = (int64_t)json_integer_value(ls);
	}
	json_decref(o);
}

bool agent_conflict_parse(const char *body, size_t len, char *code, size_t code_size,
			  int64_t *ret_last_seq)
{
	json_t *o = json_loadb(body ? body : "", body ? len : 0, 0, NULL);
	const char *c = json_string_value(json_object_get(json_object_get(o, "error"), "code"));
	json_t *ls = json_object_get(o, "last_seq");
	bool ok = c && (strcmp(c, "seq_conflict") == 0 || strcmp(c, "seq_too_far") == 0);

	if (ok) {
		ep_snprintf(code, code_size, "%s", c);
		*ret_last_seq = json_is_integer(ls) && json_integer_value(ls) >= 0 &&
						json_integer_value(ls) <= AGENT_SEQ_MAX
					? (int64_t)json_integer_value(ls)
					: -1;
	}
	json_decref(o);
	return ok;
}

static int save_state(struct agent_ctx *a)
{
	int r = agent_state_save(a->conf->state_dir, &a->st);
	if (r < 0)
		ep_log_err("cannot save state in '%s': %s", a->conf->state_dir, strerror(-r));
	return r;
}

static void quarantine(struct agent_ctx *a, const char *path, const char *why)
{
	int r = agent_spool_quarantine(a->spool_dir, path);

	if (r < 0) {
		ep_log_err("cannot quarantine '%s' (%s): %s; removing it", path, why, strerror(-r));
		unlink(path);
	} else {
		ep_log_warning("quarantined '%s' in %s/quarantine: %s", path, a->spool_dir, why);
	}
	agent_state_count_drops(&a->st, 1);
	save_state(a);
}

/* Gives spooled report old_seq the next seq (persisted before use) and a
 * fresh signature; an unreadable file is quarantined. 1 when renumbered, 0
 * when quarantined, -errno. */
static int renumber_one(struct agent_ctx *a, int64_t old_seq)
{
	char path[4096], sig[EP_SIGNATURE_B64_SIZE];
	unsigned char raw[EP_SIGNATURE_BYTES];
	char *body = NULL, *nbody = NULL;
	size_t len = 0, nlen = 0;
	json_t *o;
	int64_t seq;
	int r;

	agent_spool_path(a->spool_dir, old_seq, path, sizeof(path));
	r = agent_spool_read(path, sig, &body, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		quarantine(a, path, "unreadable during resynchronisation");
		return 0;
	}
	o = json_loadb(body, len, 0, NULL);
	free(body);
	seq = a->st.next_seq;
	if (!json_is_object(o) || json_object_set_new(o, "seq", json_integer(seq)) < 0 ||
	    !(nbody = ep_report_serialize(o, &nlen))) {
		json_decref(o);
		quarantine(a, path, "not a report");
		return 0;
	}
	json_decref(o);
	a->st.next_seq = seq + 1;
	if (old_seq == a->watch_seq)
		a->watch_seq = seq;
	r = save_state(a); /* seq persisted before it is used */
	if (r < 0) {
		free(nbody);
		return r;
	}
	ep_sign(&a->key, nbody, nlen, raw);
	ep_base64_encode(raw, sizeof(raw), sig, sizeof(sig));
	r = agent_spool_write(a->spool_dir, seq, sig, nbody, nlen);
	free(nbody);
	if (r < 0)
		return r;
	unlink(path);
	return 1;
}

/* After a 409 seq_conflict for report refused_seq (the collector holds
 * another body, or none, under it) with the collector's last accepted seq
 * last_seq: gives that report alone a seq above both last_seq and every seq
 * this agent used, and a fresh signature. The other spooled reports keep
 * theirs: those at or below last_seq may be held by the collector (an import
 * that refused one report of a bundle stored the rest; a snapshot restored
 * with reports already delivered), and delivering them says which
 * (duplicate: removed; 409: this again, for that one); those above it are
 * free. Re-numbering a report the collector holds would store it twice. */
static int resequence(struct agent_ctx *a, int64_t last_seq, int64_t refused_seq)
{
	int64_t first_new;
	int r;

	if (a->st.next_seq <= last_seq)
		a->st.next_seq = last_seq + 1;
	first_new = a->st.next_seq;
	agent_state_forget_builds(&a->st); /* the marks name the old seqs */
	r = renumber_one(a, refused_seq);
	if (r < 0)
		return r;
	ep_log_warning("the collector holds no report seq %lld of this agent with this body and "
		       "has accepted up to seq %lld (an import refused it, or this agent was "
		       "restored from a snapshot or cloned): re-numbered as seq %lld",
		       (long long)refused_seq, (long long)last_seq, (long long)first_new);
	return 0;
}

enum agent_deliver_result agent_deliver(struct agent_ctx *a)
{
	const char *base = agent_collector_url(a);
	char url[2048], hdr_agent[160], hdr_sig[160];
	const char *headers[] = {hdr_agent, hdr_sig, NULL};
	struct agent_http_opts opts = {.ca_file = a->conf->ca_file,
				       .pinned_pubkey = a->conf->pinned_pubkey,
				       .proxy = a->conf->proxy,
				       .stop = a->stop,
				       .tick = a->tick,
				       .userdata = a->userdata};
	int64_t seqs[BATCH];
	size_t n;
	int r;

	int64_t until = a->budget_ms > 0 ? ep_mono_ms() + a->budget_ms : INT64_MAX;

	a->retry_after_s = -1;
	if (!base) {
		agent_set_problem(a, "no collector URL: set [agent] collector or enroll");
		return AGENT_DELIVER_BLOCKED;
	}
	agent_endpoint(base, "/api/v1/reports", url, sizeof(url));
	ep_snprintf(hdr_agent, sizeof(hdr_agent), "X-Erpulse-Agent: %s", a->st.agent_id);
	for (;;) {
		r = agent_spool_oldest(a->spool_dir, seqs, BATCH, &n);
		if (r < 0) {
			agent_set_problem(a, "cannot read the spool '%s': %s", a->spool_dir,
					  strerror(-r));
			return AGENT_DELIVER_RETRY;
		}
		if (n == 0)
			return AGENT_DELIVER_EMPTY;
		for (size_t i = 0; i < n; i++) {
			char path[4096], sig[EP_SIGNATURE_B64_SIZE], desc[1024];
			unsigned char raw[EP_SIGNATURE_BYTES];
			struct agent_http_result res;
			char *body = NULL;
			size_t len = 0, rawlen = 0;

			if (a->stop && *a->stop)
				return AGENT_DELIVER_RETRY;
			if (ep_mono_ms() >= until)
				return AGENT_DELIVER_MORE; /* a long backlog never starves the
							      cycles */
			agent_spool_path(a->spool_dir, seqs[i], path, sizeof(path));
			r = agent_spool_read(path, sig, &body, &len);
			if (r == -ENOENT)
				continue;
			if (r == -EBADMSG) {
				quarantine(a, path, "corrupt or truncated spool file");
				continue;
			}
			if (r < 0) {
				agent_set_problem(a, "cannot read '%s': %s", path, strerror(-r));
				return AGENT_DELIVER_RETRY;
			}
			if (ep_base64_decode(sig, strlen(sig), raw, sizeof(raw), &rawlen) < 0 ||
			    rawlen != sizeof(raw) ||
			    ep_verify(a->key.public_key, body, len, raw) < 0) {
				free(body);
				quarantine(a, path, "signature does not match the body (corrupt)");
				continue;
			}
			ep_snprintf(hdr_sig, sizeof(hdr_sig), "X-Erpulse-Signature: %s", sig);
			r = agent_http_post(url, headers, body, len, &opts, &res);
			free(body);
			if (r < 0) {
				agent_set_problem(a, "out of memory while delivering");
				return AGENT_DELIVER_RETRY;
			}
			if (res.cls != AGENT_HTTP_OK) {
				agent_set_problem(a, "cannot deliver to %s: %s: %s", base,
						  agent_http_class_name(res.cls), res.error);
				ep_buf_free(&res.body);
				save_state(a);
				return AGENT_DELIVER_RETRY;
			}
			if (res.status >= 200 && res.status < 300) {
				struct agent_ack ack;
				bool dup;

				agent_ack_parse(res.body.data, res.body.len, a->st.next_seq, &ack);
				dup = ack.duplicate;
				if (ack.untrusted || (!ack.accepted && !dup) ||
				    ack.seq != seqs[i]) {
					/* never remove a report on an answer that does not
					 * prove it was stored */
					agent_set_problem(
						a,
						"%s answered HTTP %ld for seq %lld without "
						"confirming it was stored (report kept in the "
						"spool): if it says the agent's last seq is "
						"beyond reach, a clone sent it: ask the vendor "
						"to revoke agent id %s, then enroll again",
						base, res.status, (long long)seqs[i],
						a->st.agent_id);
					ep_buf_free(&res.body);
					save_state(a);
					return AGENT_DELIVER_BLOCKED;
				}
				if (ack.resync) {
					/* stored (the collector answers duplicate only for the
					 * same bytes), but it has accepted seqs this agent never
					 * made: a snapshot restore or a clone. The counter
					 * follows; the other spooled reports are at or below
					 * its last seq, and their answers say whether it holds
					 * them (409: re-numbered alone) */
					ep_log_warning(
						"the collector has accepted seq %lld already, "
						"beyond this agent's counter (%lld): restored "
						"from a snapshot or cloned? new reports from "
						"seq %lld",
						(long long)ack.last_seq, (long long)a->st.next_seq,
						(long long)ack.last_seq + 1);
					a->st.next_seq = ack.last_seq + 1;
					agent_state_forget_builds(&a->st);
				}
				if (unlink(path) != 0 && errno != ENOENT)
					ep_log_err("cannot remove delivered '%s': %m", path);
				ep_snprintf(a->st.last_push, sizeof(a->st.last_push), "%s seq %lld",
					    dup ? "duplicate" : "accepted", (long long)seqs[i]);
				a->st.last_push_at = a->st.last_ok_at = time(NULL);
				agent_state_report_accepted(&a->st, seqs[i]);
				a->problem[0] = '\0';
				a->delivered++;
				if (seqs[i] == a->watch_seq)
					a->watch =
						dup ? AGENT_WATCH_DUPLICATE : AGENT_WATCH_ACCEPTED;
				ep_log_debug("delivered seq %lld (%s)", (long long)seqs[i],
					     dup ? "duplicate" : "accepted");
				ep_buf_free(&res.body);
				save_state(a);
				continue;
			}
			agent_describe_answer(&res, desc, sizeof(desc));
			a->retry_after_s = res.retry_after_s;
			if (res.status == 409) {
				char code[32] = "";
				int64_t last = -1;
				bool known = agent_conflict_parse(res.body.data, res.body.len, code,
								  sizeof(code), &last);
				ep_buf_free(&res.body);
				if (known && last >= 0 && last >= seqs[i]) {
					/* seq_conflict: the collector's counter is the
					 * truth: this report gets a seq above it, lose
					 * nothing (a seq_too_far cannot be cured this way:
					 * the counter only grows) */
					r = resequence(a, last, seqs[i]);
					if (r < 0) {
						agent_set_problem(a,
								  "cannot re-number the spool: %s",
								  strerror(-r));
						return AGENT_DELIVER_RETRY;
					}
					break; /* rescan: the file names changed */
				}
				agent_set_problem(
					a,
					"%s refuses seq %lld: %s (reports are kept in the "
					"spool): ask the vendor to revoke agent id %s, then "
					"enroll again",
					base, (long long)seqs[i], desc, a->st.agent_id);
				save_state(a);
				return AGENT_DELIVER_BLOCKED;
			}
			ep_buf_free(&res.body);
			if (res.status == 400 || res.status == 413) {
				char why[1200];
				ep_snprintf(why, sizeof(why), "the collector refused it: %s", desc);
				agent_set_problem(a, "report seq %lld refused by %s: %s",
						  (long long)seqs[i], base, desc);
				quarantine(a, path, why);
				a->refused++;
				if (seqs[i] == a->watch_seq) {
					a->watch = AGENT_WATCH_REFUSED;
					ep_snprintf(a->watch_reason, sizeof(a->watch_reason), "%s",
						    desc);
				}
				continue;
			}
			if (res.status == 401 || res.status == 403) {
				agent_set_problem(
					a,
					"%s refuses this agent: %s (agent id %s; reports are "
					"kept in the spool)",
					base, desc, a->st.agent_id);
				save_state(a);
				return AGENT_DELIVER_BLOCKED;
			}
			agent_set_problem(a, "%s answered %s, will retry", base, desc);
			save_state(a);
			return AGENT_DELIVER_RETRY;
		}
	}
}
