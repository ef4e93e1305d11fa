/* Incidents: the state machine (collector/service/incident.h), the notice
 * texts (texts.h) and the incident queries of the store
 * (collector/store/incidents.h) against SQLite, and PostgreSQL when
 * ERPULSE_TEST_PG_URL is set. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <math.h>
#include <unistd.h>

#include "collector/service/incident.h"
#include "collector/service/texts.h"
#include "collector/store/db_int.h"
#include "collector/store/incidents.h"
#include "collector/store/incidents_int.h"
#include "collector/store/sql.h"
#include "erpulse/crypto.h"
#include "erpulse/util.h"

static void test_transitions(void **state)
{
	(void)state;
	/* one walk through the machine: action, answer, state after */
	static const struct {
		enum coll_incident_action a;
		int r;
		enum coll_incident_state after;
	} walk[] = {
		{COLL_ACT_ACKNOWLEDGE, 0, COLL_INC_ACKNOWLEDGED},
		{COLL_ACT_ACKNOWLEDGE, 1, COLL_INC_ACKNOWLEDGED}, /* idempotent repeat */
		{COLL_ACT_ASSIGN, 0, COLL_INC_IN_PROGRESS},
		{COLL_ACT_WAIT, 0, COLL_INC_WAITING_CUSTOMER},
		{COLL_ACT_WAIT, 1, COLL_INC_WAITING_CUSTOMER},
		{COLL_ACT_RESUME, 0, COLL_INC_IN_PROGRESS},
		{COLL_ACT_CLEAR, 0, COLL_INC_RESOLVED},
		{COLL_ACT_RESOLVE, 1, COLL_INC_RESOLVED},
		{COLL_ACT_ASSIGN, -EINVAL, COLL_INC_RESOLVED},
		{COLL_ACT_SNOOZE, -EINVAL, COLL_INC_RESOLVED},
		{COLL_ACT_RECUR, 0, COLL_INC_OPEN},
		{COLL_ACT_CLOSE, 0, COLL_INC_CLOSED},
		{COLL_ACT_CLOSE, 1, COLL_INC_CLOSED},
		{COLL_ACT_RESOLVE, -EINVAL, COLL_INC_CLOSED},
		{COLL_ACT_COMMENT, 0, COLL_INC_CLOSED},
		{COLL_ACT_REOPEN, 0, COLL_INC_OPEN},
		{COLL_ACT_REOPEN, 1, COLL_INC_OPEN},
	};
	enum coll_incident_state s = COLL_INC_OPEN;
	for (size_t i = 0; i < sizeof(walk) / sizeof(walk[0]); i++) {
		enum coll_incident_state next = s;
		int r = coll_incident_transition(s, walk[i].a, &next);
		if (r != walk[i].r || (r >= 0 && next != walk[i].after))
			fail_msg("step %zu (%s in %s): %d -> %s", i,
				 coll_incident_action_name(walk[i].a), coll_incident_state_name(s),
				 r, coll_incident_state_name(next));
		if (r >= 0)
			s = next;
	}
	/* every (state, action) pair answers something sane */
	for (int st = 0; st < COLL_INC_STATE_COUNT; st++)
		for (int a = 0; a < COLL_ACT_COUNT; a++) {
			enum coll_incident_state out = COLL_INC_STATE_COUNT;
			int r = coll_incident_transition((enum coll_incident_state)st,
							 (enum coll_incident_action)a, &out);
			assert_true(r == 0 || r == 1 || r == -EINVAL);
			if (r >= 0)
				assert_true(out < COLL_INC_STATE_COUNT);
			/* a comment is always allowed and never changes the state */
			if (a == COLL_ACT_COMMENT)
				assert_true(r == 0 && out == (enum coll_incident_state)st);
		}
	assert_int_equal(coll_incident_transition(COLL_INC_STATE_COUNT, COLL_ACT_ASSIGN, &s),
			 -EINVAL);
}

static void test_names(void **state)
{
	(void)state;
	for (int i = 0; i < COLL_INC_STATE_COUNT; i++) {
		enum coll_incident_state s;
		assert_int_equal(coll_incident_state_parse(
					 coll_incident_state_name((enum coll_incident_state)i), &s),
				 0);
		assert_int_equal(s, i);
	}
	for (int i = 0; i < COLL_ACT_COUNT; i++) {
		enum coll_incident_action a;
		assert_int_equal(
			coll_incident_action_parse(
				coll_incident_action_name((enum coll_incident_action)i), &a),
			0);
		assert_int_equal(a, i);
	}
	enum coll_incident_action a;
	assert_int_equal(coll_incident_action_parse("ack", &a), 0);
	assert_int_equal(a, COLL_ACT_ACKNOWLEDGE);
	assert_int_equal(coll_incident_action_parse("delete", &a), -EINVAL);
	for (int i = 0; i < COLL_SLA_EVENT_COUNT; i++) {
		unsigned bit;
		assert_int_equal(coll_sla_event_parse(coll_sla_event_name(1u << i), &bit), 0);
		assert_int_equal(bit, 1u << i);
	}
	assert_string_equal(coll_sla_event_name(COLL_SLA_ESCALATE_L2), "escalate_l2");
	assert_true(coll_close_reason_valid("false_positive"));
	assert_true(coll_close_reason_valid("accepted_risk"));
	assert_false(coll_close_reason_valid("bored"));
	assert_true(coll_incident_action_responds(COLL_ACT_ASSIGN));
	assert_false(coll_incident_action_responds(COLL_ACT_COMMENT));
	assert_false(coll_incident_state_live(COLL_INC_RESOLVED));
	assert_true(coll_incident_state_live(COLL_INC_WAITING_CUSTOMER));
}

