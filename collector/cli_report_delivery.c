/* The monthly report's delivery commands (cli.h): report settings per
 * customer, a send of one month, one scheduler pass, the stored reports. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/cli.h"
#include "collector/report/deliver.h"
#include "collector/service/service.h"
#include "erpulse/util.h"

/* A sane address: local@domain, printable ASCII without spaces, quotes,
 * angle brackets or commas, one '@', a dot in the domain. */
static bool email_ok(const char *a)
{
	const char *at = strchr(a, '@');
	size_t n = strlen(a);
	if (!at || at == a || strchr(at + 1, '@') || n > 254 || !strchr(at + 1, '.') ||
	    at[1] == '.' || a[n - 1] == '.')
		return false;
	for (const char *p = a; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f ||
		    strchr("\"<>,;()[]\\", *p))
			return false;
	return true;
}

/* "a@x, b@y" -> "a@x, b@y" normalised into out; false naming the bad one. */
static bool contacts_ok(const char *list, char *out, size_t size)
{
	char item[300];
	size_t o = 0;
	out[0] = '\0';
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		size_t m = n;
		while (m && (p[m - 1] == ' ' || p[m - 1] == '\t'))
			m--;
		if (m >= sizeof(item)) {
			fprintf(stderr, "erpulse-collector: contacts: an address is too long\n");
			return false;
		}
		memcpy(item, p, m);
		item[m] = '\0';
		p += n;
		if (*p == ',')
			p++;
		if (!m)
			continue;
		if (!email_ok(item)) {
			fprintf(stderr,
				"erpulse-collector: contacts: '%s' is not an e-mail address "
				"(name@example.com)\n",
				item);
			return false;
		}
		int w = snprintf(out + o, size - o, "%s%s", o ? ", " : "", item);
		if (w < 0 || (size_t)w >= size - o) {
			fprintf(stderr, "erpulse-collector: contacts: at most %d bytes\n",
				COLL_REPORT_CONTACTS_MAX - 1);
			return false;
		}
		o += (size_t)w;
	}
	return true;
}

static void print_settings(const char *customer, const struct coll_report_target *t,
			   const struct coll_report_settings *stored)
{
	printf("customer %s: report settings\n", customer);
	printf("  timezone         %s%s\n", t->settings.time_zone,
	       stored->time_zone[0] ? "" : " (default)");
	printf("  language         %s%s\n", t->settings.language,
	       stored->language[0] ? "" : " (the customer's)");
	printf("  contacts         %s\n", t->settings.contacts[0] ? t->settings.contacts : "-");
	printf("  account_manager  %s\n",
	       t->settings.account_manager[0] ? t->settings.account_manager : "-");
}

