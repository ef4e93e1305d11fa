/* Alert notices: rendering for each channel and one bounded delivery
 * attempt through libcurl. The webhook path refuses private targets by
 * checking every resolved address, pinning the connection to the checked
 * one, and checking again in the socket-open callback (the address curl
 * really connects to), so neither a second DNS answer nor a redirect can
 * reach an internal service. */
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

#include "collector/notify.h"
#include "erpulse/crypto.h"
#include "erpulse/util.h"

#define BODY_KEEP     512  /* bytes of a webhook answer kept for error messages */
#define WECOM_MAX     4000 /* WeCom markdown content limit is 4096 bytes */
#define SLACK_HDR_MAX 150  /* Slack header block plain_text limit */
#define MAIL_LINE_MAX 900  /* RFC 5322: lines at most 998 octets */

#ifndef EP_VERSION
#define EP_VERSION "0.0.0"
#endif

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

static const char *s_or(const char *s, const char *def)
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
	const char *sev = n->state == COLL_NOTICE_CLEAR ? "resolved" : s_or(n->severity, "alert");
	size_t i;

	for (i = 0; sev[i] && i + 1 < size; i++)
		buf[i] = (char)(sev[i] >= 'a' && sev[i] <= 'z' ? sev[i] - 32 : sev[i]);
	buf[i] = '\0';
}

static void value_text(const struct coll_notice *n, char *buf, size_t size)
{
	if (isnan(n->value))
		snprintf(buf, size, "n/a");
	else if (isinf(n->value))
		snprintf(buf, size, "never");
	else
		snprintf(buf, size, "%.1f%s%s", n->value, n->unit ? " " : "", s_or(n->unit, ""));
}

int coll_notice_title(const struct coll_notice *n, char *buf, size_t size)
{
	char sev[32], val[64];

	if (!n || !buf || !size)
		return -EINVAL;
	severity_upper(n, sev, sizeof(sev));
	if (n->summary)
		return ep_snprintf(buf, size, "[%s] %s: %s", sev, s_or(n->host, "?"), n->summary);
	value_text(n, val, sizeof(val));
	return ep_snprintf(buf, size, "[%s] %s: %s %s on %s (%s)", sev, s_or(n->host, "?"),
			   s_or(n->rule, "alert"), state_verb(n->state), s_or(n->object, "?"), val);
}

/* Cuts s at a UTF-8 character boundary no later than max bytes. */
static void utf8_truncate(char *s, size_t max)
{
	size_t len = strlen(s);

	if (len <= max)
		return;
	while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
		max--;
	s[max] = '\0';
}

static void when_text(const struct coll_notice *n, char *buf, size_t size)
{
	time_t t = n->at > 0 ? (time_t)n->at : time(NULL);

	if (ep_time_format(t, buf, size) < 0)
		snprintf(buf, size, "?");
}