static void test_texts(void **state)
{
	(void)state;
	char buf[256];
	const char *vars[] = {"id",   "7",     "level",  "L2",     "rule", "index_fragmentation",
			      "host", "erp01", "target", "30 min", NULL};
	assert_int_equal(coll_text_render("incident.escalated", "en", vars, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "Incident #7 escalated to L2: index_fragmentation on erp01 not "
				 "acknowledged within 30 min");
	assert_int_equal(coll_text_render("incident.escalated", "zh-CN", vars, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "事件 #7 已升级至 L2：erp01 上的 index_fragmentation 在 30 min "
				 "内未确认");
	/* unknown language: English; missing value: placeholder kept */
	assert_int_equal(coll_text_render("incident.acknowledged", "fr", NULL, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "Incident #{id} acknowledged by {actor}");
	assert_int_equal(coll_text_render("no.such.key", "en", NULL, buf, sizeof(buf)), -ENOENT);
	assert_string_equal(buf, "no.such.key");
	assert_int_equal(coll_text_render("incident.escalated", "en", vars, buf, 10), -ENOSPC);
	assert_int_equal(strlen(buf), 9);
	/* every key in both languages, with the same placeholders */
	for (size_t i = 0; i < coll_text_count(); i++) {
		const char *k = coll_text_key(i), *en = coll_text(k, "en"),
			   *zh = coll_text(k, "zh-CN");
		assert_non_null(en);
		assert_non_null(zh);
		assert_string_not_equal(en, zh);
		for (const char *p = en; (p = strchr(p, '{')); p++) {
			char name[32];
			const char *e = strchr(p, '}');
			assert_non_null(e);
			snprintf(name, sizeof(name), "%.*s", (int)(e - p + 1), p);
			if (!strstr(zh, name))
				fail_msg("%s: zh-CN lacks %s", k, name);
		}
	}
}

/* ---- the store ------------------------------------------------------------------ */

#define T0   1796000000 /* 2026-11-29T..., a fixed clock: nothing here reads the time */
#define MIN  60
#define HOUR 3600

struct fixture {
	struct coll_store *s;
	struct coll_tiers tiers;
	struct coll_incident_ctx ctx;
	char dir[64];
	char acme[COLL_ID_SIZE], beta[COLL_ID_SIZE]; /* customers */
	char acme_host[COLL_ID_SIZE], beta_host[COLL_ID_SIZE];
};

static void add_agent(struct coll_store *s, const char *customer, char cid[COLL_ID_SIZE],
		      char aid[COLL_ID_SIZE])
{
	char hash[65], token[64], pk[EP_PUBLIC_KEY_B64_SIZE], got[COLL_ID_SIZE];
	struct ep_keypair kp;
	assert_int_equal(coll_store_customer_add(s, customer, T0, cid), 0);
	snprintf(token, sizeof(token), "ept_%s", customer);
	ep_hash_secret(token, hash);
	assert_int_equal(coll_store_token_add(s, cid, hash, 1, T0 + 3600, T0), 0);
	ep_key_generate(&kp);
	ep_base64_encode(kp.public_key, 32, pk, sizeof(pk));
	struct coll_enroll e = {hash, "erp-host", pk, "0.1.0", T0, 300};
	assert_int_equal(coll_store_enroll(s, &e, aid, got), 0);
}

static int store_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char url[4200], err[512] = "";
	const char *pg = getenv("ERPULSE_TEST_PG_URL");
	struct coll_db_opts o = {.statement_timeout_ms = 5000, .busy_timeout_ms = 5000};
	if (pg && *pg) {
		snprintf(url, sizeof(url), "%s", pg);
	} else {
		snprintf(f->dir, sizeof(f->dir), "/tmp/test_incidents.XXXXXX");
		assert_non_null(mkdtemp(f->dir));
		snprintf(url, sizeof(url), "sqlite://%s/store.db", f->dir);
	}
	if (coll_store_open(url, &o, &f->s, err, sizeof(err)) < 0)
		fail_msg("open %s: %s", url, err);
	if (coll_db_kind(f->s->db) == COLL_DB_PG)
		assert_int_equal(coll_db_exec(f->s->db, "DROP SCHEMA public CASCADE; CREATE SCHEMA "
							"public"),
				 0);
	if (coll_store_migrate(f->s) < 0)
		fail_msg("migrate: %s", f->s->err);
	assert_int_equal(coll_tiers_defaults(&f->tiers), 0);
	f->ctx.tiers = &f->tiers;
	f->ctx.reopen_window_s = 7 * 86400;
	add_agent(f->s, "Acme", f->acme, f->acme_host);
	add_agent(f->s, "Beta", f->beta, f->beta_host);
	*state = f;
	return 0;
}

static int store_teardown(void **state)
{
	struct fixture *f = *state;
	coll_store_close(f->s);
	coll_tiers_free(&f->tiers);
	if (f->dir[0]) {
		char p[128];
		const char *suffix[] = {"", "-wal", "-shm"};
		for (int k = 0; k < 3; k++) {
			snprintf(p, sizeof(p), "%s/store.db%s", f->dir, suffix[k]);
			unlink(p);
		}
		rmdir(f->dir);
	}
	free(f);
	return 0;
}

static int64_t alert(struct fixture *f, const char *aid, const char *cid, enum coll_alert_change ch,
		     const char *severity, double value, int64_t seq, int64_t now,
		     enum coll_incident_change expect)
{
	struct coll_alert_event e = {
		.change = ch,
		.agent_id = aid,
		.customer_id = cid,
		.rule = "index_fragmentation",
		.object = "odoo/public.sale_order_line_idx",
		.severity = severity,
		.unit = "%",
		.message = "wasted leaf space",
		.value = value,
		.report_seq = seq,
		.now = now,
	};
	int64_t id = -1;
	enum coll_incident_change got;
	if (coll_store_incident_on_alert(f->s, &f->ctx, &e, &id, &got) < 0)
		fail_msg("on_alert: %s", f->s->err);
	if (got != expect)
		fail_msg("expected %s, got %s", coll_incident_change_name(expect),
			 coll_incident_change_name(got));
	return id;
}

static json_t *get(struct fixture *f, const char *customer, int64_t id, bool internal)
{
	struct coll_scope sc = {.customer_id = customer};
	json_t *o = NULL;
	int r = coll_store_incident(f->s, &sc, id, internal, &o);
	if (r < 0 && r != -ENOENT)
		fail_msg("incident: %d %s", r, f->s->err);
	return r == 0 ? o : NULL;
}

static int act(struct fixture *f, const char *scope_customer, const char *role, int64_t id,
	       struct coll_action_request req, int64_t now)
{
	struct coll_scope sc = {.customer_id = scope_customer};
	struct coll_actor who = {"alice", role, "192.0.2.1"};
	return coll_store_incident_act(f->s, &f->ctx, &sc, id, &who, &req, now);
}

/* The life of one finding: opened, joined, resolved as verified with the
 * before and after values and the report that proved it, back within the
 * reopen window (a recurrence), and back much later (a new incident). */
static void test_store_lifecycle(void **state)
{
	struct fixture *f = *state;
	int64_t id = alert(f, f->acme_host, f->acme, COLL_ALERT_RAISED, "warning", 38.5, 10, T0,
			   COLL_INCIDENT_OPENED);
	assert_true(id > 0);
	assert_int_equal(alert(f, f->acme_host, f->acme, COLL_ALERT_UPDATED, "critical", 55, 11,
			       T0 + 300, COLL_INCIDENT_JOINED),
			 id);
	/* the same value again changes nothing */
	alert(f, f->acme_host, f->acme, COLL_ALERT_UPDATED, "critical", 55, 12, T0 + 600,
	      COLL_INCIDENT_NONE);
	assert_int_equal(alert(f, f->acme_host, f->acme, COLL_ALERT_CLEARED, "critical", 4.2, 13,
			       T0 + 900, COLL_INCIDENT_RESOLVED),
			 id);
	json_t *o = get(f, NULL, id, true);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "resolved");
	assert_true(json_is_true(json_object_get(o, "verified")));
	assert_true(fabs(json_real_value(json_object_get(o, "before")) - 55) < 1e-9);
	assert_true(fabs(json_real_value(json_object_get(o, "after")) - 4.2) < 1e-9);
	assert_int_equal(json_integer_value(json_object_get(o, "resolved_seq")), 13);
	json_t *tl = json_object_get(o, "timeline");
	assert_int_equal(json_array_size(tl), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(tl, 1), "action")),
			    "clear");
	json_decref(o);

	/* back within a week: the same incident, a recurrence */
	assert_int_equal(alert(f, f->acme_host, f->acme, COLL_ALERT_RAISED, "warning", 33, 20,
			       T0 + 86400, COLL_INCIDENT_REOPENED),
			 id);
	o = get(f, NULL, id, true);
	assert_string_equal(json_string_value(json_object_get(o, "state")), "open");
	assert_int_equal(json_integer_value(json_object_get(o, "recurrences")), 1);
	assert_true(json_is_null(json_object_get(o, "after")));
	json_decref(o);
	alert(f, f->acme_host, f->acme, COLL_ALERT_CLEARED, "warning", 3, 21, T0 + 90000,
	      COLL_INCIDENT_RESOLVED);
	/* back a month later: a new incident */
	int64_t id2 = alert(f, f->acme_host, f->acme, COLL_ALERT_RAISED, "warning", 31, 30,
			    T0 + 40 * 86400, COLL_INCIDENT_OPENED);
	assert_true(id2 > id);
	/* a clear with no live incident is nothing */
	alert(f, f->beta_host, f->beta, COLL_ALERT_CLEARED, "warning", 1, 5, T0,
	      COLL_INCIDENT_NONE);
}

