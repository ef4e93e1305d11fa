/* Notices (docs/alerts.md, "Notices"): alert results rendered for every
 * channel into the outbox, one per alert or one grouped message per report;
 * titles in the one number format; stable ids. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/analysis/analysis_int.h"
#include "collector/store/sql.h"
#include "collector/web/i18n.h"
#include "erpulse/util.h"

/* A stable notice id: the same (host, alert, state, time) always gives the
 * same id, so a receiver can drop a duplicate delivery (FNV-1a, 64 bits). */
static void notice_id(char buf[24], const char *agent, const char *rule, const char *object,
		      const char *state, int64_t at)
{
	const char *parts[] = {agent, rule, object, state, coll_i2s(at).s};
	uint64_t h = 1469598103934665603u;

	for (size_t i = 0; i < EP_ARRAY_SIZE(parts); i++) {
		for (const char *c = parts[i] ? parts[i] : ""; *c; c++) {
			h ^= (unsigned char)*c;
			h *= 1099511628211u;
		}
		h ^= 0xff; /* separator */
		h *= 1099511628211u;
	}
	snprintf(buf, 24, "n-%016llx", (unsigned long long)h);
}

static enum coll_notice_state notice_state(enum coll_alert_action a)
{
	switch (a) {
	case COLL_ACTION_ESCALATE:
		return COLL_NOTICE_ESCALATE;
	case COLL_ACTION_DEESCALATE:
		return COLL_NOTICE_DEESCALATE;
	case COLL_ACTION_CLEAR:
		return COLL_NOTICE_CLEAR;
	case COLL_ACTION_RAISE:
	case COLL_ACTION_NONE:
		break;
	}
	return COLL_NOTICE_RAISE;
}

static int load_customer(struct coll_store *s, struct coll_target *t)
{
	struct coll_db_res res;
	int r;

	if (t->customer_loaded)
		return 0;
	r = COLL_Q(s, "SELECT name FROM customers WHERE id = ?", &res, t->customer_id);
	if (r < 0)
		return r;
	snprintf(t->customer, sizeof(t->customer), "%s",
		 res.rows ? coll_db_val(&res, 0, 0) : t->customer_id);
	coll_db_res_free(&res);
	t->customer_loaded = true;
	return 0;
}

/* Renders n for every channel into the outbox, due at once: never later
 * than the wall clock, even when the evaluation ran at an injected time
 * (`erpulse-collector sweep --now`). */
static int enqueue_notice(const struct coll_analysis *an, struct coll_store *s,
			  const struct coll_notice *n, int64_t at)
{
	int64_t wall = ep_wall_ms() / 1000, now = at < wall ? at : wall;
	int r = 0;

	if (an->webhook_url) {
		char *body = coll_notice_render_webhook(n, an->webhook_format);
		if (!body)
			return -ENOMEM;
		r = coll_store_outbox_add(s, "webhook", body, now);
		free(body);
		if (r < 0)
			return r;
	}
	if (an->smtp_url) {
		char *msg = NULL;
		r = coll_notice_render_mail(n, an->mail_from, an->mail_to, &msg);
		if (r < 0)
			return r;
		r = coll_store_outbox_add(s, "email", msg, now);
		free(msg);
	}
	return r;
}

const char *coll_result_name(const struct coll_alert_result *a)
{
	return a->name ? a->name : coll_rule_name(a->rule);
}

static void dashboard_link(const struct coll_analysis *an, const struct coll_target *t, char *url,
			   size_t size)
{
	size_t n;

	url[0] = '\0';
	if (!an->dashboard_url)
		return;
	n = strlen(an->dashboard_url);
	while (n > 0 && an->dashboard_url[n - 1] == '/')
		n--;
	snprintf(url, size, "%.*s/hosts/%s", (int)n, an->dashboard_url, t->agent_id);
}