/* Markdown body shared by DingTalk and WeCom. */
static char *render_markdown(const struct coll_notice *n, const char *title)
{
	struct ep_buf b;
	char val[64], when[32];
	int r = 0;

	value_text(n, val, sizeof(val));
	when_text(n, when, sizeof(when));
	ep_buf_init(&b, 64 * 1024);
	r |= ep_buf_printf(&b, "### %s\n\n", title);
	r |= ep_buf_printf(&b, "- **Customer:** %s\n", s_or(n->customer, "-"));
	r |= ep_buf_printf(&b, "- **Host:** %s\n", s_or(n->host, "-"));
	r |= ep_buf_printf(&b, "- **Rule:** %s\n", s_or(n->rule, "-"));
	r |= ep_buf_printf(&b, "- **Object:** %s\n", s_or(n->object, "-"));
	r |= ep_buf_printf(&b, "- **Severity:** %s\n", s_or(n->severity, "-"));
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
static int slack_escape(struct ep_buf *b, const char *s)
{
	int r = 0;

	for (; *s && r == 0; s++) {
		switch (*s) {
		case '&':
			r = ep_buf_append(b, "&amp;", 5);
			break;
		case '<':
			r = ep_buf_append(b, "&lt;", 4);
			break;
		case '>':
			r = ep_buf_append(b, "&gt;", 4);
			break;
		default:
			r = ep_buf_append(b, s, 1);
			break;
		}
	}
	return r;
}

static json_t *slack_mrkdwn(const char *label, const char *value)
{
	struct ep_buf b;
	json_t *o;
	int r = 0;

	ep_buf_init(&b, 8192);
	if (label)
		r |= ep_buf_printf(&b, "*%s*\n", label);
	r |= slack_escape(&b, s_or(value, "-"));
	if (r && r != -E2BIG) {
		ep_buf_free(&b);
		return NULL;
	}
	o = json_pack("{s:s, s:s}", "type", "mrkdwn", "text", b.data ? b.data : "");
	ep_buf_free(&b);
	return o;
}

static json_t *render_slack(const struct coll_notice *n, const char *title)
{
	json_t *blocks = json_array(), *fields = json_array(), *o = NULL;
	char hdr[SLACK_HDR_MAX + 1], val[64];
	int r = 0;

	if (!blocks || !fields)
		goto fail;
	{
		size_t tl = strlen(title);
		if (tl > SLACK_HDR_MAX)
			tl = SLACK_HDR_MAX;
		memcpy(hdr, title, tl);
		hdr[tl] = '\0';
		if (strlen(title) > SLACK_HDR_MAX) {
			/* back up to a character boundary */
			while (tl > 0 && ((unsigned char)title[tl] & 0xC0) == 0x80)
				tl--;
			hdr[tl] = '\0';
		}
	}
	value_text(n, val, sizeof(val));
	r |= json_array_append_new(blocks, json_pack("{s:s, s:{s:s, s:s}}", "type", "header",
						     "text", "type", "plain_text", "text", hdr));
	r |= json_array_append_new(fields, slack_mrkdwn("Customer", n->customer));
	r |= json_array_append_new(fields, slack_mrkdwn("Host", n->host));
	r |= json_array_append_new(fields, slack_mrkdwn("Rule", n->rule));
	r |= json_array_append_new(fields, slack_mrkdwn("Object", n->object));
	r |= json_array_append_new(fields, slack_mrkdwn("Severity", n->severity));
	r |= json_array_append_new(fields, slack_mrkdwn("Value", val));
	r |= json_array_append_new(blocks,
				   json_pack("{s:s, s:o}", "type", "section", "fields", fields));
	fields = NULL;
	if (n->message)
		r |= json_array_append_new(blocks,
					   json_pack("{s:s, s:o}", "type", "section", "text",
						     slack_mrkdwn(NULL, n->message)));
	if (n->remediation)
		r |= json_array_append_new(blocks,
					   json_pack("{s:s, s:o}", "type", "section", "text",
						     slack_mrkdwn("Remediation", n->remediation)));
	if (n->dashboard_url) {
		struct ep_buf b;
		ep_buf_init(&b, 8192);
		if (ep_buf_printf(&b, "<%s|Open in dashboard>", n->dashboard_url) < 0) {
			ep_buf_free(&b);
			goto fail;
		}
		r |= json_array_append_new(blocks,
					   json_pack("{s:s, s:{s:s, s:s}}", "type", "section",
						     "text", "type", "mrkdwn", "text", b.data));
		ep_buf_free(&b);
	}
	if (r)
		goto fail;
	o = json_pack("{s:s, s:o}", "text", title, "blocks", blocks);
	return o;
fail:
	json_decref(fields);
	json_decref(blocks);
	return NULL;
}

static json_t *feishu_line(const char *label, const char *value)
{
	char buf[8192];

	snprintf(buf, sizeof(buf), "%s: %s", label, s_or(value, "-"));
	return json_pack("[{s:s, s:s}]", "tag", "text", "text", buf);
}

static json_t *render_feishu(const struct coll_notice *n, const char *title)
{
	json_t *content = json_array();
	char val[64], when[32];
	int r = 0;

	if (!content)
		return NULL;
	value_text(n, val, sizeof(val));
	when_text(n, when, sizeof(when));
	r |= json_array_append_new(content, feishu_line("Customer", n->customer));
	r |= json_array_append_new(content, feishu_line("Host", n->host));
	r |= json_array_append_new(content, feishu_line("Rule", n->rule));
	r |= json_array_append_new(content, feishu_line("Object", n->object));
	r |= json_array_append_new(content, feishu_line("Severity", n->severity));
	r |= json_array_append_new(content, feishu_line("State", coll_notice_state_name(n->state)));
	r |= json_array_append_new(content, feishu_line("Value", val));
	r |= json_array_append_new(content, feishu_line("At", when));
	if (n->message)
		r |= json_array_append_new(
			content, json_pack("[{s:s, s:s}]", "tag", "text", "text", n->message));
	if (n->remediation)
		r |= json_array_append_new(content, feishu_line("Remediation", n->remediation));
	if (n->dashboard_url)
		r |= json_array_append_new(content, json_pack("[{s:s, s:s, s:s}]", "tag", "a",
							      "text", "Open in dashboard", "href",
							      n->dashboard_url));
	if (r) {
		json_decref(content);
		return NULL;
	}
	return json_pack("{s:s, s:{s:{s:{s:s, s:o}}}}", "msg_type", "post", "content", "post",
			 "zh_cn", "title", title, "content", content);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *render_generic(const struct coll_notice *n, const char *title)
{
	json_t *o = json_object();
	char when[32];
	int r = 0;

	if (!o)
		return NULL;
	when_text(n, when, sizeof(when));
	r |= json_object_set_new(o, "source", json_string("erpulse"));
	r |= json_object_set_new(o, "version", json_integer(1));
	r |= json_object_set_new(o, "id", str_or_null(n->id));
	r |= json_object_set_new(o, "title", json_string(title));
	r |= json_object_set_new(o, "state", json_string(coll_notice_state_name(n->state)));
	r |= json_object_set_new(o, "customer", str_or_null(n->customer));
	r |= json_object_set_new(o, "host", str_or_null(n->host));
	r |= json_object_set_new(o, "rule", str_or_null(n->rule));
	r |= json_object_set_new(o, "object", str_or_null(n->object));
	r |= json_object_set_new(o, "severity", str_or_null(n->severity));
	r |= json_object_set_new(o, "value",
				 isfinite(n->value) ? json_real(n->value) : json_null());
	r |= json_object_set_new(o, "unit", str_or_null(n->unit));
	r |= json_object_set_new(o, "message", str_or_null(n->message));
	r |= json_object_set_new(o, "remediation", str_or_null(n->remediation));
	r |= json_object_set_new(o, "dashboard_url", str_or_null(n->dashboard_url));
	r |= json_object_set_new(o, "at", json_string(when));
	if (r) {
		json_decref(o);
		return NULL;
	}
	return o;
}

char *coll_notice_render_webhook(const struct coll_notice *n, enum coll_webhook_format f)
{
	char title[1024], *md = NULL, *out = NULL;
	json_t *o = NULL;

	if (!n)
		return NULL;
	coll_notice_title(n, title, sizeof(title)); /* truncation is fine for a title */
	switch (f) {
	case COLL_WEBHOOK_GENERIC:
		o = render_generic(n, title);
		break;
	case COLL_WEBHOOK_DINGTALK:
		md = render_markdown(n, title);
		if (md)
			o = json_pack("{s:s, s:{s:s, s:s}}", "msgtype", "markdown", "markdown",
				      "title", title, "text", md);
		break;
	case COLL_WEBHOOK_WECOM:
		md = render_markdown(n, title);
		if (md) {
			utf8_truncate(md, WECOM_MAX);
			o = json_pack("{s:s, s:{s:s}}", "msgtype", "markdown", "markdown",
				      "content", md);
		}
		break;
	case COLL_WEBHOOK_FEISHU:
		o = render_feishu(n, title);
		break;
	case COLL_WEBHOOK_SLACK:
		o = render_slack(n, title);
		break;
	}
	if (o)
		out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	free(md);
	return out;
}

/* ---- e-mail ----------------------------------------------------------------- */

static bool has_crlf(const char *s)
{
	return s && strpbrk(s, "\r\n") != NULL;
}

static bool is_ascii_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* Subject header value: plain when printable ASCII, else RFC 2047 encoded
 * words of at most 45 input bytes (cut at UTF-8 boundaries), folded. */
static int put_subject(struct ep_buf *b, const char *subject)
{
	size_t len = strlen(subject), pos = 0;
	int r = 0;

	if (is_ascii_printable(subject))
		return ep_buf_printf(b, "Subject: %s\r\n", subject);
	r |= ep_buf_printf(b, "Subject:");
	while (pos < len && r == 0) {
		size_t chunk = len - pos > 45 ? 45 : len - pos;
		char enc[80];
		while (pos + chunk < len && chunk > 0 &&
		       ((unsigned char)subject[pos + chunk] & 0xC0) == 0x80)
			chunk--;
		if (chunk == 0)
			chunk = 1;
		if (ep_base64_encode(subject + pos, chunk, enc, sizeof(enc)) < 0)
			return -ENOSPC;
		r |= ep_buf_printf(b, "%s=?UTF-8?B?%s?=", pos ? "\r\n " : " ", enc);
		pos += chunk;
	}
	r |= ep_buf_printf(b, "\r\n");
	return r;
}

/* Appends text with CRLF line ends, control characters (but tab) dropped and
 * lines wrapped at MAIL_LINE_MAX bytes on UTF-8 boundaries. */
static int put_body_text(struct ep_buf *b, const char *s)
{
	size_t col = 0;
	int r = 0;

	for (; *s && r == 0; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n') {
			r = ep_buf_append(b, "\r\n", 2);
			col = 0;
			continue;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			continue;
		if (col >= MAIL_LINE_MAX && (c & 0xC0) != 0x80) {
			r = ep_buf_append(b, "\r\n", 2);
			col = 0;
		}
		if (r == 0)
			r = ep_buf_append(b, s, 1);
		col++;
	}
	return r;
}

static void mail_date(int64_t at, char *buf, size_t size)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = at > 0 ? (time_t)at : time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, size, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
		 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int coll_notice_render_mail(const struct coll_notice *n, const char *from, const char *to,
			    char **ret_message)
{
	struct ep_buf b;
	char title[1024], date[64], val[64], when[32], idhex[33], subj[1024];
	unsigned char rnd[16];
	const char *domain;
	int r = 0;

	if (!n || !from || !to || !ret_message || has_crlf(from) || has_crlf(to))
		return -EINVAL;
	coll_notice_title(n, title, sizeof(title));
	/* the subject must not carry control characters from the data */
	snprintf(subj, sizeof(subj), "%s", title);
	for (char *p = subj; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	mail_date(n->at, date, sizeof(date));
	value_text(n, val, sizeof(val));
	when_text(n, when, sizeof(when));
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		ep_random_bytes(rnd, sizeof(rnd));
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(idhex + 2 * i, 3, "%02x", rnd[i]);
	domain = strrchr(from, '@');
	domain = domain && domain[1] ? domain + 1 : "erpulse.invalid";

	ep_buf_init(&b, 256 * 1024);
	r |= ep_buf_printf(&b, "From: %s\r\n", from);
	r |= ep_buf_printf(&b, "To: %s\r\n", to);
	r |= put_subject(&b, subj);
	r |= ep_buf_printf(&b, "Date: %s\r\n", date);
	/* the domain may end in '>' when from is "Name <addr>" */
	r |= ep_buf_printf(&b, "Message-ID: <%s.erpulse@%.*s>\r\n", idhex,
			   (int)strcspn(domain, ">"), domain);
	r |= ep_buf_printf(&b, "MIME-Version: 1.0\r\n");
	r |= ep_buf_printf(&b, "Content-Type: text/plain; charset=UTF-8\r\n");
	r |= ep_buf_printf(&b, "Content-Transfer-Encoding: 8bit\r\n");
	r |= ep_buf_printf(&b, "X-Erpulse-Rule: %s\r\n",
			   has_crlf(n->rule) ? "-" : s_or(n->rule, "-"));
	r |= ep_buf_printf(&b, "X-Erpulse-State: %s\r\n", coll_notice_state_name(n->state));
	r |= ep_buf_printf(&b, "\r\n");
	r |= put_body_text(&b, title);
	r |= ep_buf_printf(&b, "\r\n\r\n");
	r |= ep_buf_printf(&b, "State:    %s\r\n", coll_notice_state_name(n->state));
	r |= ep_buf_printf(&b, "Severity: %s\r\n", s_or(n->severity, "-"));
	r |= ep_buf_printf(&b, "Customer: ");
	r |= put_body_text(&b, s_or(n->customer, "-"));
	r |= ep_buf_printf(&b, "\r\nHost:     ");
	r |= put_body_text(&b, s_or(n->host, "-"));
	r |= ep_buf_printf(&b, "\r\nRule:     ");
	r |= put_body_text(&b, s_or(n->rule, "-"));
	r |= ep_buf_printf(&b, "\r\nObject:   ");
	r |= put_body_text(&b, s_or(n->object, "-"));
	r |= ep_buf_printf(&b, "\r\nValue:    %s\r\nAt:       %s\r\n", val, when);
	if (n->message) {
		r |= ep_buf_printf(&b, "\r\n");
		r |= put_body_text(&b, n->message);
		r |= ep_buf_printf(&b, "\r\n");
	}
	if (n->remediation) {
		r |= ep_buf_printf(&b, "\r\nRemediation:\r\n");
		r |= put_body_text(&b, n->remediation);
		r |= ep_buf_printf(&b, "\r\n");
	}
	if (n->dashboard_url) {
		r |= ep_buf_printf(&b, "\r\nDashboard: ");
		r |= put_body_text(&b, n->dashboard_url);
		r |= ep_buf_printf(&b, "\r\n");
	}
	if (r) {
		ep_buf_free(&b);
		return r == -E2BIG ? -E2BIG : -ENOMEM;
	}
	*ret_message = ep_buf_steal(&b);
	return 0;
}

/* ---- address classification ------------------------------------------------ */

static bool v4_private(uint32_t a) /* host byte order */
{
	static const struct {
		uint32_t net, mask;
	} ranges[] = {
		{0x00000000, 0xFF000000}, /* 0/8 "this network" */
		{0x0A000000, 0xFF000000}, /* 10/8 */
		{0x64400000, 0xFFC00000}, /* 100.64/10 carrier-grade NAT */
		{0x7F000000, 0xFF000000}, /* 127/8 loopback */
		{0xA9FE0000, 0xFFFF0000}, /* 169.254/16 link-local (cloud metadata) */
		{0xAC100000, 0xFFF00000}, /* 172.16/12 */
		{0xC0000000, 0xFFFFFF00}, /* 192.0.0/24 IETF protocol assignments */
		{0xC0000200, 0xFFFFFF00}, /* 192.0.2/24 TEST-NET-1 */
		{0xC0A80000, 0xFFFF0000}, /* 192.168/16 */
		{0xC6120000, 0xFFFE0000}, /* 198.18/15 benchmarking */
		{0xC6336400, 0xFFFFFF00}, /* 198.51.100/24 TEST-NET-2 */
		{0xCB007100, 0xFFFFFF00}, /* 203.0.113/24 TEST-NET-3 */
		{0xE0000000, 0xE0000000}, /* 224/3: multicast, reserved, broadcast */
	};

	for (size_t i = 0; i < EP_ARRAY_SIZE(ranges); i++)
		if ((a & ranges[i].mask) == ranges[i].net)
			return true;
	return false;
}

static uint32_t v4_at(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool v6_private(const unsigned char *a)
{
	static const unsigned char zero[16];
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

	if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1))
		return true; /* :: and ::1 */
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0)
		return v4_private(v4_at(a + 12)); /* ::ffff:a.b.c.d, 64:ff9b::a.b.c.d */
	if (memcmp(a, zero, 12) == 0)
		return true; /* ::a.b.c.d (deprecated IPv4-compatible): never a public target */
	if ((a[0] & 0xfe) == 0xfc)
		return true; /* fc00::/7 unique local */
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return true; /* fe80::/10 link-local */
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
		return true; /* fec0::/10 old site-local */
	if (a[0] == 0xff)
		return true; /* multicast */
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0d && a[3] == 0xb8)
		return true; /* 2001:db8::/32 documentation */
	if (a[0] == 0x20 && a[1] == 0x02)
		return v4_private(v4_at(a + 2)); /* 6to4 2002:a.b.c.d::/48 */
	if (a[0] == 0x01 && a[1] == 0x00 && memcmp(a + 2, zero, 6) == 0)
		return true; /* 100::/64 discard */
	return false;
}