/* Roles, scopes, idempotency and the audit trail. */
static void test_store_actions(void **state)
{
	struct fixture *f = *state;
	int64_t id = alert(f, f->acme_host, f->acme, COLL_ALERT_RAISED, "critical", 60, 1, T0,
			   COLL_INCIDENT_OPENED);
	int64_t other = alert(f, f->beta_host, f->beta, COLL_ALERT_RAISED, "critical", 60, 1, T0,
			      COLL_INCIDENT_OPENED);
	struct coll_action_request ack = {.action = COLL_ACT_ACKNOWLEDGE};
	/* readers may not act; a customer admin may only comment */
	assert_int_equal(act(f, NULL, "vendor_viewer", id, ack, T0 + 60), -EPERM);
	assert_int_equal(act(f, f->acme, "viewer", id, ack, T0 + 60), -EPERM);
	assert_int_equal(act(f, f->acme, "customer_admin", id, ack, T0 + 60), -EPERM);
	/* another customer's incident does not exist for this scope */
	assert_int_equal(
		act(f, f->acme, "customer_admin", other,
		    (struct coll_action_request){.action = COLL_ACT_COMMENT, .text = "hello"},
		    T0 + 60),
		-ENOENT);
	assert_null(get(f, f->acme, other, false));
	assert_int_equal(act(f, NULL, "support", 999999, ack, T0), -ENOENT);

	assert_int_equal(act(f, NULL, "support", id, ack, T0 + 120), 0);
	assert_int_equal(act(f, NULL, "support", id, ack, T0 + 180), 1); /* a repeat */
	struct coll_action_request assign = {.action = COLL_ACT_ASSIGN, .assignee = "bob"};
	assert_int_equal(act(f, NULL, "support", id, assign, T0 + 200), 0);
	assert_int_equal(act(f, NULL, "support", id, assign, T0 + 201), 1);
	assert_int_equal(act(f, NULL, "support", id,
			     (struct coll_action_request){.action = COLL_ACT_ASSIGN}, T0 + 201),
			 -EINVAL);
	assert_int_equal(act(f, NULL, "support", id,
			     (struct coll_action_request){.action = COLL_ACT_COMMENT,
							  .text = "internal note"},
			     T0 + 300),
			 0);
	assert_int_equal(act(f, NULL, "support", id,
			     (struct coll_action_request){.action = COLL_ACT_COMMENT,
							  .text = "we are on it",
							  .customer_visible = true},
			     T0 + 310),
			 0);
	assert_int_equal(
		act(f, f->acme, "customer_admin", id,
		    (struct coll_action_request){.action = COLL_ACT_COMMENT, .text = "thanks"},
		    T0 + 320),
		0);
	assert_int_equal(
		act(f, NULL, "support", id,
		    (struct coll_action_request){.action = COLL_ACT_CLOSE, .reason = "bored"},
		    T0 + 330),
		-EINVAL);
	assert_int_equal(
		act(f, NULL, "support", id,
		    (struct coll_action_request){.action = COLL_ACT_SNOOZE, .until = T0 + 3600},
		    T0 + 340),
		0);

	/* the customer's view: no internal entries; the vendor's: all */
	json_t *c = get(f, f->acme, id, false), *v = get(f, NULL, id, true);
	assert_non_null(c);
	assert_non_null(v);
	json_t *ctl = json_object_get(c, "timeline"), *vtl = json_object_get(v, "timeline");
	char *ctext = json_dumps(ctl, 0);
	assert_null(strstr(ctext, "internal note"));
	assert_non_null(strstr(ctext, "we are on it"));
	assert_non_null(strstr(ctext, "thanks"));
	assert_null(strstr(ctext, "snooze"));
	free(ctext);
	assert_int_equal(json_array_size(vtl), 7); /* open, ack, assign, 3 comments, snooze */
	json_t *last = json_array_get(vtl, 6);
	assert_string_equal(json_string_value(json_object_get(last, "actor")), "alice");
	assert_string_equal(json_string_value(json_object_get(last, "action")), "snooze");
	assert_string_equal(json_string_value(json_object_get(v, "state")), "in_progress");
	assert_string_equal(json_string_value(json_object_get(v, "assignee")), "bob");
	json_decref(c);
	json_decref(v);

	/* wait / resume pause the clock; resolve; resolve again is a repeat */
	assert_int_equal(act(f, NULL, "support", id,
			     (struct coll_action_request){.action = COLL_ACT_WAIT}, T0 + 400),
			 0);
	assert_int_equal(act(f, NULL, "support", id,
			     (struct coll_action_request){.action = COLL_ACT_RESUME}, T0 + 1000),
			 0);
	struct coll_action_request res = {.action = COLL_ACT_RESOLVE};
	assert_int_equal(act(f, NULL, "support", id, res, T0 + 1100), 0);
	assert_int_equal(act(f, NULL, "support", id, res, T0 + 1200), 1);
	assert_int_equal(act(f, NULL, "support", id, assign, T0 + 1300), -ECANCELED);

	/* the audit trail cannot be rewritten */
	assert_true(coll_db_exec(f->s->db, "UPDATE audit SET actor = 'mallory'") < 0);
	assert_true(coll_db_exec(f->s->db, "DELETE FROM audit") < 0);

	/* lists: the vendor sees both customers, a customer its own */
	struct coll_incident_filter all = {.state = "all"};
	json_t *l;
	struct coll_scope vendor = {0}, acme = {.customer_id = f->acme};
	assert_int_equal(coll_store_incidents(f->s, &vendor, &all, &l), 0);
	assert_int_equal(json_array_size(l), 2);
	json_decref(l);
	assert_int_equal(coll_store_incidents(f->s, &acme, &all, &l), 0);
	assert_int_equal(json_array_size(l), 1);
	json_decref(l);
	struct coll_incident_filter beta_only = {.state = "all", .customer_id = f->beta};
	assert_int_equal(coll_store_incidents(f->s, &acme, &beta_only, &l), 0);
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
	struct coll_incident_filter bad = {.state = "sleeping"};
	assert_int_equal(coll_store_incidents(f->s, &vendor, &bad, &l), -EINVAL);
}

