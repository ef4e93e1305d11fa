/* Notices: every webhook format parsed back with jansson, the e-mail
 * message, the private-address table, and refusals that happen before any
 * connection. Delivery to real servers is tests/integration/50-notify.sh. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/notify/notify.h"
#include "erpulse/crypto.h"
#include "erpulse/util.h"

static const struct coll_notice notice = {
	.host = "erp01",
	.customer = "ACME 制造",
	.rule = "index_fragmentation",
	.object = "odoo/public.sale_order_line_order_id_idx",
	.severity = "critical",
	.value = 55.25,
	.unit = "%",
	.message = "index_fragmentation on odoo/public.sale_order_line_order_id_idx (critical): "
		   "55.2 % (5000 pages).",
	.remediation = "REINDEX INDEX CONCURRENTLY \"public\".\"sale_order_line_order_id_idx\";",
	.state = COLL_NOTICE_ESCALATE,
	.dashboard_url = "https://collector.example/hosts/erp01?a=1&b=<2>",
	.at = 1795420800, /* 2026-11-23T08:00:00Z, a Monday */
	.id = "n-42",
};

static json_t *parse(const char *body)
{
	json_error_t err;
	json_t *j;

	assert_non_null(body);
	assert_true(ep_utf8_valid(body, strlen(body)));
	j = json_loads(body, JSON_REJECT_DUPLICATES, &err);
	if (!j)
		fail_msg("not JSON: %s: %s", err.text, body);
	return j;
}

static const char *jget(const json_t *o, const char *path)
{
	/* "a.b.c" lookup of a string */
	char key[64];
	const char *p = path;

	while (o) {
		size_t n = strcspn(p, ".");
		snprintf(key, sizeof(key), "%.*s", (int)n, p);
		o = json_object_get(o, key);
		if (!p[n])
			break;
		p += n + 1;
	}
	return json_is_string(o) ? json_string_value(o) : NULL;
}