bool coll_addr_is_private(const struct sockaddr *sa)
{
	if (!sa)
		return true;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
		return v4_private(ntohl(in->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
		return v6_private(in6->sin6_addr.s6_addr);
	}
	return true; /* anything else is not a webhook target */
}

int coll_ip_text_is_private(const char *text)
{
	struct sockaddr_in in = {.sin_family = AF_INET};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};

	if (!text)
		return -EINVAL;
	if (inet_pton(AF_INET, text, &in.sin_addr) == 1)
		return coll_addr_is_private((const struct sockaddr *)&in);
	if (inet_pton(AF_INET6, text, &in6.sin6_addr) == 1)
		return coll_addr_is_private((const struct sockaddr *)&in6);
	return -EINVAL;
}

/* ---- sending ------------------------------------------------------------------ */

static void result_set(struct coll_send_result *r, enum coll_send_outcome o, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void result_set(struct coll_send_result *r, enum coll_send_outcome o, const char *fmt, ...)
{
	va_list ap;

	r->outcome = o;
	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
}

struct sink {
	char data[BODY_KEEP + 1];
	size_t len;
};

static size_t sink_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct sink *s = userdata;
	size_t n = size * nmemb, room = BODY_KEEP - s->len;

	memcpy(s->data + s->len, ptr, n < room ? n : room);
	s->len += n < room ? n : room;
	s->data[s->len] = '\0';
	return n;
}