/* Runs the escalation claim at now; returns the events fired, as text. */
static void escalate(struct fixture *f, int64_t now, char *out, size_t size)
{
	struct coll_incident_notice *n;
	size_t k;
	out[0] = '\0';
	assert_int_equal(coll_db_begin(f->s->db), 0);
	if (coll_store_incidents_escalate(f->s, &f->ctx, now, 100, &n, &k) < 0)
		fail_msg("escalate: %s", f->s->err);
	assert_int_equal(coll_db_commit(f->s->db), 0);
	for (size_t i = 0; i < k; i++) {
		size_t len = strlen(out);
		snprintf(out + len, size - len, "%s%s@L%d", i ? " " : "", n[i].event, n[i].level);
	}
	coll_incident_notices_free(n, k);
}

/* Gold (30 min response, 7x24): not acknowledged, the incident warns at
 * 80%, breaches and goes to L2 at 30 min, to L3 at 60 min, each once; an
 * acknowledged one stops escalating. */
static void test_store_escalation(void **state)
{
	struct fixture *f = *state;
	char ev[512];
	assert_int_equal(coll_store_customer_tier(f->s, &f->ctx, f->acme, "gold"), 0);
	assert_int_equal(coll_store_customer_tier(f->s, &f->ctx, f->acme, "bronze"), -EINVAL);
	assert_int_equal(coll_store_customer_tier(f->s, &f->ctx, "nobody", "gold"), -ENOENT);
	int64_t id = alert(f, f->acme_host, f->acme, COLL_ALERT_RAISED, "critical", 60, 1, T0,
			   COLL_INCIDENT_OPENED);
	escalate(f, T0 + 10 * MIN, ev, sizeof(ev));
	assert_string_equal(ev, "");
	escalate(f, T0 + 24 * MIN, ev, sizeof(ev));
	assert_string_equal(ev, "response_warning@L1");
	escalate(f, T0 + 25 * MIN, ev, sizeof(ev));
	assert_string_equal(ev, "");
	escalate(f, T0 + 30 * MIN, ev, sizeof(ev));
	assert_string_equal(ev, "response_breach@L1 escalate_l2@L2");
	escalate(f, T0 + 60 * MIN, ev, sizeof(ev));
	assert_string_equal(ev, "escalate_l3@L3");
	escalate(f, T0 + 61 * MIN, ev, sizeof(ev));
	assert_string_equal(ev, "");
	json_t *o = get(f, NULL, id, true);
	assert_int_equal(json_integer_value(json_object_get(o, "level")), 3);
	json_decref(o);
	/* acknowledged: no more response events; resolution ones go on */
	assert_int_equal(act(f, NULL, "support", id,
			     (struct coll_action_request){.action = COLL_ACT_ACKNOWLEDGE},
			     T0 + 62 * MIN),
			 0);
	escalate(f, T0 + 3 * HOUR, ev, sizeof(ev));
	assert_string_equal(ev, "");
	escalate(f, T0 + 4 * HOUR, ev, sizeof(ev));
	assert_string_equal(ev, "resolution_warning@L3 resolution_breach@L3");

	/* a second incident acknowledged at 20 min never escalates */
	int64_t id2 = alert(f, f->beta_host, f->beta, COLL_ALERT_RAISED, "critical", 60, 1,
			    T0 + 5 * HOUR, COLL_INCIDENT_OPENED);
	assert_true(id2 > 0);
	assert_int_equal(act(f, NULL, "support", id2,
			     (struct coll_action_request){.action = COLL_ACT_ACKNOWLEDGE},
			     T0 + 5 * HOUR + 20 * MIN),
			 0);
	/* beta is standard: 2 h response in business hours; acknowledged anyway */
	escalate(f, T0 + 30 * HOUR, ev, sizeof(ev));
	assert_null(strstr(ev, "escalate"));

	struct coll_incident_counts cnt;
	assert_int_equal(coll_store_incident_counts(f->s, T0 + 30 * HOUR, &cnt), 0);
	assert_int_equal(cnt.by_state[COLL_INC_ACKNOWLEDGED], 2);
	assert_true(cnt.events >= 6);
}