static int cmd_settings(struct coll_store *s, int argc, char **argv)
{
	static const char *const keys[] = {"timezone", "language", "contacts", "account_manager"};
	struct coll_report_settings st;
	struct coll_report_target t;
	unsigned set = 0;
	if (argc < 1) {
		fprintf(stderr, "erpulse-collector: customer report-settings CUSTOMER "
				"[timezone=TZ] [language=en|zh-CN] [contacts=A,B] "
				"[account_manager=M]\n");
		return 2;
	}
	memset(&st, 0, sizeof(st));
	for (int i = 1; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		size_t k = 0;
		for (; eq && k < EP_ARRAY_SIZE(keys); k++)
			if (strlen(keys[k]) == (size_t)(eq - argv[i]) &&
			    !strncmp(argv[i], keys[k], (size_t)(eq - argv[i])))
				break;
		if (!eq || k == EP_ARRAY_SIZE(keys)) {
			fprintf(stderr,
				"erpulse-collector: '%s': expected timezone=, language=, contacts= "
				"or account_manager= (an empty value clears it)\n",
				argv[i]);
			return 2;
		}
		const char *v = eq + 1;
		set |= 1u << k;
		if (k == 0 && *v) {
			struct coll_tz tz;
			char why[256];
			/* only zone names: a fixed offset has no DST and hides mistakes */
			if (strstr(v, "..") || v[0] == '/' || strlen(v) >= sizeof(st.time_zone) ||
			    coll_tz_load(v, NULL, &tz, why, sizeof(why)) < 0) {
				fprintf(stderr,
					"erpulse-collector: timezone: '%s' is not a time zone "
					"under "
					"%s (e.g. Asia/Shanghai, Europe/Berlin, UTC)\n",
					v, COLL_ZONEINFO);
				return 2;
			}
			coll_tz_free(&tz);
			snprintf(st.time_zone, sizeof(st.time_zone), "%s", v);
		} else if (k == 1 && *v) {
			if (strcmp(v, "en") && strcmp(v, "zh-CN")) {
				fprintf(stderr,
					"erpulse-collector: language: '%s' is not en or "
					"zh-CN\n",
					v);
				return 2;
			}
			snprintf(st.language, sizeof(st.language), "%s", v);
		} else if (k == 2 && !contacts_ok(v, st.contacts, sizeof(st.contacts))) {
			return 2;
		} else if (k == 3 && *v) {
			if (!email_ok(v) || strlen(v) >= sizeof(st.account_manager)) {
				fprintf(stderr,
					"erpulse-collector: account_manager: '%s' is not an e-mail "
					"address (name@example.com)\n",
					v);
				return 2;
			}
			snprintf(st.account_manager, sizeof(st.account_manager), "%s", v);
		}
	}
	int r = coll_store_report_target(s, argv[0], &t);
	if (r == 0 && set)
		r = coll_store_report_settings_set(s, t.id, &st, set, ep_wall_ms() / 1000);
	if (r == 0 && set)
		r = coll_store_report_target(s, argv[0], &t);
	if (r == 0)
		r = coll_store_report_settings_get(s, t.id, &st);
	if (r == -ENOENT) {
		fprintf(stderr, "erpulse-collector: %s: no such customer\n", argv[0]);
		return 1;
	}
	if (r < 0) {
		fprintf(stderr, "erpulse-collector: report settings: %s\n", s->err);
		return 1;
	}
	print_settings(argv[0], &t, &st);
	return 0;
}

/* --now EPOCH at argv[*i]; 0, or 2 with a message. */
static int parse_now(int argc, char **argv, int *i, int64_t *now)
{
	if (*i + 1 >= argc || ep_parse_int64(argv[*i + 1], 1, INT64_MAX / 4, now) < 0) {
		fprintf(stderr, "erpulse-collector: --now: epoch seconds\n");
		return 2;
	}
	(*i)++;
	return 0;
}

static const char *const outcome_text[] = {
	[COLL_REPORT_NOT_MINE] = "not sent: already sent, or being sent by another collector",
	[COLL_REPORT_SENT] = "sent",
	[COLL_REPORT_STORED] = "stored (no report contacts or account manager to mail)",
	[COLL_REPORT_FAILED] = "failed",
};

static int cmd_send(const struct coll_report_delivery *d, struct coll_store *s, int argc,
		    char **argv)
{
	const char *month = NULL;
	bool again = false;
	int64_t now = coll_service_now();
	struct coll_month m;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--month") && i + 1 < argc)
			month = argv[++i];
		else if (!strcmp(argv[i], "--again"))
			again = true;
		else if (!strcmp(argv[i], "--now")) {
			if (parse_now(argc, argv, &i, &now))
				return 2;
		} else
			month = "";
	}
	if (argc < 1 || !month || coll_month_parse(month, &m) < 0) {
		fprintf(stderr, "erpulse-collector: report-send CUSTOMER --month YYYY-MM [--again] "
				"[--now EPOCH]\n");
		return 2;
	}
	struct coll_report_target t;
	int r = coll_store_report_target(s, argv[0], &t);
	if (r == -ENOENT) {
		fprintf(stderr, "erpulse-collector: %s: no such customer\n", argv[0]);
		return 1;
	}
	if (r == 0 && again)
		r = coll_store_report_run_reset(s, t.id, month);
	if (r < 0) {
		fprintf(stderr, "erpulse-collector: report-send: %s\n", s->err);
		return 1;
	}
	enum coll_report_outcome o;
	char err[1024] = "";
	r = coll_report_deliver(d, s, &t, m, now, &o, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "erpulse-collector: report-send: %s\n", err);
		return 1;
	}
	if (o == COLL_REPORT_FAILED) {
		fprintf(stderr, "erpulse-collector: report-send: %s\n", err);
		return 1;
	}
	printf("%s %s: %s\n", t.name, month, outcome_text[o]);
	return o == COLL_REPORT_NOT_MINE ? 1 : 0;
}