struct guard {
	bool allow_private;
	bool refused;
	char refused_ip[64];
};

static void sockaddr_text(const struct sockaddr *sa, char *buf, size_t size)
{
	const void *addr =
		sa->sa_family == AF_INET6
			? (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr
			: (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;

	if (!inet_ntop(sa->sa_family, addr, buf, (socklen_t)size))
		snprintf(buf, size, "?");
}

/* Last line of defence: the address curl is about to connect to. */
static curl_socket_t guard_open(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	struct guard *g = clientp;

	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (!g->allow_private && coll_addr_is_private(&address->addr)) {
		g->refused = true;
		sockaddr_text(&address->addr, g->refused_ip, sizeof(g->refused_ip));
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype, address->protocol);
}

/* DingTalk, WeCom and Feishu answer HTTP 200 even when they drop the
 * message: the verdict is an error code in the JSON body. Rate limits are
 * worth retrying; anything else (bad keyword, bad token) is not. */
static void chat_api_verdict(struct coll_send_result *res, const char *body)
{
	static const long rate_limited[] = {
		130101, /* DingTalk: sending too fast */
		45009,  /* WeCom: API frequency limit */
		9499,   /* Feishu: too many requests */
		11232,  /* Feishu: frequency limited */
	};
	json_t *j = body && body[0] == '{' ? json_loads(body, 0, NULL) : NULL;
	const json_t *code = NULL, *text = NULL;
	long c;

	if (json_is_object(j)) {
		if (json_is_integer(json_object_get(j, "errcode"))) {
			code = json_object_get(j, "errcode");
			text = json_object_get(j, "errmsg");
		} else if (json_is_integer(json_object_get(j, "code")) &&
			   json_is_string(json_object_get(j, "msg"))) {
			code = json_object_get(j, "code");
			text = json_object_get(j, "msg");
		} else if (json_is_integer(json_object_get(j, "StatusCode"))) {
			code = json_object_get(j, "StatusCode");
			text = json_object_get(j, "StatusMessage");
		}
	}
	c = code ? (long)json_integer_value(code) : 0;
	if (c == 0) {
		result_set(res, COLL_SEND_OK, "%s", "");
	} else {
		enum coll_send_outcome o = COLL_SEND_PERMANENT;
		for (size_t i = 0; i < EP_ARRAY_SIZE(rate_limited); i++)
			if (c == rate_limited[i])
				o = COLL_SEND_RETRY;
		result_set(res, o,
			   "HTTP %ld but the receiver refused the message: code %ld: %.150s",
			   res->status, c, json_is_string(text) ? json_string_value(text) : "");
	}
	json_decref(j);
}

static bool curl_error_permanent(CURLcode c)
{
	switch (c) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_LOGIN_DENIED:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_TOO_MANY_REDIRECTS:
		return true;
	default:
		return false;
	}
}

static void apply_common(CURL *h, const struct coll_send_opts *o, char *errbuf)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o && o->timeout_ms > 0 ? o->timeout_ms : 10000L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 o && o->connect_timeout_ms > 0 ? o->connect_timeout_ms : 5000L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	if (o && o->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, o->ca_file);
	/* an environment proxy would connect somewhere we did not check */
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
}