/* A fixture month of one gold customer, by hand: 4 incidents opened in
 * the month (response target 30 min, resolution 4 h, 7x24), one closed as a
 * false positive.
 *   A: acked 10 min, cleared at 2 h       -> within both
 *   B: acked 40 min (late), cleared 5 h   -> late both
 *   C: acked 20 min, still open at 'now' (3 h)
 *   D: closed as a false positive         -> excluded
 * responded: A 10, B 40, C 20 min -> sorted 10 20 40: p50 = 20 min,
 * p90 = 40 min; within target 2 of 3. Resolution rate = 1 (A) / 3. */
static void test_store_sla_month(void **state)
{
	struct fixture *f = *state;
	char other_host[COLL_ID_SIZE], cid[COLL_ID_SIZE];
	assert_int_equal(coll_store_customer_tier(f->s, &f->ctx, f->acme, "gold"), 0);
	struct coll_alert_event e = {.change = COLL_ALERT_RAISED,
				     .agent_id = f->acme_host,
				     .customer_id = f->acme,
				     .severity = "critical",
				     .unit = "%",
				     .value = 50};
	const char *objects[] = {"a", "b", "c", "d"};
	int64_t ids[4];
	int64_t start = T0;
	for (int i = 0; i < 4; i++) {
		enum coll_incident_change ch;
		e.rule = "index_fragmentation";
		e.object = objects[i];
		e.now = start + i;
		assert_int_equal(coll_store_incident_on_alert(f->s, &f->ctx, &e, &ids[i], &ch), 0);
	}
	struct coll_action_request ack = {.action = COLL_ACT_ACKNOWLEDGE};
	assert_int_equal(act(f, NULL, "support", ids[0], ack, start + 0 + 10 * MIN), 0);
	assert_int_equal(act(f, NULL, "support", ids[1], ack, start + 1 + 40 * MIN), 0);
	assert_int_equal(act(f, NULL, "support", ids[2], ack, start + 2 + 20 * MIN), 0);
	assert_int_equal(act(f, NULL, "support", ids[3],
			     (struct coll_action_request){.action = COLL_ACT_CLOSE,
							  .reason = "false_positive"},
			     start + 3 + 5 * MIN),
			 0);
	e.change = COLL_ALERT_CLEARED;
	e.object = "a";
	e.now = start + 2 * HOUR;
	int64_t got;
	enum coll_incident_change ch;
	assert_int_equal(coll_store_incident_on_alert(f->s, &f->ctx, &e, &got, &ch), 0);
	e.object = "b";
	e.now = start + 1 + 5 * HOUR;
	assert_int_equal(coll_store_incident_on_alert(f->s, &f->ctx, &e, &got, &ch), 0);
	/* another customer's incident the same month stays out of Acme's figures */
	(void)other_host;
	(void)cid;
	alert(f, f->beta_host, f->beta, COLL_ALERT_RAISED, "critical", 60, 1, start,
	      COLL_INCIDENT_OPENED);

	struct coll_scope vendor = {0};
	json_t *m;
	assert_int_equal(coll_store_sla(f->s, &f->ctx, &vendor, f->acme, start - 86400,
					start + 30 * 86400, start + 3 * HOUR, &m),
			 0);
	json_t *o = json_object_get(m, "overall");
	assert_int_equal(json_integer_value(json_object_get(o, "opened")), 4);
	assert_int_equal(json_integer_value(json_object_get(o, "excluded")), 1);
	assert_int_equal(json_integer_value(json_object_get(o, "response_p50_s")), 20 * MIN);
	assert_int_equal(json_integer_value(json_object_get(o, "response_p90_s")), 40 * MIN);
	assert_true(fabs(json_real_value(json_object_get(o, "response_within_target")) -
			 2.0 / 3.0) < 1e-9);
	assert_true(fabs(json_real_value(json_object_get(o, "resolution_rate")) - 1.0 / 3.0) <
		    1e-9);
	assert_int_equal(json_integer_value(json_object_get(o, "mttr_s")),
			 (2 * HOUR + 5 * HOUR) / 2);
	assert_int_equal(json_integer_value(json_object_get(o, "open")), 1);
	assert_non_null(json_object_get(json_object_get(m, "tiers"), "gold"));
	json_decref(m);
	/* Acme's viewer asking for Beta gets nothing of Beta's */
	struct coll_scope acme = {.customer_id = f->acme};
	assert_int_equal(coll_store_sla(f->s, &f->ctx, &acme, f->beta, start - 86400,
					start + 30 * 86400, start + 3 * HOUR, &m),
			 0);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(m, "overall"), "opened")), 0);
	json_decref(m);
}