static int cmd_schedule(const struct coll_report_delivery *d, struct coll_store *s, int argc,
			char **argv)
{
	int64_t now = coll_service_now();
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--now") || parse_now(argc, argv, &i, &now)) {
			fprintf(stderr, "erpulse-collector: report-schedule [--now EPOCH]\n");
			return 2;
		}
	struct coll_report_tick_stats st;
	char err[1024] = "";
	int r = coll_report_tick(d, s, now, &st, err, sizeof(err));
	if (!d->enabled)
		printf("[report] enabled = no: nothing done\n");
	else
		printf("%zu customers, %zu due: %zu sent, %zu stored, %zu failed, %zu already "
		       "done or held by another collector\n",
		       st.customers, st.due, st.sent, st.stored, st.failed, st.held);
	if (d->enabled && st.sent + st.stored)
		printf("per report: median %.1f ms, max %.1f ms\n", st.median_ms, st.max_ms);
	if (r < 0 || st.failed) {
		fprintf(stderr, "erpulse-collector: report-schedule: %s\n", err);
		return 1;
	}
	return 0;
}

static int cmd_list(struct coll_store *s, int argc, char **argv)
{
	struct coll_scope all = {.customer_id = NULL};
	struct coll_report_target t;
	json_t *list = NULL, *e;
	size_t i;
	if (argc < 1 || argc > 2 || (argc == 2 && strcmp(argv[1], "--json"))) {
		fprintf(stderr, "erpulse-collector: report-list CUSTOMER [--json]\n");
		return 2;
	}
	int r = coll_store_report_target(s, argv[0], &t);
	if (r == 0)
		r = coll_store_report_list(s, &all, t.id, &list);
	if (r < 0) {
		fprintf(stderr, "erpulse-collector: %s: %s\n", argv[0],
			r == -ENOENT ? "no such customer" : s->err);
		return 1;
	}
	if (argc == 2) {
		char *text = json_dumps(list, JSON_COMPACT);
		printf("%s\n", text ? text : "[]");
		free(text);
		json_decref(list);
		return 0;
	}
	printf("%-8s  %-6s  %-10s  %s\n", "MONTH", "LANG", "SENT_AT", "FORMATS");
	json_array_foreach(list, i, e)
	{
		json_t *sent = json_object_get(e, "sent_at");
		printf("%-8s  %-6s  %-10lld ", json_string_value(json_object_get(e, "month")),
		       json_string_value(json_object_get(e, "lang")),
		       json_is_integer(sent) ? (long long)json_integer_value(sent) : 0LL);
		json_t *formats = json_object_get(e, "formats");
		for (size_t k = 0; k < json_array_size(formats); k++) {
			json_t *f = json_array_get(formats, k);
			printf(" %s (%lld bytes)", json_string_value(json_object_get(f, "format")),
			       (long long)json_integer_value(json_object_get(f, "bytes")));
		}
		printf("\n");
	}
	json_decref(list);
	return 0;
}

int coll_cli_report_delivery(const struct coll_settings *cfg, struct coll_store *s, const char *cmd,
			     int argc, char **argv)
{
	struct coll_report_delivery d;
	coll_report_delivery_init(cfg, &d);
	if (!strcmp(cmd, "customer")) /* customer report-settings ... */
		return cmd_settings(s, argc - 1, argv + 1);
	if (!strcmp(cmd, "report-send"))
		return cmd_send(&d, s, argc, argv);
	if (!strcmp(cmd, "report-schedule"))
		return cmd_schedule(&d, s, argc, argv);
	if (!strcmp(cmd, "report-list"))
		return cmd_list(s, argc, argv);
	fprintf(stderr,
		"erpulse-collector: unknown command '%s' (report-send, report-schedule, "
		"report-list)\n",
		cmd);
	return 2;
}