int coll_webhook_send(const char *url, const char *body, size_t len,
		      const struct coll_send_opts *opts, struct coll_send_result *ret)
{
	struct coll_send_result res = {0};
	struct guard guard = {.allow_private = opts && opts->allow_private};
	struct sink sink = {.len = 0};
	char errbuf[CURL_ERROR_SIZE] = "", pin[512], addrtext[64] = "";
	char *scheme = NULL, *host = NULL, *port = NULL, *ip = NULL;
	struct curl_slist *headers = NULL, *resolve = NULL;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	CURLU *u = NULL;
	CURL *h = NULL;
	CURLcode cc;
	long status = 0;
	int gai;

	if (!url || (!body && len) || !ret)
		return -EINVAL;

	u = curl_url();
	if (!u) {
		result_set(&res, COLL_SEND_RETRY, "out of memory");
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
		result_set(&res, COLL_SEND_PERMANENT, "webhook URL is not a valid URL");
		goto out;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		result_set(&res, COLL_SEND_PERMANENT, "webhook URL scheme %s: only http and https",
			   scheme);
		goto out;
	}

	/* resolve once, check every answer, pin the connection to the checked one */
	{
		char bare[256];
		size_t hl = strlen(host);
		if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
			snprintf(bare, sizeof(bare), "%.*s", (int)(hl - 2), host + 1);
		} else {
			snprintf(bare, sizeof(bare), "%s", host);
		}
		gai = getaddrinfo(bare, port, &hints, &ai);
		if (gai != 0) {
			/* a DNS outage looks like a missing name: always retry */
			result_set(&res, COLL_SEND_RETRY, "cannot resolve %s: %s", bare,
				   gai_strerror(gai));
			goto out;
		}
		for (struct addrinfo *p = ai; p; p = p->ai_next) {
			char t[64];
			if (p->ai_family != AF_INET && p->ai_family != AF_INET6)
				continue;
			sockaddr_text(p->ai_addr, t, sizeof(t));
			if (!guard.allow_private && coll_addr_is_private(p->ai_addr)) {
				result_set(&res, COLL_SEND_PERMANENT,
					   "refused: %s resolves to %s, a private, loopback or "
					   "link-local address (set allow_private to permit)",
					   bare, t);
				goto out;
			}
			if (!addrtext[0])
				snprintf(addrtext, sizeof(addrtext), "%s", t);
		}
		if (!addrtext[0]) {
			result_set(&res, COLL_SEND_RETRY, "no usable address for %s", bare);
			goto out;
		}
		if (host[0] != '[' && strchr(addrtext, ':'))
			snprintf(pin, sizeof(pin), "%s:%s:[%s]", host, port, addrtext);
		else
			snprintf(pin, sizeof(pin), "%s:%s:%s", host, port, addrtext);
		if (host[0] != '[') { /* an IPv6 literal needs no pin */
			resolve = curl_slist_append(NULL, pin);
			if (!resolve) {
				result_set(&res, COLL_SEND_RETRY, "out of memory");
				goto out;
			}
		}
	}

	h = curl_easy_init();
	headers = curl_slist_append(NULL, "Content-Type: application/json; charset=utf-8");
	if (!h || !headers) {
		result_set(&res, COLL_SEND_RETRY, "out of memory");
		goto out;
	}
	apply_common(h, opts, errbuf);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (resolve)
		curl_easy_setopt(h, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, guard_open);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &guard);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "erpulse-collector/" EP_VERSION);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);

	cc = curl_easy_perform(h);
	if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip)
		snprintf(res.primary_ip, sizeof(res.primary_ip), "%s", ip);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	res.status = status;
	if (guard.refused) {
		result_set(&res, COLL_SEND_PERMANENT,
			   "refused: connection to %s, a private, loopback or link-local address",
			   guard.refused_ip);
		goto out;
	}
	if (cc != CURLE_OK) {
		result_set(&res, curl_error_permanent(cc) ? COLL_SEND_PERMANENT : COLL_SEND_RETRY,
			   "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	if (!guard.allow_private && res.primary_ip[0] &&
	    coll_ip_text_is_private(res.primary_ip) != 0) {
		/* cannot happen past guard_open; kept as the documented second check */
		result_set(&res, COLL_SEND_PERMANENT, "refused: connected to %s", res.primary_ip);
		goto out;
	}
	if (status >= 200 && status < 300)
		chat_api_verdict(&res, sink.data);
	else if (status >= 300 && status < 400)
		result_set(&res, COLL_SEND_PERMANENT,
			   "HTTP %ld: redirects are not followed; configure the final URL", status);
	else if (status == 408 || status == 425 || status == 429 || status >= 500)
		result_set(&res, COLL_SEND_RETRY, "HTTP %ld: %.200s", status, sink.data);
	else
		result_set(&res, COLL_SEND_PERMANENT, "HTTP %ld: %.200s", status, sink.data);
out:
	if (ai)
		freeaddrinfo(ai);
	curl_slist_free_all(headers);
	curl_slist_free_all(resolve);
	curl_easy_cleanup(h);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	*ret = res;
	return 0;
}

