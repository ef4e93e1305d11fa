/* Feishu (Lark): "post" rich-text message. */
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

static json_t *feishu_line(const char *label, const char *value)
{
	char buf[8192];

	snprintf(buf, sizeof(buf), "%s: %s", label, coll_s_or(value, "-"));
	return json_pack("[{s:s, s:s}]", "tag", "text", "text", buf);
}

json_t *coll_render_feishu(const struct coll_notice *n, const char *title)
{
	json_t *content = json_array();
	char val[64], when[32];
	int r = 0;

	if (!content)
		return NULL;
	coll_notice_value(n, val, sizeof(val));
	coll_notice_when(n, when, sizeof(when));
	struct coll_notice_field f[COLL_NOTICE_FIELDS];
	coll_notice_fields(n, val, when, f);
	for (size_t i = 0; i < COLL_NOTICE_FIELDS; i++)
		r |= json_array_append_new(content, feishu_line(f[i].label, f[i].value));
	if (n->message)
		r |= json_array_append_new(
			content, json_pack("[{s:s, s:s}]", "tag", "text", "text", n->message));
	if (n->remediation)
		r |= json_array_append_new(
			content,
			feishu_line(coll_notice_text(n, "notice.remediation"), n->remediation));
	if (n->dashboard_url)
		r |= json_array_append_new(content,
					   json_pack("[{s:s, s:s, s:s}]", "tag", "a", "text",
						     coll_notice_text(n, "notice.open_dashboard"),
						     "href", n->dashboard_url));
	if (r) {
		json_decref(content);
		return NULL;
	}
	return json_pack("{s:s, s:{s:{s:{s:s, s:o}}}}", "msg_type", "post", "content", "post",
			 "zh_cn", "title", title, "content", content);
}