/* An approved maintenance window pauses the clock: no warning, breach or
 * escalation while it lasts; a pending one does nothing. Approval: a
 * customer admin of that customer (or support), once. */
static void test_store_windows(void **state)
{
	struct fixture *f = *state;
	char ev[512];
	assert_int_equal(coll_store_customer_tier(f->s, &f->ctx, f->acme, "gold"), 0);
	struct coll_actor vendor = {"vera", "vendor", "cli"},
			  adam = {"adam", "customer_admin", "x"}, ann = {"ann", "viewer", "x"};
	struct coll_window_req w = {.customer_id = f->acme,
				    .once_from = T0 + 10 * MIN,
				    .once_to = T0 + 40 * MIN,
				    .reason = "REINDEX"};
	int64_t wid;
	assert_int_equal(coll_store_window_add(f->s, &w, &vendor, T0, &wid), 0);
	struct coll_window_req bad = {.customer_id = f->acme, .once_from = 5, .once_to = 4};
	assert_int_equal(coll_store_window_add(f->s, &bad, &vendor, T0, &wid), -EINVAL);
	struct coll_window_req badtz = w;
	badtz.time_zone = "Mars/Base";
	assert_int_equal(coll_store_window_add(f->s, &badtz, &vendor, T0, &wid), -EINVAL);
	int64_t id = alert(f, f->acme_host, f->acme, COLL_ALERT_RAISED, "critical", 60, 1, T0,
			   COLL_INCIDENT_OPENED);
	(void)id;
	struct coll_scope acme = {.customer_id = f->acme}, beta = {.customer_id = f->beta};
	json_t *l;
	assert_int_equal(coll_store_windows(f->s, &beta, NULL, &l), 0);
	assert_int_equal(json_array_size(l), 0);
	json_decref(l);
	assert_int_equal(coll_store_windows(f->s, &acme, NULL, &l), 0);
	assert_int_equal(json_array_size(l), 1);
	wid = json_integer_value(json_object_get(json_array_get(l, 0), "id"));
	assert_true(json_is_null(json_object_get(json_array_get(l, 0), "approved_at")));
	json_decref(l);
	assert_int_equal(coll_store_window_approve(f->s, &acme, wid, &ann, T0 + 60), -EPERM);
	assert_int_equal(coll_store_window_approve(f->s, &beta, wid, &adam, T0 + 60), -ENOENT);
	assert_int_equal(coll_store_window_approve(f->s, &acme, wid, &adam, T0 + 60), 0);
	assert_int_equal(coll_store_window_approve(f->s, &acme, wid, &adam, T0 + 61), 1);
	/* 10 min ran before the window, none in it */
	escalate(f, T0 + 30 * MIN, ev, sizeof(ev));
	assert_string_equal(ev, "");
	escalate(f, T0 + 53 * MIN, ev, sizeof(ev));
	assert_string_equal(ev, "");
	escalate(f, T0 + 54 * MIN, ev, sizeof(ev));
	assert_string_equal(ev, "response_warning@L1");
	escalate(f, T0 + 60 * MIN, ev, sizeof(ev));
	assert_string_equal(ev, "response_breach@L1 escalate_l2@L2");
	/* an incident opened inside a window: its opened notice waits for the end */
	struct coll_window_req w2 = {.customer_id = f->acme,
				     .once_from = T0 + 70 * MIN,
				     .once_to = T0 + 90 * MIN,
				     .approved = true};
	assert_int_equal(coll_store_window_add(f->s, &w2, &vendor, T0 + 65 * MIN, &wid), 0);
	struct coll_alert_event e2 = {.change = COLL_ALERT_RAISED,
				      .agent_id = f->acme_host,
				      .customer_id = f->acme,
				      .rule = "disk_full_forecast",
				      .object = "/var",
				      .severity = "warning",
				      .value = 5,
				      .now = T0 + 75 * MIN};
	int64_t id2;
	enum coll_incident_change ch;
	bool held;
	assert_int_equal(coll_store_incident_on_alert(f->s, &f->ctx, &e2, &id2, &ch), 0);
	assert_int_equal(coll_store_incident_hold(f->s, id2, "opened", T0 + 75 * MIN, &held), 0);
	assert_true(held);
	escalate(f, T0 + 80 * MIN, ev, sizeof(ev));
	assert_string_equal(ev, "");
	escalate(f, T0 + 90 * MIN, ev, sizeof(ev));
	assert_string_equal(ev, "opened@L1");
	escalate(f, T0 + 91 * MIN, ev, sizeof(ev));
	assert_string_equal(ev, "");
	/* outside any window nothing is held */
	assert_int_equal(coll_store_incident_hold(f->s, id2, "opened", T0 + 95 * MIN, &held), 0);
	assert_false(held);

	/* the SLA month sees the same clock: 30 min used by the 60th minute */
	struct coll_scope all = {0};
	json_t *m;
	assert_int_equal(coll_store_sla(f->s, &f->ctx, &all, f->acme, T0 - 86400, T0 + 86400,
					T0 + 60 * MIN, &m),
			 0);
	assert_int_equal(
		json_integer_value(json_object_get(json_object_get(m, "overall"), "breaches")), 0);
	json_decref(m);
}