struct upload {
	const char *data;
	size_t len, pos;
};

static size_t upload_read(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct upload *u = userdata;
	size_t room = size * nmemb, n = u->len - u->pos;

	if (n > room)
		n = room;
	memcpy(ptr, u->data + u->pos, n);
	u->pos += n;
	return n;
}

/* Splits "a@x, B <b@y>" into "<a@x>", "<b@y>" recipients. */
static int build_rcpts(const char *to, struct curl_slist **ret)
{
	struct curl_slist *list = NULL, *tmp;
	const char *p = to;

	while (*p) {
		size_t n = strcspn(p, ",");
		char item[512], addr[520];
		char *s = item, *e, *lt, *gt;
		snprintf(item, sizeof(item), "%.*s", (int)(n < 511 ? n : 511), p);
		p += n;
		if (*p == ',')
			p++;
		while (*s == ' ' || *s == '\t')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (!*s)
			continue;
		lt = strchr(s, '<');
		gt = lt ? strchr(lt, '>') : NULL;
		if (lt && gt)
			snprintf(addr, sizeof(addr), "%.*s", (int)(gt - lt + 1), lt);
		else
			snprintf(addr, sizeof(addr), "<%s>", s);
		tmp = curl_slist_append(list, addr);
		if (!tmp) {
			curl_slist_free_all(list);
			return -ENOMEM;
		}
		list = tmp;
	}
	if (!list)
		return -EINVAL;
	*ret = list;
	return 0;
}