/* One notice for one alert result. */
int coll_notice_enqueue(const struct coll_analysis *an, struct coll_store *s, struct coll_target *t,
			const struct coll_alert_result *a, int64_t now)
{
	char url[1024], id[24], val[64], summary[1024];
	int r;

	if (!an->webhook_url && !an->smtp_url)
		return 0;
	r = load_customer(s, t);
	if (r < 0)
		return r;
	dashboard_link(an, t, url, sizeof(url));
	/* the title in the one number format, a clear saying why */
	struct coll_notice lang = {.lang = an->lang};
	const char *rule = coll_notice_rule_text(&lang, coll_result_name(a));
	coll_format_value(val, sizeof(val), a->value, a->unit);
	const char *vars[] = {"rule",
			      rule,
			      "object",
			      a->object,
			      "verb",
			      coll_i18n_text(an->lang, a->action == COLL_ACTION_ESCALATE
							       ? "notice.verb.escalate"
							       : "notice.verb.raise"),
			      "value",
			      val,
			      "why",
			      a->why ? a->why : coll_i18n_text(an->lang, "notice.why.resolved"),
			      NULL};
	coll_i18n_render(an->lang,
			 a->action == COLL_ACTION_CLEAR ? "notice.summary.clear" : "notice.summary",
			 vars, summary, sizeof(summary));
	/* a translated notice says what to do from the catalog */
	const char *remedy = a->remediation;
	if (a->remediation && strcmp(coll_i18n_lang(an->lang), "en") != 0) {
		const char *cat = coll_i18n_finding(an->lang, coll_result_name(a), "remediation");
		if (strcmp(cat, coll_result_name(a)) != 0)
			remedy = cat;
	}
	struct coll_notice n = {
		.host = t->hostname,
		.customer = t->customer,
		.rule = coll_result_name(a),
		.object = a->object,
		.severity = coll_alert_level_name(a->level == COLL_LEVEL_NONE ? a->open : a->level),
		.value = a->value,
		.unit = a->unit,
		.message = a->message,
		.remediation = a->action == COLL_ACTION_CLEAR ? NULL : remedy,
		.dashboard_url = url[0] ? url : NULL,
		.at = now,
		.state = notice_state(a->action),
		.id = id,
		.summary = summary,
		.lang = an->lang,
	};
	notice_id(id, t->agent_id, n.rule, a->object, coll_notice_state_name(n.state), now);
	return enqueue_notice(an, s, &n, now);
}

/* Several notices of one host at once: one message per channel listing
 * them, worst first as they come (docs/alerts.md, "Grouped notices"). */
int coll_notice_enqueue_group(const struct coll_analysis *an, struct coll_store *s,
			      struct coll_target *t, const struct coll_alert_result *const *v,
			      size_t n, int64_t now)
{
	struct ep_buf msg, key;
	enum coll_alert_level worst = COLL_LEVEL_NONE;
	size_t raised = 0, cleared = 0;
	char url[1024], id[24], object[96];
	int r = load_customer(s, t);

	if (r < 0)
		return r;
	ep_buf_init(&msg, 1 << 20);
	ep_buf_init(&key, 1 << 20);
	for (size_t i = 0; i < n; i++) {
		const struct coll_alert_result *a = v[i];
		enum coll_alert_level l = a->level == COLL_LEVEL_NONE ? a->open : a->level;
		if (a->action == COLL_ACTION_CLEAR)
			cleared++;
		else {
			raised++;
			if (l > worst)
				worst = l;
		}
		r |= ep_buf_printf(&msg, "%s- [%s] %s", i ? "\n" : "",
				   coll_i18n_text(an->lang, a->action == COLL_ACTION_CLEAR
								    ? "notice.severity.resolved"
							    : l == COLL_LEVEL_CRITICAL
								    ? "notice.severity.critical"
								    : "notice.severity.warning"),
				   a->message);
		r |= ep_buf_printf(&key, "%s/%s/%s;", coll_result_name(a), a->object,
				   coll_alert_action_name(a->action));
	}
	if (r < 0 && r != -E2BIG) {
		ep_buf_free(&msg);
		ep_buf_free(&key);
		return -ENOMEM;
	}
	char summary[256], sn[24], sr[24], sc[24];
	snprintf(sn, sizeof(sn), "%zu", n);
	snprintf(sr, sizeof(sr), "%zu", raised);
	snprintf(sc, sizeof(sc), "%zu", cleared);
	const char *counts[] = {"n", sn, "raised", sr, "resolved", sc, NULL};
	coll_i18n_render(an->lang, raised && cleared ? "notice.group.mixed" : "notice.group.count",
			 counts, object, sizeof(object));
	const char *said[] = {"alerts", object, "verb",
			      coll_i18n_text(an->lang, !cleared  ? "notice.verb.raise"
						       : !raised ? "notice.verb.resolved"
								 : "notice.verb.changed"),
			      NULL};
	coll_i18n_render(an->lang, "notice.summary.group", said, summary, sizeof(summary));
	dashboard_link(an, t, url, sizeof(url));
	struct coll_notice g = {
		.host = t->hostname,
		.customer = t->customer,
		.rule = "alerts",
		.object = object,
		.severity = coll_alert_level_name(worst == COLL_LEVEL_NONE ? COLL_LEVEL_WARNING
									   : worst),
		.value = NAN,
		.message = msg.data ? msg.data : "",
		.dashboard_url = url[0] ? url : NULL,
		.at = now,
		.state = raised ? COLL_NOTICE_RAISE : COLL_NOTICE_CLEAR,
		.id = id,
		.summary = summary,
		.lang = an->lang,
	};
	notice_id(id, t->agent_id, "alerts", key.data ? key.data : "",
		  coll_notice_state_name(g.state), now);
	r = enqueue_notice(an, s, &g, now);
	ep_buf_free(&msg);
	ep_buf_free(&key);
	return r;
}
