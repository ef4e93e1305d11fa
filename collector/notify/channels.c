/* Named channels and routes (channels.h). */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/notify/channels.h"
#include "collector/notify/sign.h"
#include "collector/service/texts.h"
#include "collector/store/store.h"
#include "erpulse/util.h"

const struct ep_option coll_channel_options[] = {
	{"type", EP_OPT_STRING, NULL, 1, 16, "generic | dingtalk | wecom | feishu | slack | email"},
	{"url", EP_OPT_STRING, NULL, 1, 4096, "webhook URL (http or https)"},
	{"secret", EP_OPT_STRING, NULL, 1, 512,
	 "DingTalk or Feishu robot signing secret (HMAC-SHA256 over timestamp and secret)"},
	{"to", EP_OPT_STRING, NULL, 1, 4096, "email: comma-separated recipients"},
	{"language", EP_OPT_STRING, "en", 1, 8, "language of the notices: en | zh-CN"},
	{NULL, 0, NULL, 0, 0, NULL},
};

const struct ep_option coll_route_options[] = {
	{"customer", EP_OPT_LIST, NULL, 1, 1000, "customer names or ids (absent: any)"},
	{"tier", EP_OPT_LIST, NULL, 1, 64, "tier names (absent: any)"},
	{"severity", EP_OPT_LIST, NULL, 1, 2, "warning, critical (absent: any)"},
	{"rule", EP_OPT_LIST, NULL, 1, 64, "alert rule names (absent: any)"},
	{"events", EP_OPT_LIST, "opened reopened resolved", 1, 16,
	 "incident events sent: opened, reopened, resolved, response_warning, response_breach, "
	 "escalate_l2, escalate_l3, resolution_warning, resolution_breach"},
	{"channels", EP_OPT_LIST, NULL, 1, 32, "channel names the matching notices go to"},
	{NULL, 0, NULL, 0, 0, NULL},
};

static void route_free(struct coll_route_rule *r)
{
	char **lists[] = {r->customers, r->tiers, r->severities, r->rules, r->events, r->channels};
	for (size_t i = 0; i < EP_ARRAY_SIZE(lists); i++)
		free(lists[i]);
}

void coll_channels_free(struct coll_channels *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].url);
		free(c->v[i].secret);
		free(c->v[i].to);
	}
	for (size_t i = 0; i < c->n_routes; i++)
		route_free(&c->routes[i]);
	free(c->v);
	free(c->routes);
	memset(c, 0, sizeof(*c));
}

const struct coll_channel *coll_channel_find(const struct coll_channels *c, const char *name)
{
	for (size_t i = 0; c && name && i < c->n; i++)
		if (strcmp(c->v[i].name, name) == 0)
			return &c->v[i];
	return NULL;
}