/* ---- an open alert's value moving ------------------------------------------------ */

/* SQLite: the statements run since the last call (SQLITE_TRACE_STMT, not
 * the trigger lines); -1 on PostgreSQL, which has no such hook here. */
static int n_statements;

static int count_stmt(unsigned what, void *ctx, void *p, void *x)
{
	(void)what;
	(void)ctx;
	(void)p;
	if (strncmp((const char *)x, "--", 2) != 0)
		n_statements++;
	return 0;
}

static int statements_since(struct fixture *f)
{
	if (!f->s->db->lite)
		return -1;
	int n = n_statements;
	n_statements = 0;
	sqlite3_trace_v2(f->s->db->lite, SQLITE_TRACE_STMT, count_stmt, NULL);
	return n;
}

struct clock_cols {
	char v[4][32]; /* before_value, next_event_at, breach_at, triage_at; "-" for NULL */
};

static struct clock_cols clock_of(struct fixture *f, int64_t id)
{
	struct coll_db_res res;
	struct clock_cols c;
	assert_int_equal(COLL_Q(f->s,
				"SELECT before_value, next_event_at, breach_at, triage_at FROM"
				" incidents WHERE id = ?",
				&res, coll_i2s(id).s),
			 0);
	assert_int_equal(res.rows, 1);
	for (int i = 0; i < 4; i++)
		snprintf(c.v[i], sizeof(c.v[i]), "%s",
			 coll_db_val(&res, 0, (size_t)i) ? coll_db_val(&res, 0, (size_t)i) : "-");
	coll_db_res_free(&res);
	return c;
}

/* One value update of the live incident id at now; asserts that its clock
 * columns are what a reschedule from a fresh read of the row leaves (the
 * clock the update computed from its own RETURNING row), and returns them. */
static struct clock_cols value_update(struct fixture *f, int64_t id, const char *severity,
				      double value, int64_t now, int *ret_statements)
{
	statements_since(f);
	assert_int_equal(alert(f, f->acme_host, f->acme, COLL_ALERT_UPDATED, severity, value, 7,
			       now, COLL_INCIDENT_JOINED),
			 id);
	*ret_statements = statements_since(f);
	struct clock_cols c = clock_of(f, id);
	assert_true(fabs(strtod(c.v[0], NULL) - value) < 1e-9); /* the "before" of its fix */
	assert_int_equal(coll_inc_reschedule(f->s, &f->ctx, id, now), 0);
	struct clock_cols again = clock_of(f, id);
	for (int i = 0; i < 4; i++)
		assert_string_equal(c.v[i], again.v[i]);
	return c;
}

/* A report that moves an open alert's value and nothing else: the incident
 * keeps the value as the "before" of its fix, and its clock is computed
 * from the row the UPDATE returned (no second read; no read of pauses or
 * maintenance windows when it has none) and not written when it did not
 * move: one statement, where it took five. A severity change, a pause, a
 * crossed threshold and an approved window still move the clock exactly
 * as a reschedule does. */