int coll_mail_send(const char *smtp_url, const char *from, const char *to, const char *message,
		   const struct coll_send_opts *opts, struct coll_send_result *ret)
{
	struct coll_send_result res = {0};
	struct curl_slist *rcpts = NULL;
	struct upload up = {.data = message, .len = message ? strlen(message) : 0};
	char errbuf[CURL_ERROR_SIZE] = "", mail_from[512];
	const char *lt, *gt;
	CURL *h = NULL;
	CURLcode cc;
	long code = 0;
	char *ip = NULL;

	if (!smtp_url || !from || !to || !message || !ret)
		return -EINVAL;
	if (strncmp(smtp_url, "smtp://", 7) != 0 && strncmp(smtp_url, "smtps://", 8) != 0) {
		result_set(&res, COLL_SEND_PERMANENT,
			   "SMTP URL must start with smtp:// or smtps://");
		goto out;
	}
	if (has_crlf(from) || has_crlf(to) || build_rcpts(to, &rcpts) < 0) {
		result_set(&res, COLL_SEND_PERMANENT, "no valid recipient in \"%.100s\"", to);
		goto out;
	}
	lt = strchr(from, '<');
	gt = lt ? strchr(lt, '>') : NULL;
	if (lt && gt)
		snprintf(mail_from, sizeof(mail_from), "%.*s", (int)(gt - lt + 1), lt);
	else
		snprintf(mail_from, sizeof(mail_from), "<%s>", from);

	h = curl_easy_init();
	if (!h) {
		result_set(&res, COLL_SEND_RETRY, "out of memory");
		goto out;
	}
	apply_common(h, opts, errbuf);
	curl_easy_setopt(h, CURLOPT_URL, smtp_url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	/* never send a password over a connection that did not upgrade to TLS */
	curl_easy_setopt(h, CURLOPT_USE_SSL,
			 opts && opts->smtp_user ? (long)CURLUSESSL_ALL : (long)CURLUSESSL_TRY);
	if (opts && opts->smtp_user)
		curl_easy_setopt(h, CURLOPT_USERNAME, opts->smtp_user);
	if (opts && opts->smtp_password)
		curl_easy_setopt(h, CURLOPT_PASSWORD, opts->smtp_password);
	curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from);
	curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, upload_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &up);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up.len);

	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip)
		snprintf(res.primary_ip, sizeof(res.primary_ip), "%s", ip);
	res.status = code;
	if (cc == CURLE_OK)
		result_set(&res, COLL_SEND_OK, "%s", "");
	else if (code >= 500 && code < 600)
		result_set(&res, COLL_SEND_PERMANENT, "SMTP %ld: %s", code,
			   errbuf[0] ? errbuf : curl_easy_strerror(cc));
	else if (code >= 400 && code < 500)
		result_set(&res, COLL_SEND_RETRY, "SMTP %ld: %s", code,
			   errbuf[0] ? errbuf : curl_easy_strerror(cc));
	else
		result_set(&res, curl_error_permanent(cc) ? COLL_SEND_PERMANENT : COLL_SEND_RETRY,
			   "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
out:
	curl_slist_free_all(rcpts);
	curl_easy_cleanup(h);
	*ret = res;
	return 0;
}
