/* Alert notices (notify.h): names of states, formats and outcomes; the
 * title and the text pieces every channel uses (channel.h); and the one
 * "render this notice for that channel" entry point, which picks the
 * channel's renderer (generic.c, dingtalk.c, wecom.c, feishu.c, slack.c;
 * e-mail is smtp.c). Sending: webhook.c, smtp.c. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "collector/notify/channel.h"
#include "collector/notify/notify.h"
#include "collector/web/i18n.h"
#include "erpulse/crypto.h"
#include "erpulse/util.h"

const char *coll_notice_state_name(enum coll_notice_state s)
{
	switch (s) {
	case COLL_NOTICE_RAISE:
		return "raise";
	case COLL_NOTICE_ESCALATE:
		return "escalate";
	case COLL_NOTICE_DEESCALATE:
		return "deescalate";
	case COLL_NOTICE_CLEAR:
		return "clear";
	}
	return "unknown";
}

int coll_notice_state_parse(const char *s, enum coll_notice_state *ret)
{
	static const enum coll_notice_state all[] = {COLL_NOTICE_RAISE, COLL_NOTICE_ESCALATE,
						     COLL_NOTICE_DEESCALATE, COLL_NOTICE_CLEAR};
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < EP_ARRAY_SIZE(all); i++)
		if (!strcmp(s, coll_notice_state_name(all[i]))) {
			*ret = all[i];
			return 0;
		}
	return -EINVAL;
}

const char *coll_webhook_format_name(enum coll_webhook_format f)
{
	switch (f) {
	case COLL_WEBHOOK_GENERIC:
		return "generic";
	case COLL_WEBHOOK_DINGTALK:
		return "dingtalk";
	case COLL_WEBHOOK_WECOM:
		return "wecom";
	case COLL_WEBHOOK_FEISHU:
		return "feishu";
	case COLL_WEBHOOK_SLACK:
		return "slack";
	}
	return "unknown";
}

int coll_webhook_format_parse(const char *s, enum coll_webhook_format *ret)
{
	static const enum coll_webhook_format all[] = {COLL_WEBHOOK_GENERIC, COLL_WEBHOOK_DINGTALK,
						       COLL_WEBHOOK_WECOM, COLL_WEBHOOK_FEISHU,
						       COLL_WEBHOOK_SLACK};
	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < EP_ARRAY_SIZE(all); i++)
		if (!strcmp(s, coll_webhook_format_name(all[i]))) {
			*ret = all[i];
			return 0;
		}
	return -EINVAL;
}

const char *coll_send_outcome_name(enum coll_send_outcome o)
{
	switch (o) {
	case COLL_SEND_OK:
		return "ok";
	case COLL_SEND_RETRY:
		return "retry";
	case COLL_SEND_PERMANENT:
		return "permanent";
	}
	return "unknown";
}

/* ---- rendering ------------------------------------------------------------ */

const char *coll_s_or(const char *s, const char *def)
{
	return s && *s ? s : def;
}

const char *coll_notice_text(const struct coll_notice *n, const char *key)
{
	return coll_i18n_text(n->lang, key);
}

/* The catalog text of prefix + name ("notice.level." + "critical"), or name
 * itself when the catalog has none. */
static const char *word(const struct coll_notice *n, const char *prefix, const char *name)
{
	char key[96];
	snprintf(key, sizeof(key), "%s%s", prefix, name);
	const char *t = coll_notice_text(n, key);
	return strcmp(t, key) == 0 ? name : t;
}

const char *coll_notice_level(const struct coll_notice *n)
{
	return word(n, "notice.level.", coll_s_or(n->severity, "alert"));
}

const char *coll_notice_state_text(const struct coll_notice *n)
{
	return word(n, "notice.state.", coll_notice_state_name(n->state));
}

/* The rule as people read it: its finding kind's title in a translated
 * notice, the rule's name in English (what operators grep for). */
const char *coll_notice_rule_text(const struct coll_notice *n, const char *rule)
{
	if (!rule || strcmp(coll_i18n_lang(n->lang), "en") == 0)
		return coll_s_or(rule, "alert");
	return coll_i18n_finding(n->lang, rule, "title");
}

void coll_notice_value(const struct coll_notice *n, char *buf, size_t size)
{
	if (isnan(n->value))
		snprintf(buf, size, "n/a");
	else if (isinf(n->value))
		snprintf(buf, size, "%s", coll_notice_text(n, "notice.value.never"));
	else
		snprintf(buf, size, "%.1f%s%s", n->value, n->unit ? " " : "",
			 coll_s_or(n->unit, ""));
}