static void test_store_value_update(void **state)
{
	struct fixture *f = *state;
	char ev[512];
	int n;
	assert_int_equal(coll_store_customer_tier(f->s, &f->ctx, f->acme, "gold"), 0);
	/* gold: 30 min to answer a critical incident; a warning one 1 h here */
	const struct coll_tier *gold = coll_tiers_find(&f->tiers, "gold");
	assert_non_null(gold);
	f->tiers.v[gold - f->tiers.v].response_s[COLL_SEV_WARNING] = HOUR;
	int64_t id = alert(f, f->acme_host, f->acme, COLL_ALERT_RAISED, "warning", 38.5, 1, T0,
			   COLL_INCIDENT_OPENED);
	struct clock_cols c0 = clock_of(f, id), c;
	c = value_update(f, id, "warning", 38.75, T0 + 300, &n);
	if (n >= 0)
		assert_int_equal(n, 1);
	for (int i = 1; i < 4; i++) /* the clock did not move */
		assert_string_equal(c.v[i], c0.v[i]);
	/* the same value: nothing at all */
	statements_since(f);
	alert(f, f->acme_host, f->acme, COLL_ALERT_UPDATED, "warning", 38.75, 8, T0 + 600,
	      COLL_INCIDENT_NONE);
	n = statements_since(f);
	if (n >= 0)
		assert_int_equal(n, 1);
	/* a severity with a shorter target: the breach comes sooner (written) */
	c = value_update(f, id, "critical", 39, T0 + 900, &n);
	assert_true(coll_s2i(c.v[2]) < coll_s2i(c0.v[2]));
	if (n >= 0)
		assert_int_equal(n, 2);
	/* past the response warning (24 min of gold's 30), before the sweep:
	 * the event is owed now, as the reschedule says */
	c = value_update(f, id, "critical", 39.5, T0 + 25 * MIN, &n);
	assert_int_equal(coll_s2i(c.v[1]), T0 + 25 * MIN);
	escalate(f, T0 + 25 * MIN, ev, sizeof(ev));
	assert_string_equal(ev, "response_warning@L1");
	c = value_update(f, id, "critical", 39.75, T0 + 26 * MIN, &n);
	assert_int_equal(coll_s2i(c.v[1]), T0 + 30 * MIN);
	/* waiting for the customer: paused, the breach with no known time */
	assert_int_equal(act(f, NULL, "support", id,
			     (struct coll_action_request){.action = COLL_ACT_WAIT}, T0 + 27 * MIN),
			 0);
	c = value_update(f, id, "critical", 40, T0 + 28 * MIN, &n);
	assert_string_equal(c.v[2], "-");
	assert_int_equal(act(f, NULL, "support", id,
			     (struct coll_action_request){.action = COLL_ACT_RESUME},
			     T0 + 40 * MIN),
			 0);
	c = value_update(f, id, "critical", 40.25, T0 + 41 * MIN, &n);
	/* answered (the wait): 4 h to resolve, plus the 13 min paused */
	assert_int_equal(coll_s2i(c.v[2]), T0 + 4 * HOUR + 13 * MIN);
	/* a window approved since: the next value update reads it (and the
	 * pause rows) and moves the breach by its 20 min */
	struct coll_actor vera = {"vera", "vendor", "cli"};
	struct coll_window_req w = {.customer_id = f->acme,
				    .once_from = T0 + 50 * MIN,
				    .once_to = T0 + 70 * MIN,
				    .reason = "VACUUM FULL"};
	struct coll_scope acme = {.customer_id = f->acme};
	int64_t wid;
	assert_int_equal(coll_store_window_add(f->s, &w, &vera, T0 + 42 * MIN, &wid), 0);
	assert_int_equal(coll_store_window_approve(f->s, &acme, wid, &vera, T0 + 43 * MIN), 0);
	c = value_update(f, id, "critical", 40.5, T0 + 44 * MIN, &n);
	assert_int_equal(coll_s2i(c.v[2]), T0 + 4 * HOUR + 33 * MIN);
	if (n >= 0)
		assert_int_equal(n, 4); /* the UPDATE, pauses, windows, the clock's UPDATE */
	c = value_update(f, id, "critical", 40.75, T0 + 45 * MIN, &n);
	if (n >= 0)
		assert_int_equal(n, 3);
}

/* The triage queue: soonest breach first, then severity, then tier. */
static void test_store_triage(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(coll_store_customer_tier(f->s, &f->ctx, f->acme, "platinum"), 0);
	/* Beta (standard, business hours) critical first, Acme (platinum 15 min) later */
	int64_t b = alert(f, f->beta_host, f->beta, COLL_ALERT_RAISED, "critical", 60, 1, T0,
			  COLL_INCIDENT_OPENED);
	int64_t a = alert(f, f->acme_host, f->acme, COLL_ALERT_RAISED, "critical", 60, 1, T0 + 60,
			  COLL_INCIDENT_OPENED);
	struct coll_scope vendor = {0};
	struct coll_incident_filter q = {0};
	json_t *l;
	assert_int_equal(coll_store_incidents(f->s, &vendor, &q, &l), 0);
	assert_int_equal(json_array_size(l), 2);
	/* platinum breaches in 15 min; standard's 2 business hours are later */
	assert_int_equal(json_integer_value(json_object_get(json_array_get(l, 0), "id")), a);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(l, 1), "id")), b);
	json_decref(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transitions),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_texts),
		cmocka_unit_test_setup_teardown(test_store_lifecycle, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_store_actions, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_store_escalation, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_store_sla_month, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_store_triage, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_store_windows, store_setup, store_teardown),
		cmocka_unit_test_setup_teardown(test_store_value_update, store_setup,
						store_teardown),
	};
	ep_crypto_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
