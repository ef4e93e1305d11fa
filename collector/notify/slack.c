/* Slack: Block Kit message (header, fields, sections; mrkdwn escaped). */
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
#include <sys/socket.h>
#include <time.h>

#include "collector/notify/channel.h"
#include "collector/notify/notify.h"
#include "erpulse/crypto.h"
#include "erpulse/util.h"

#define SLACK_HDR_MAX 150 /* Slack header block plain_text limit */

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
	r |= slack_escape(&b, coll_s_or(value, "-"));
	if (r && r != -E2BIG) {
		ep_buf_free(&b);
		return NULL;
	}
	o = json_pack("{s:s, s:s}", "type", "mrkdwn", "text", b.data ? b.data : "");
	ep_buf_free(&b);
	return o;
}

json_t *coll_render_slack(const struct coll_notice *n, const char *title)
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
	coll_notice_value(n, val, sizeof(val));
	r |= json_array_append_new(blocks, json_pack("{s:s, s:{s:s, s:s}}", "type", "header",
						     "text", "type", "plain_text", "text", hdr));
	struct coll_notice_field f[COLL_NOTICE_FIELDS];
	coll_notice_fields(n, val, "", f);
	for (size_t i = 0; i < COLL_NOTICE_FIELDS; i++)
		if (i != 5 && i != 7) /* Slack's fields: no state, no time */
			r |= json_array_append_new(fields, slack_mrkdwn(f[i].label, f[i].value));
	r |= json_array_append_new(blocks,
				   json_pack("{s:s, s:o}", "type", "section", "fields", fields));
	fields = NULL;
	if (n->message)
		r |= json_array_append_new(blocks,
					   json_pack("{s:s, s:o}", "type", "section", "text",
						     slack_mrkdwn(NULL, n->message)));
	if (n->remediation)
		r |= json_array_append_new(
			blocks, json_pack("{s:s, s:o}", "type", "section", "text",
					  slack_mrkdwn(coll_notice_text(n, "notice.remediation"),
						       n->remediation)));
	if (n->dashboard_url) {
		struct ep_buf b;
		ep_buf_init(&b, 8192);
		if (ep_buf_printf(&b, "<%s|%s>", n->dashboard_url,
				  coll_notice_text(n, "notice.open_dashboard")) < 0) {
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