static void test_title(void **state)
{
	char buf[256];
	struct coll_notice n = notice;
	(void)state;

	assert_int_equal(coll_notice_title(&n, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "[CRITICAL] erp01: index_fragmentation escalated on "
				 "odoo/public.sale_order_line_order_id_idx (55.2 %)");
	n.state = COLL_NOTICE_CLEAR;
	n.value = NAN;
	assert_int_equal(coll_notice_title(&n, buf, sizeof(buf)), 0);
	assert_non_null(strstr(buf, "[RESOLVED]"));
	assert_non_null(strstr(buf, "cleared"));
	assert_non_null(strstr(buf, "(n/a)"));
	assert_int_equal(coll_notice_title(&n, buf, 10), -ENOSPC);
}

static void test_generic(void **state)
{
	char *body = coll_notice_render_webhook(&notice, COLL_WEBHOOK_GENERIC);
	json_t *j = parse(body);
	(void)state;

	assert_string_equal(jget(j, "source"), "erpulse");
	assert_string_equal(jget(j, "state"), "escalate");
	assert_string_equal(jget(j, "host"), "erp01");
	assert_string_equal(jget(j, "customer"), "ACME 制造");
	assert_string_equal(jget(j, "rule"), "index_fragmentation");
	assert_string_equal(jget(j, "object"), notice.object);
	assert_string_equal(jget(j, "severity"), "critical");
	assert_string_equal(jget(j, "remediation"), notice.remediation);
	assert_string_equal(jget(j, "dashboard_url"), notice.dashboard_url);
	assert_string_equal(jget(j, "at"), "2026-11-23T08:00:00Z");
	assert_string_equal(jget(j, "id"), "n-42");
	assert_true(fabs(json_number_value(json_object_get(j, "value")) - 55.25) < 1e-9);
	json_decref(j);
	free(body);
}

static void test_dingtalk(void **state)
{
	char *body = coll_notice_render_webhook(&notice, COLL_WEBHOOK_DINGTALK);
	json_t *j = parse(body);
	const char *text;
	(void)state;

	assert_string_equal(jget(j, "msgtype"), "markdown");
	assert_non_null(strstr(jget(j, "markdown.title"), "[CRITICAL] erp01"));
	text = jget(j, "markdown.text");
	assert_non_null(text);
	assert_non_null(strstr(text, "### [CRITICAL]"));
	assert_non_null(strstr(text, "**Customer:** ACME 制造"));
	assert_non_null(strstr(text, notice.remediation));
	assert_non_null(strstr(text, "[Open in dashboard](https://collector.example/hosts/erp01"));
	json_decref(j);
	free(body);
}

static void test_wecom(void **state)
{
	struct coll_notice n = notice;
	char *big = malloc(10000), *body;
	json_t *j;
	const char *content;
	(void)state;

	body = coll_notice_render_webhook(&n, COLL_WEBHOOK_WECOM);
	j = parse(body);
	assert_string_equal(jget(j, "msgtype"), "markdown");
	content = jget(j, "markdown.content");
	assert_non_null(content);
	assert_non_null(strstr(content, "**Host:** erp01"));
	assert_null(json_object_get(json_object_get(j, "markdown"), "title"));
	json_decref(j);
	free(body);

	/* a huge message is cut below WeCom's 4096-byte limit on a character boundary */
	for (size_t i = 0; i + 3 < 9999; i += 3)
		memcpy(big + i, "错", 3);
	big[9999 - 9999 % 3] = '\0';
	n.message = big;
	body = coll_notice_render_webhook(&n, COLL_WEBHOOK_WECOM);
	j = parse(body); /* parse() also checks the UTF-8 */
	assert_true(strlen(jget(j, "markdown.content")) <= 4096);
	json_decref(j);
	free(body);
	free(big);
}

static void test_feishu(void **state)
{
	char *body = coll_notice_render_webhook(&notice, COLL_WEBHOOK_FEISHU);
	json_t *j = parse(body), *lines, *line, *seg;
	size_t i, k;
	bool link = false, host = false;
	(void)state;

	assert_string_equal(jget(j, "msg_type"), "post");
	assert_non_null(strstr(jget(j, "content.post.zh_cn.title"), "erp01"));
	lines = json_object_get(
		json_object_get(json_object_get(json_object_get(j, "content"), "post"), "zh_cn"),
		"content");
	assert_true(json_is_array(lines));
	json_array_foreach(lines, i, line)
	{
		assert_true(json_is_array(line));
		json_array_foreach(line, k, seg)
		{
			const char *tag = jget(seg, "tag");
			assert_non_null(tag);
			assert_non_null(jget(seg, "text"));
			if (!strcmp(tag, "a")) {
				link = true;
				assert_string_equal(jget(seg, "href"), notice.dashboard_url);
			}
			if (!strcmp(jget(seg, "text"), "Host: erp01"))
				host = true;
		}
	}
	assert_true(link);
	assert_true(host);
	json_decref(j);
	free(body);
}

static void test_slack(void **state)
{
	char *body = coll_notice_render_webhook(&notice, COLL_WEBHOOK_SLACK);
	json_t *j = parse(body), *blocks, *b;
	size_t i;
	bool header = false, link = false, escaped = false;
	(void)state;

	assert_non_null(strstr(jget(j, "text"), "[CRITICAL] erp01"));
	blocks = json_object_get(j, "blocks");
	assert_true(json_is_array(blocks));
	json_array_foreach(blocks, i, b)
	{
		const char *type = jget(b, "type");
		assert_non_null(type);
		if (!strcmp(type, "header")) {
			header = true;
			assert_string_equal(jget(b, "text.type"), "plain_text");
			assert_true(strlen(jget(b, "text.text")) <= 150);
		} else {
			assert_string_equal(type, "section");
			if (jget(b, "text.text") &&
			    strstr(jget(b, "text.text"), "|Open in dashboard>"))
				link = true;
			if (json_is_array(json_object_get(b, "fields"))) {
				json_t *f;
				size_t k;
				json_array_foreach(json_object_get(b, "fields"), k, f)
					assert_string_equal(jget(f, "type"), "mrkdwn");
			}
			if (jget(b, "text.text") &&
			    strstr(jget(b, "text.text"), "&quot;") == NULL &&
			    strstr(jget(b, "text.text"), "REINDEX"))
				escaped = true; /* remediation present, quotes untouched */
		}
	}
	assert_true(header);
	assert_true(link);
	assert_true(escaped);
	json_decref(j);
	free(body);

	/* <, > and & in data are escaped in mrkdwn */
	{
		struct coll_notice n = notice;
		n.message = "a < b && c > d";
		body = coll_notice_render_webhook(&n, COLL_WEBHOOK_SLACK);
		assert_non_null(strstr(body, "a &lt; b &amp;&amp; c &gt; d"));
		free(body);
	}
}

static void test_formats(void **state)
{
	enum coll_webhook_format f;
	enum coll_notice_state s;
	struct coll_notice minimal = {.state = COLL_NOTICE_RAISE, .value = NAN};
	(void)state;

	assert_int_equal(coll_webhook_format_parse("feishu", &f), 0);
	assert_int_equal(f, COLL_WEBHOOK_FEISHU);
	assert_int_equal(coll_webhook_format_parse("teams", &f), -EINVAL);
	assert_int_equal(coll_notice_state_parse("clear", &s), 0);
	assert_int_equal(s, COLL_NOTICE_CLEAR);
	/* a notice with nothing but a state still renders in every format */
	for (int i = COLL_WEBHOOK_GENERIC; i <= COLL_WEBHOOK_SLACK; i++) {
		char *body = coll_notice_render_webhook(&minimal, (enum coll_webhook_format)i);
		json_decref(parse(body));
		free(body);
	}
	assert_null(coll_notice_render_webhook(NULL, COLL_WEBHOOK_GENERIC));
}

static void test_mail(void **state)
{
	char *msg = NULL, *hdr_end;
	const char *subj;
	(void)state;

	assert_int_equal(coll_notice_render_mail(&notice, "erpulse@vendor.example",
						 "support@vendor.example, ops@vendor.example",
						 &msg),
			 0);
	hdr_end = strstr(msg, "\r\n\r\n");
	assert_non_null(hdr_end);
	assert_true(strncmp(msg, "From: erpulse@vendor.example\r\n", 30) == 0);
	assert_non_null(strstr(msg, "\r\nTo: support@vendor.example, ops@vendor.example\r\n"));
	assert_non_null(strstr(msg, "\r\nDate: Mon, 23 Nov 2026 08:00:00 +0000\r\n"));
	assert_non_null(strstr(msg, "\r\nMIME-Version: 1.0\r\n"));
	assert_non_null(strstr(msg, "\r\nContent-Type: text/plain; charset=UTF-8\r\n"));
	subj = strstr(msg, "\r\nSubject: [CRITICAL] erp01: index_fragmentation escalated");
	assert_non_null(subj);
	assert_true(subj < hdr_end);
	{
		const char *mid = strstr(msg, "\r\nMessage-ID: <");
		assert_non_null(mid);
		assert_non_null(strstr(mid, ".erpulse@vendor.example>\r\n"));
	}
	/* no bare LF anywhere, no line over 998 octets */
	for (const char *p = msg, *line = msg; *p; p++) {
		if (*p == '\n') {
			assert_true(p > msg && p[-1] == '\r');
			assert_true((size_t)(p - line) <= 999);
			line = p + 1;
		}
	}
	assert_non_null(strstr(hdr_end, "Customer: ACME 制造\r\n"));
	assert_non_null(strstr(hdr_end, "Remediation:\r\nREINDEX INDEX CONCURRENTLY"));
	assert_non_null(strstr(hdr_end, "Dashboard: https://collector.example/hosts/erp01"));
	free(msg);

	/* non-ASCII subject: RFC 2047 encoded words that decode back */
	{
		struct coll_notice n = notice;
		char decoded[1024] = "", *p;
		n.host = "服务器-01";
		assert_int_equal(coll_notice_render_mail(&n, "Erpulse <erpulse@vendor.example>",
							 "support@vendor.example", &msg),
				 0);
		p = strstr(msg, "\r\nSubject:");
		assert_non_null(p);
		p += 10;
		while ((p = strstr(p, "=?UTF-8?B?")) && p < strstr(msg, "\r\nDate:")) {
			char *end = strstr(p + 10, "?=");
			unsigned char out[256];
			size_t n_out;
			assert_non_null(end);
			assert_true(end - p + 2 <= 75); /* RFC 2047 encoded-word limit */
			assert_int_equal(ep_base64_decode(p + 10, (size_t)(end - p - 10), out,
							  sizeof(out), &n_out),
					 0);
			strncat(decoded, (const char *)out, n_out);
			p = end + 2;
		}
		assert_string_equal(decoded,
				    "[CRITICAL] 服务器-01: index_fragmentation escalated on "
				    "odoo/public.sale_order_line_order_id_idx (55.2 %)");
		assert_non_null(strstr(msg, "Message-ID: <"));
		assert_non_null(strstr(msg, ".erpulse@vendor.example>\r\n"));
		free(msg);
	}

	/* header injection is refused; CR/LF in data cannot make new headers */
	msg = NULL;
	assert_int_equal(coll_notice_render_mail(&notice, "a@b\r\nBcc: x@y", "s@v", &msg), -EINVAL);
	assert_int_equal(coll_notice_render_mail(&notice, "a@b", "s@v\nBcc: x@y", &msg), -EINVAL);
	assert_null(msg);
	{
		struct coll_notice n = notice;
		n.host = "evil\r\nBcc: victim@example";
		assert_int_equal(coll_notice_render_mail(&n, "a@b", "s@v", &msg), 0);
		*strstr(msg, "\r\n\r\n") = '\0'; /* only the header block matters */
		assert_null(strstr(msg, "\r\nBcc:"));
		assert_non_null(strstr(msg, "evil  Bcc: victim@example"));
		free(msg);
	}
}

/* The private-range table of docs/alerts.md. */
static void test_private_ranges(void **state)
{
	static const struct {
		const char *ip;
		int private;
	} table[] = {
		{"10.0.0.1", 1},
		{"10.255.255.255", 1},
		{"172.16.0.1", 1},
		{"172.31.255.254", 1},
		{"172.15.255.255", 0},
		{"172.32.0.1", 0},
		{"192.168.1.1", 1},
		{"192.169.0.1", 0},
		{"127.0.0.1", 1},
		{"127.8.9.10", 1},
		{"169.254.169.254", 1},
		{"169.253.0.1", 0},
		{"0.0.0.0", 1},
		{"100.64.0.1", 1},
		{"100.128.0.1", 0},
		{"224.0.0.1", 1},
		{"255.255.255.255", 1},
		{"8.8.8.8", 0},
		{"1.1.1.1", 0},
		{"93.184.216.34", 0},
		{"::1", 1},
		{"::", 1},
		{"fc00::1", 1},
		{"fd12:3456::1", 1},
		{"fe80::1", 1},
		{"febf::1", 1},
		{"fec0::1", 1},
		{"ff02::1", 1},
		{"::ffff:127.0.0.1", 1},
		{"::ffff:10.1.2.3", 1},
		{"::ffff:192.168.0.1", 1},
		{"::ffff:8.8.8.8", 0},
		{"64:ff9b::10.0.0.1", 1},
		{"64:ff9b::8.8.8.8", 0},
		{"::127.0.0.1", 1},
		{"2002:c0a8:0101::1", 1},
		{"2001:4860:4860::8888", 0},
		{"2606:4700:4700::1111", 0},
		{"2001:db8::1", 1},
	};
	(void)state;

	for (size_t i = 0; i < EP_ARRAY_SIZE(table); i++) {
		int got = coll_ip_text_is_private(table[i].ip);
		if (got != table[i].private)
			fail_msg("%s: got %d, want %d", table[i].ip, got, table[i].private);
	}
	assert_int_equal(coll_ip_text_is_private("not-an-ip"), -EINVAL);
	assert_int_equal(coll_ip_text_is_private("10.0.0"), -EINVAL);
	assert_true(coll_addr_is_private(NULL));
}

static void test_refusals(void **state)
{
	struct coll_send_result r;
	struct coll_send_opts o = {.timeout_ms = 2000, .connect_timeout_ms = 1000};
	(void)state;

	/* loopback by address and by name: refused before connecting */
	assert_int_equal(coll_webhook_send("http://127.0.0.1:9/hook", "{}", 2, &o, &r), 0);
	assert_int_equal(r.outcome, COLL_SEND_PERMANENT);
	assert_non_null(strstr(r.error, "refused"));
	assert_string_equal(r.primary_ip, "");
	assert_int_equal(coll_webhook_send("http://localhost:9/hook", "{}", 2, &o, &r), 0);
	assert_int_equal(r.outcome, COLL_SEND_PERMANENT);
	assert_non_null(strstr(r.error, "refused"));
	assert_int_equal(coll_webhook_send("https://[::1]:9/", "{}", 2, &o, &r), 0);
	assert_int_equal(r.outcome, COLL_SEND_PERMANENT);
	assert_int_equal(
		coll_webhook_send("http://169.254.169.254/latest/meta-data/", "{}", 2, &o, &r), 0);
	assert_int_equal(r.outcome, COLL_SEND_PERMANENT);
	assert_int_equal(coll_webhook_send("http://[::ffff:10.0.0.1]/", "{}", 2, &o, &r), 0);
	assert_int_equal(r.outcome, COLL_SEND_PERMANENT);

	/* other schemes and garbage */
	assert_int_equal(coll_webhook_send("file:///etc/passwd", "{}", 2, &o, &r), 0);
	assert_int_equal(r.outcome, COLL_SEND_PERMANENT);
	assert_int_equal(coll_webhook_send("ftp://example.com/", "{}", 2, &o, &r), 0);
	assert_int_equal(r.outcome, COLL_SEND_PERMANENT);
	assert_int_equal(coll_webhook_send("not a url", "{}", 2, &o, &r), 0);
	assert_int_equal(r.outcome, COLL_SEND_PERMANENT);
	assert_int_equal(coll_webhook_send(NULL, "{}", 2, &o, &r), -EINVAL);

	/* allowed: a closed loopback port is a retryable network error */
	o.allow_private = true;
	assert_int_equal(coll_webhook_send("http://127.0.0.1:9/hook", "{}", 2, &o, &r), 0);
	assert_int_equal(r.outcome, COLL_SEND_RETRY);

	/* mail: wrong scheme, no recipient, closed port */
	assert_int_equal(coll_mail_send("http://x", "a@b", "c@d", "m", &o, &r), 0);
	assert_int_equal(r.outcome, COLL_SEND_PERMANENT);
	assert_int_equal(coll_mail_send("smtp://127.0.0.1:9", "a@b", " , ", "m", &o, &r), 0);
	assert_int_equal(r.outcome, COLL_SEND_PERMANENT);
	assert_int_equal(coll_mail_send("smtp://127.0.0.1:9", "a@b", "c@d", "m", &o, &r), 0);
	assert_int_equal(r.outcome, COLL_SEND_RETRY);
	assert_string_equal(coll_send_outcome_name(r.outcome), "retry");
}

/* A zh-CN notice: every format's title, labels and words from the zh-CN
 * catalog; the machine-read fields (rule, state) unchanged. */
static void test_language(void **state)
{
	(void)state;
	struct coll_notice n = notice;
	char title[512], *msg = NULL;
	n.lang = "zh-CN";
	n.state = COLL_NOTICE_RAISE;
	assert_int_equal(coll_notice_title(&n, title, sizeof(title)), 0);
	assert_string_equal(title, "[严重] erp01：odoo/public.sale_order_line_order_id_idx 的"
				   "索引碎片已触发（55.2 %）");
	n.state = COLL_NOTICE_CLEAR;
	assert_int_equal(coll_notice_title(&n, title, sizeof(title)), 0);
	assert_true(strncmp(title, "[已恢复] erp01：", strlen("[已恢复] erp01：")) == 0);
	n.state = COLL_NOTICE_RAISE;
	static const enum coll_webhook_format fmts[] = {COLL_WEBHOOK_DINGTALK, COLL_WEBHOOK_WECOM,
							COLL_WEBHOOK_FEISHU, COLL_WEBHOOK_SLACK};
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		char *body = coll_notice_render_webhook(&n, fmts[i]);
		assert_non_null(body);
		json_decref(parse(body));
		if (!strstr(body, "主机") || !strstr(body, "客户") || strstr(body, "Host") ||
		    strstr(body, "Remediation"))
			fail_msg("format %d is not in Chinese: %s", (int)fmts[i], body);
		free(body);
	}
	char *generic = coll_notice_render_webhook(&n, COLL_WEBHOOK_GENERIC);
	json_t *g = parse(generic);
	assert_string_equal(jget(g, "rule"), "index_fragmentation");
	assert_string_equal(jget(g, "state"), "raise");
	json_decref(g);
	free(generic);
	assert_int_equal(coll_notice_render_mail(&n, "a@vendor.example", "s@v", &msg), 0);
	assert_non_null(strstr(msg, "\r\n状态:     触发\r\n"));
	assert_non_null(strstr(msg, "\r\n主机:     erp01\r\n"));
	assert_non_null(strstr(msg, "X-Erpulse-Rule: index_fragmentation\r\n"));
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_title),    cmocka_unit_test(test_generic),
		cmocka_unit_test(test_dingtalk), cmocka_unit_test(test_wecom),
		cmocka_unit_test(test_feishu),   cmocka_unit_test(test_slack),
		cmocka_unit_test(test_formats),  cmocka_unit_test(test_mail),
		cmocka_unit_test(test_language), cmocka_unit_test(test_private_ranges),
		cmocka_unit_test(test_refusals),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