int coll_notice_title(const struct coll_notice *n, char *buf, size_t size)
{
	char val[64], summary[768];

	if (!n || !buf || !size)
		return -EINVAL;
	const char *sev = n->state == COLL_NOTICE_CLEAR
				  ? coll_notice_text(n, "notice.severity.resolved")
				  : word(n, "notice.severity.", coll_s_or(n->severity, "alert"));
	if (!n->summary) {
		coll_notice_value(n, val, sizeof(val));
		const char *vars[] = {
			"rule",   coll_notice_rule_text(n, n->rule),
			"verb",   word(n, "notice.verb.", coll_notice_state_name(n->state)),
			"object", coll_s_or(n->object, "?"),
			"value",  val,
			NULL};
		coll_i18n_render(n->lang, "notice.summary", vars, summary, sizeof(summary));
	}
	const char *vars[] = {"severity", sev,
			      "host",     coll_s_or(n->host, "?"),
			      "summary",  n->summary ? n->summary : summary,
			      NULL};
	return coll_i18n_render(n->lang, "notice.title", vars, buf, size);
}

/* Cuts s at a UTF-8 character boundary no later than max bytes. */
void coll_utf8_truncate(char *s, size_t max)
{
	size_t len = strlen(s);

	if (len <= max)
		return;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	s[max] = '\0';
}

void coll_notice_when(const struct coll_notice *n, char *buf, size_t size)
{
	time_t t = n->at > 0 ? (time_t)n->at : time(NULL);

	if (ep_time_format(t, buf, size) < 0)
		snprintf(buf, size, "?");
}

void coll_notice_fields(const struct coll_notice *n, const char *value, const char *when,
			struct coll_notice_field f[COLL_NOTICE_FIELDS])
{
	const char *v[COLL_NOTICE_FIELDS][2] = {
		{"notice.field.customer", coll_s_or(n->customer, "-")},
		{"notice.field.host", coll_s_or(n->host, "-")},
		{"notice.field.rule", coll_s_or(n->rule, "-")},
		{"notice.field.object", coll_s_or(n->object, "-")},
		{"notice.field.severity", n->severity ? coll_notice_level(n) : "-"},
		{"notice.field.state", coll_notice_state_text(n)},
		{"notice.field.value", value},
		{"notice.field.at", when},
	};
	for (size_t i = 0; i < COLL_NOTICE_FIELDS; i++)
		f[i] = (struct coll_notice_field){coll_notice_text(n, v[i][0]), v[i][1]};
}

/* Markdown body shared by DingTalk and WeCom. */
char *coll_notice_markdown(const struct coll_notice *n, const char *title)
{
	struct ep_buf b;
	char val[64], when[32];
	int r = 0;

	coll_notice_value(n, val, sizeof(val));
	coll_notice_when(n, when, sizeof(when));
	ep_buf_init(&b, 64 * 1024);
	r |= ep_buf_printf(&b, "### %s\n\n", title);
	struct coll_notice_field f[COLL_NOTICE_FIELDS];
	coll_notice_fields(n, val, when, f);
	for (size_t i = 0; i < COLL_NOTICE_FIELDS; i++)
		r |= ep_buf_printf(&b, "- **%s:** %s\n", f[i].label, f[i].value);
	if (n->message)
		r |= ep_buf_printf(&b, "\n%s\n", n->message);
	if (n->remediation)
		r |= ep_buf_printf(&b, "\n**%s:** %s\n", coll_notice_text(n, "notice.remediation"),
				   n->remediation);
	if (n->dashboard_url)
		r |= ep_buf_printf(&b, "\n[%s](%s)\n", coll_notice_text(n, "notice.open_dashboard"),
				   n->dashboard_url);
	if (r && r != -E2BIG) {
		ep_buf_free(&b);
		return NULL;
	}
	return b.data ? ep_buf_steal(&b) : strdup("");
}

/* Slack mrkdwn: &, < and > must be escaped. */

char *coll_notice_render_webhook(const struct coll_notice *n, enum coll_webhook_format f)
{
	static json_t *(*const render[])(const struct coll_notice *, const char *) = {
		[COLL_WEBHOOK_GENERIC] = coll_render_generic,
		[COLL_WEBHOOK_DINGTALK] = coll_render_dingtalk,
		[COLL_WEBHOOK_WECOM] = coll_render_wecom,
		[COLL_WEBHOOK_FEISHU] = coll_render_feishu,
		[COLL_WEBHOOK_SLACK] = coll_render_slack,
	};
	char title[1024], *out = NULL;
	json_t *o = NULL;

	if (!n)
		return NULL;
	coll_notice_title(n, title, sizeof(title)); /* truncation is fine for a title */
	if ((size_t)f < EP_ARRAY_SIZE(render) && render[f])
		o = render[f](n, title);
	if (o)
		out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return out;
}
