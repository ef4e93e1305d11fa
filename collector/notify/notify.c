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

static const char *state_verb(enum coll_notice_state s)
{
	switch (s) {
	case COLL_NOTICE_RAISE:
		return "raised";
	case COLL_NOTICE_ESCALATE:
		return "escalated";
	case COLL_NOTICE_DEESCALATE:
		return "de-escalated";
	case COLL_NOTICE_CLEAR:
		return "cleared";
	}
	return "changed";
}

static void severity_upper(const struct coll_notice *n, char *buf, size_t size)
{
	const char *sev =
		n->state == COLL_NOTICE_CLEAR ? "resolved" : coll_s_or(n->severity, "alert");
	size_t i;

	for (i = 0; sev[i] && i + 1 < size; i++)
		buf[i] = (char)(sev[i] >= 'a' && sev[i] <= 'z' ? sev[i] - 32 : sev[i]);
	buf[i] = '\0';
}

void coll_notice_value(const struct coll_notice *n, char *buf, size_t size)
{
	if (isnan(n->value))
		snprintf(buf, size, "n/a");
	else if (isinf(n->value))
		snprintf(buf, size, "never");
	else
		snprintf(buf, size, "%.1f%s%s", n->value, n->unit ? " " : "",
			 coll_s_or(n->unit, ""));
}

int coll_notice_title(const struct coll_notice *n, char *buf, size_t size)
{
	char sev[32], val[64];

	if (!n || !buf || !size)
		return -EINVAL;
	severity_upper(n, sev, sizeof(sev));
	coll_notice_value(n, val, sizeof(val));
	return ep_snprintf(buf, size, "[%s] %s: %s %s on %s (%s)", sev, coll_s_or(n->host, "?"),
			   coll_s_or(n->rule, "alert"), state_verb(n->state),
			   coll_s_or(n->object, "?"), val);
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
	r |= ep_buf_printf(&b, "- **Customer:** %s\n", coll_s_or(n->customer, "-"));
	r |= ep_buf_printf(&b, "- **Host:** %s\n", coll_s_or(n->host, "-"));
	r |= ep_buf_printf(&b, "- **Rule:** %s\n", coll_s_or(n->rule, "-"));
	r |= ep_buf_printf(&b, "- **Object:** %s\n", coll_s_or(n->object, "-"));
	r |= ep_buf_printf(&b, "- **Severity:** %s\n", coll_s_or(n->severity, "-"));
	r |= ep_buf_printf(&b, "- **State:** %s\n", coll_notice_state_name(n->state));
	r |= ep_buf_printf(&b, "- **Value:** %s\n", val);
	r |= ep_buf_printf(&b, "- **At:** %s\n", when);
	if (n->message)
		r |= ep_buf_printf(&b, "\n%s\n", n->message);
	if (n->remediation)
		r |= ep_buf_printf(&b, "\n**Remediation:** %s\n", n->remediation);
	if (n->dashboard_url)
		r |= ep_buf_printf(&b, "\n[Open in dashboard](%s)\n", n->dashboard_url);
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