static bool name_ok(const char *s)
{
	if (!s || !*s || strlen(s) >= COLL_CHANNEL_NAME_SIZE)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

static int dup_opt(const struct ep_config_section *sec, const char *key, char **ret, char *err,
		   size_t errlen)
{
	const char *v;
	*ret = NULL;
	if (ep_config_get_string(sec, coll_channel_options, key, &v, err, errlen) != 0)
		return 0;
	*ret = strdup(v);
	return *ret ? 0 : -ENOMEM;
}

static int bad(const struct ep_config_section *sec, const char *key, const char *what, char *err,
	       size_t errlen)
{
	snprintf(err, errlen, "%s:%d: [%s] %s: %s", sec->file, sec->line, sec->name, key, what);
	return -EINVAL;
}

static int load_channel(const struct ep_config_section *sec, struct coll_channel *c, char *err,
			size_t errlen)
{
	const char *type, *lang;
	int r = ep_config_check(sec, coll_channel_options, err, errlen);
	if (r < 0)
		return r;
	snprintf(c->name, sizeof(c->name), "%s", sec->instance);
	if (ep_config_get_string(sec, coll_channel_options, "type", &type, err, errlen) != 0)
		return bad(sec, "type",
			   "required: generic, dingtalk, wecom, feishu, slack or email", err,
			   errlen);
	c->email = strcmp(type, "email") == 0;
	if (!c->email && coll_webhook_format_parse(type, &c->format) < 0)
		return bad(sec, "type", "not generic, dingtalk, wecom, feishu, slack or email", err,
			   errlen);
	ep_config_get_string(sec, coll_channel_options, "language", &lang, err, errlen);
	if (strcmp(lang, "en") != 0 && strcmp(lang, "zh-CN") != 0)
		return bad(sec, "language", "en or zh-CN", err, errlen);
	snprintf(c->lang, sizeof(c->lang), "%s", lang);
	if ((r = dup_opt(sec, "url", &c->url, err, errlen)) < 0 ||
	    (r = dup_opt(sec, "secret", &c->secret, err, errlen)) < 0 ||
	    (r = dup_opt(sec, "to", &c->to, err, errlen)) < 0)
		return r;
	if (c->email && !c->to)
		return bad(sec, "to", "an email channel needs recipients", err, errlen);
	if (!c->email && !c->url)
		return bad(sec, "url", "a webhook channel needs a URL", err, errlen);
	if (!c->email && strncmp(c->url, "http://", 7) != 0 && strncmp(c->url, "https://", 8) != 0)
		return bad(sec, "url", "http:// or https:// only", err, errlen);
	if (c->secret && c->format != COLL_WEBHOOK_DINGTALK && c->format != COLL_WEBHOOK_FEISHU)
		return bad(sec, "secret", "only DingTalk and Feishu robots sign", err, errlen);
	return 0;
}

static int load_route(const struct coll_channels *cs, const struct ep_config_section *sec,
		      struct coll_route_rule *rt, char *err, size_t errlen)
{
	const struct ep_option *o = coll_route_options;
	int r = ep_config_check(sec, o, err, errlen);
	if (r < 0)
		return r;
	snprintf(rt->name, sizeof(rt->name), "%s", sec->instance);
	struct {
		const char *key;
		char ***dst;
	} lists[] = {{"customer", &rt->customers},  {"tier", &rt->tiers},
		     {"severity", &rt->severities}, {"rule", &rt->rules},
		     {"events", &rt->events},       {"channels", &rt->channels}};
	for (size_t i = 0; i < EP_ARRAY_SIZE(lists); i++) {
		r = ep_config_get_list(sec, o, lists[i].key, lists[i].dst, err, errlen);
		if (r == -ENOENT)
			*lists[i].dst = NULL;
		else if (r < 0)
			return r;
	}
	if (!rt->channels || !rt->channels[0])
		return bad(sec, "channels", "required: the channel names to notify", err, errlen);
	for (char **c = rt->channels; *c; c++)
		if (!coll_channel_find(cs, *c)) {
			char what[160];
			snprintf(what, sizeof(what), "no [channel.%.64s] section", *c);
			return bad(sec, "channels", what, err, errlen);
		}
	return 0;
}

int coll_channels_load(const struct ep_config *cfg, struct coll_channels *ret, char *err,
		       size_t errlen)
{
	struct coll_channels c = {0};
	int r = -ENOMEM;
	c.v = calloc(COLL_CHANNEL_MAX, sizeof(*c.v));
	c.routes = calloc(COLL_ROUTE_MAX, sizeof(*c.routes));
	if (!c.v || !c.routes)
		goto fail;
	for (int pass = 0; pass < 2; pass++) /* channels first: routes name them */
		for (size_t i = 0; cfg && i < cfg->n_sections; i++) {
			const struct ep_config_section *sec = &cfg->sections[i];
			const char *want = pass == 0 ? "channel" : "route";
			if (strcmp(sec->type, want) != 0)
				continue;
			if (!name_ok(sec->instance)) {
				r = bad(sec, "name",
					"[channel.NAME] / [route.NAME]: NAME in A-Z, a-z, "
					"0-9, _ and -",
					err, errlen);
				goto fail;
			}
			if (pass == 0) {
				if (c.n == COLL_CHANNEL_MAX) {
					r = bad(sec, "name", "too many channels", err, errlen);
					goto fail;
				}
				r = load_channel(sec, &c.v[c.n++], err, errlen);
			} else {
				if (c.n_routes == COLL_ROUTE_MAX) {
					r = bad(sec, "name", "too many routes", err, errlen);
					goto fail;
				}
				r = load_route(&c, sec, &c.routes[c.n_routes++], err, errlen);
			}
			if (r < 0)
				goto fail;
		}
	*ret = c;
	return 0;
fail:
	coll_channels_free(&c);
	return r;
}

/* ---- rendering ------------------------------------------------------------------- */

static enum coll_notice_state notice_state(const char *event)
{
	if (strcmp(event, "opened") == 0 || strcmp(event, "reopened") == 0)
		return COLL_NOTICE_RAISE;
	if (strcmp(event, "resolved") == 0)
		return COLL_NOTICE_CLEAR;
	return COLL_NOTICE_ESCALATE;
}

/* "30 min", "4 h", "1 h 30 min" */
static void duration_text(int64_t s, char *buf, size_t size)
{
	int64_t h = s / 3600, m = (s % 3600) / 60;
	if (h && m)
		snprintf(buf, size, "%" PRId64 " h %" PRId64 " min", h, m);
	else if (h)
		snprintf(buf, size, "%" PRId64 " h", h);
	else
		snprintf(buf, size, "%" PRId64 " min", m);
}

static void message_text(const struct coll_channel *c, const struct coll_incident_notice *n,
			 char *buf, size_t size)
{
	char id[24], target[32], before[32], after[32], seq[24], level[8];
	snprintf(id, sizeof(id), "%" PRId64, n->incident_id);
	duration_text(n->target_s, target, sizeof(target));
	snprintf(before, sizeof(before), isfinite(n->before) ? "%.1f" : "n/a", n->before);
	snprintf(after, sizeof(after), isfinite(n->after) ? "%.1f" : "n/a", n->after);
	snprintf(seq, sizeof(seq), "%" PRId64, n->report_seq);
	snprintf(level, sizeof(level), "L%d", n->level);
	const struct coll_notice lang = {.lang = c->lang};
	const char *rule = coll_notice_rule_text(&lang, n->rule);
	const char *vars[] = {"id",      id,        "host",   n->hostname, "rule",   rule,
			      "object",  n->object, "target", target,      "level",  level,
			      "before",  before,    "after",  after,       "report", seq,
			      "channel", c->name,   NULL};
	char key[64];
	const char *ev = n->event;
	if (strcmp(ev, "test") == 0) {
		coll_text_render("notify.test", c->lang, vars, buf, size);
		return;
	}
	if (strncmp(ev, "escalate_", 9) == 0)
		ev = "escalated";
	else if (strcmp(ev, "resolved") == 0)
		ev = "resolved_verified";
	snprintf(key, sizeof(key), "incident.%s", ev);
	coll_text_render(key, c->lang, vars, buf, size);
}

int coll_channel_render(const struct coll_channels *cs, const struct coll_channel *c,
			const struct coll_incident_notice *n, char **ret)
{
	char message[1024], nid[64];
	snprintf(nid, sizeof(nid), "incident-%" PRId64 "-%s", n->incident_id, n->event);
	message_text(c, n, message, sizeof(message));
	bool resolved = strcmp(n->event, "resolved") == 0;
	struct coll_notice no = {
		.host = n->hostname,
		.customer = n->customer,
		.rule = n->rule,
		.object = n->object,
		.severity = n->severity,
		.value = resolved ? n->after : n->before,
		.message = message,
		.state = notice_state(n->event),
		.dashboard_url = cs->dashboard_url,
		.at = n->at,
		.id = nid,
		.lang = c->lang,
	};
	*ret = NULL;
	if (c->email)
		return coll_notice_render_mail(&no, cs->mail_from ? cs->mail_from : "erpulse",
					       c->to, ret);
	char *body = coll_notice_render_webhook(&no, c->format);
	if (!body)
		return -ENOMEM;
	if (c->format != COLL_WEBHOOK_GENERIC) {
		*ret = body;
		return 0;
	}
	/* the generic format carries the incident's own fields */
	json_t *o = json_loads(body, 0, NULL), *inc = json_object();
	free(body);
	if (!o || !inc) {
		json_decref(o);
		json_decref(inc);
		return -ENOMEM;
	}
	json_object_set_new(inc, "id", json_integer(n->incident_id));
	json_object_set_new(inc, "event", json_string(n->event));
	json_object_set_new(inc, "level", json_integer(n->level));
	json_object_set_new(inc, "tier", json_string(n->tier));
	if (isfinite(n->before))
		json_object_set_new(inc, "before", json_real(n->before));
	if (isfinite(n->after))
		json_object_set_new(inc, "after", json_real(n->after));
	if (n->report_seq)
		json_object_set_new(inc, "report_seq", json_integer(n->report_seq));
	json_object_set_new(o, "incident", inc);
	*ret = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return *ret ? 0 : -ENOMEM;
}

int coll_channel_send(const struct coll_channels *cs, const struct coll_channel *c,
		      const char *payload, const struct coll_send_opts *o, int64_t now_ms,
		      struct coll_send_result *ret)
{
	if (c->email) {
		if (!cs->smtp_url || !cs->mail_from) {
			memset(ret, 0, sizeof(*ret));
			ret->outcome = COLL_SEND_PERMANENT;
			snprintf(ret->error, sizeof(ret->error),
				 "channel %s: [alerts] smtp_url and mail_from are not set",
				 c->name);
			return 0;
		}
		return coll_mail_send(cs->smtp_url, cs->mail_from, c->to, payload, o, ret);
	}
	if (!c->secret)
		return coll_webhook_send(c->url, payload, strlen(payload), o, ret);
	char *url = NULL, *body = NULL;
	if (c->format == COLL_WEBHOOK_DINGTALK)
		url = coll_dingtalk_signed_url(c->url, c->secret, now_ms);
	else
		body = coll_feishu_signed_text(payload, c->secret, now_ms / 1000);
	int r;
	if ((c->format == COLL_WEBHOOK_DINGTALK && !url) ||
	    (c->format == COLL_WEBHOOK_FEISHU && !body)) {
		memset(ret, 0, sizeof(*ret));
		ret->outcome = COLL_SEND_PERMANENT;
		snprintf(ret->error, sizeof(ret->error), "channel %s: cannot sign the notice",
			 c->name);
		r = 0;
	} else {
		const char *b = body ? body : payload;
		r = coll_webhook_send(url ? url : c->url, b, strlen(b), o, ret);
	}
	free(url);
	free(body);
	return r;
}

/* ---- routing ---------------------------------------------------------------------- */

static bool any_or_has(char **list, const char *v)
{
	if (!list)
		return true;
	for (; *list; list++)
		if (v && strcmp(*list, v) == 0)
			return true;
	return false;
}

static bool route_matches(const struct coll_route_rule *rt, const struct coll_incident_notice *n)
{
	return (any_or_has(rt->customers, n->customer) ||
		any_or_has(rt->customers, n->customer_id)) &&
	       any_or_has(rt->tiers, n->tier) && any_or_has(rt->severities, n->severity) &&
	       any_or_has(rt->rules, n->rule) && any_or_has(rt->events, n->event);
}

static int enqueue_one(struct coll_store *s, const struct coll_channels *cs,
		       const struct coll_channel *c, const struct coll_incident_notice *n,
		       int64_t now)
{
	char *body, ch[COLL_CHANNEL_NAME_SIZE + 4];
	int r = coll_channel_render(cs, c, n, &body);
	if (r < 0)
		return r;
	snprintf(ch, sizeof(ch), "ch:%s", c->name);
	r = coll_store_outbox_add(s, ch, body, now);
	free(body);
	return r;
}

/* Adds c to the set once. */
static void add_once(const struct coll_channel **set, size_t *k, const struct coll_channel *c)
{
	for (size_t j = 0; j < *k; j++)
		if (set[j] == c)
			return;
	if (c && *k < COLL_CHANNEL_MAX)
		set[(*k)++] = c;
}

int coll_channels_enqueue(struct coll_store *s, const struct coll_channels *cs,
			  const char *level_channels, const struct coll_incident_notice *n,
			  int64_t now, size_t *ret_n)
{
	const struct coll_channel *set[COLL_CHANNEL_MAX];
	size_t k = 0;
	int r = 0;
	*ret_n = 0;
	/* the escalation level's channels, then every matching route's */
	for (const char *p = level_channels; p && *p;) {
		size_t len = strcspn(p, " ,\t");
		char name[COLL_CHANNEL_NAME_SIZE];
		if (len && len < sizeof(name)) {
			memcpy(name, p, len);
			name[len] = '\0';
			add_once(set, &k, coll_channel_find(cs, name));
		}
		p += len;
		p += strspn(p, " ,\t");
	}
	for (size_t i = 0; i < cs->n_routes; i++)
		if (route_matches(&cs->routes[i], n))
			for (char **name = cs->routes[i].channels; *name; name++)
				add_once(set, &k, coll_channel_find(cs, *name));
	for (size_t i = 0; i < k && r == 0; i++) {
		r = enqueue_one(s, cs, set[i], n, now);
		if (r == 0)
			(*ret_n)++;
	}
	return r;
}
