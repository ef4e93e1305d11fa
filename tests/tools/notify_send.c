/* notify_send: sends one sample alert notice through collector/notify.c,
 * for tests/integration/50-notify.sh.
 *
 *   notify_send webhook URL FORMAT [--allow-private] [--timeout-ms N]
 *   notify_send mail SMTP_URL FROM TO [--timeout-ms N]
 *   notify_send render FORMAT|mail      (prints the body, sends nothing)
 *
 * Prints "outcome=ok|retry|permanent status=N ip=ADDR error=TEXT" and exits
 * 0 (ok), 2 (retry), 3 (permanent) or 1 (usage / rendering failure). */
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/notify/notify.h"
#include "erpulse/util.h"

static const struct coll_notice sample = {
	.host = "erp01",
	.customer = "ACME 制造",
	.rule = "index_fragmentation",
	.object = "odoo/public.sale_order_line_order_id_idx",
	.severity = "warning",
	.value = 41.2,
	.unit = "%",
	.message = "index_fragmentation on odoo/public.sale_order_line_order_id_idx (warning): "
		   "41.2 % (5000 pages).",
	.remediation = "REINDEX INDEX CONCURRENTLY \"public\".\"sale_order_line_order_id_idx\";",
	.state = COLL_NOTICE_RAISE,
	.dashboard_url = "http://127.0.0.1/hosts/erp01",
	.id = "itest-1",
};

static int usage(void)
{
	fprintf(stderr, "usage: notify_send webhook URL FORMAT [--allow-private] [--timeout-ms N]\n"
			"       notify_send mail SMTP_URL FROM TO [--timeout-ms N]\n"
			"       notify_send render FORMAT|mail\n");
	return 1;
}

static int report(const struct coll_send_result *r)
{
	printf("outcome=%s status=%ld ip=%s error=%s\n", coll_send_outcome_name(r->outcome),
	       r->status, r->primary_ip, r->error);
	switch (r->outcome) {
	case COLL_SEND_OK:
		return 0;
	case COLL_SEND_RETRY:
		return 2;
	case COLL_SEND_PERMANENT:
		return 3;
	}
	return 1;
}

int main(int argc, char **argv)
{
	struct coll_send_opts opts = {.timeout_ms = 5000, .connect_timeout_ms = 2000};
	struct coll_send_result res;
	struct coll_notice n = sample;
	enum coll_webhook_format fmt;
	int nargs = 0, rc = 1;
	const char *args[4] = {0};
	char *body = NULL;

	n.at = (int64_t)time(NULL);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--allow-private")) {
			opts.allow_private = true;
		} else if (!strcmp(argv[i], "--timeout-ms") && i + 1 < argc) {
			int64_t v;
			if (ep_parse_int64(argv[++i], 1, 600000, &v) < 0)
				return usage();
			opts.timeout_ms = (long)v;
		} else if (nargs < 4) {
			args[nargs++] = argv[i];
		} else {
			return usage();
		}
	}
	if (nargs < 2)
		return usage();
	curl_global_init(CURL_GLOBAL_DEFAULT);

	if (!strcmp(args[0], "render")) {
		if (!strcmp(args[1], "mail")) {
			if (coll_notice_render_mail(&n, "erpulse@vendor.example",
						    "support@vendor.example", &body) < 0)
				goto out;
		} else if (coll_webhook_format_parse(args[1], &fmt) < 0 ||
			   !(body = coll_notice_render_webhook(&n, fmt))) {
			goto out;
		}
		fputs(body, stdout);
		rc = 0;
	} else if (!strcmp(args[0], "webhook") && nargs == 3) {
		if (coll_webhook_format_parse(args[2], &fmt) < 0)
			goto out;
		body = coll_notice_render_webhook(&n, fmt);
		if (!body)
			goto out;
		if (coll_webhook_send(args[1], body, strlen(body), &opts, &res) < 0)
			goto out;
		rc = report(&res);
	} else if (!strcmp(args[0], "mail") && nargs == 4) {
		if (coll_notice_render_mail(&n, args[2], args[3], &body) < 0)
			goto out;
		if (coll_mail_send(args[1], args[2], args[3], body, &opts, &res) < 0)
			goto out;
		rc = report(&res);
	} else {
		rc = usage();
	}
out:
	free(body);
	curl_global_cleanup();
	return rc;
}
