/* The incident commands of erpulse-collector (docs/incidents.md, "CLI"):
 *   customer tier CUSTOMER TIER
 *   incident list [--state S] [--customer C] [--json]
 *   incident show ID [--json]
 *   incident ack|assign|comment|wait|resume|resolve|close|reopen|snooze ID [options]
 *   incident escalate                  one escalation pass now
 *   sla [--customer C] [--month YYYY-MM] [--json]
 *   notify test CHANNEL
 * The operator of the CLI has the store: it acts as a vendor admin. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/service/calendar.h"
#include "collector/service/cli.h"
#include "collector/service/service.h"
#include "collector/service/texts.h"
#include "collector/store/incidents.h"
#include "erpulse/util.h"

static int fail(struct coll_store *s, const char *what, int r)
{
	if (r == -ENOENT)
		fprintf(stderr, "erpulse-collector: %s: not found\n", what);
	else
		fprintf(stderr, "erpulse-collector: %s: %s\n", what,
			s->err[0] ? s->err : strerror(-r));
	return r == -EINVAL || r == -ECANCELED || r == -EPERM ? 2 : 1;
}

static void print_json(json_t *j)
{
	char *t = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (t)
		printf("%s\n", t);
	free(t);
}

static const char *js(const json_t *o, const char *k)
{
	const json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : "-";
}

static void when(const json_t *o, const char *k, char *buf, size_t size)
{
	const json_t *v = json_object_get(o, k);
	if (!json_is_integer(v) || ep_time_format((time_t)json_integer_value(v), buf, size) < 0)
		snprintf(buf, size, "-");
}

int coll_cli_customer_tier(const struct coll_settings *cfg, struct coll_store *s,
			   const char *customer, const char *tier)
{
	char id[COLL_ID_SIZE];
	int r = coll_store_customer_find(s, customer, id);
	if (r < 0)
		return fail(s, customer, r);
	r = coll_store_customer_tier(s, &cfg->service.ctx, id, tier);
	if (r < 0)
		return fail(s, tier, r);
	printf("customer %s: tier %s\n", customer, tier);
	return 0;
}

static int list(struct coll_store *s, const char *state, const char *customer, bool json)
{
	char cid[COLL_ID_SIZE];
	struct coll_scope all = {0};
	struct coll_incident_filter f = {.state = state};
	json_t *l, *o;
	size_t i;
	if (customer) {
		int r = coll_store_customer_find(s, customer, cid);
		if (r < 0)
			return fail(s, customer, r);
		f.customer_id = cid;
	}
	int r = coll_store_incidents(s, &all, &f, &l);
	if (r < 0)
		return fail(s, "incident list", r);
	if (json) {
		print_json(l);
		json_decref(l);
		return 0;
	}
	printf("%6s  %-16s  %-9s  %-8s  %-16s  %-16s  %-22s  %s\n", "ID", "STATE", "SEVERITY",
	       "TIER", "CUSTOMER", "HOST", "BREACH AT", "RULE / OBJECT");
	json_array_foreach(l, i, o)
	{
		char breach[32];
		when(o, "breach_at", breach, sizeof(breach));
		printf("%6" PRId64 "  %-16s  %-9s  %-8s  %-16s  %-16s  %-22s  %s %s\n",
		       (int64_t)json_integer_value(json_object_get(o, "id")), js(o, "state"),
		       js(o, "severity"), js(o, "tier"), js(o, "customer"), js(o, "hostname"),
		       breach, js(o, "rule"), js(o, "object"));
	}
	if (json_array_size(l) == 0)
		printf("(no incidents)\n");
	json_decref(l);
	return 0;
}

static int show(struct coll_store *s, int64_t id, bool json)
{
	struct coll_scope all = {0};
	json_t *o, *e;
	size_t i;
	int r = coll_store_incident(s, &all, id, true, &o);
	if (r < 0)
		return fail(s, "incident", r);
	if (json) {
		print_json(o);
		json_decref(o);
		return 0;
	}
	char opened[32];
	when(o, "opened_at", opened, sizeof(opened));
	printf("incident %" PRId64 ": %s, %s %s on %s (%s), customer %s, tier %s\n", id,
	       js(o, "state"), js(o, "severity"), js(o, "rule"), js(o, "object"), js(o, "hostname"),
	       js(o, "customer"), js(o, "tier"));
	printf("opened %s, assignee %s, level L%" PRId64 ", recurrences %" PRId64 "\n", opened,
	       js(o, "assignee"), (int64_t)json_integer_value(json_object_get(o, "level")),
	       (int64_t)json_integer_value(json_object_get(o, "recurrences")));
	json_t *b = json_object_get(o, "before"), *a = json_object_get(o, "after");
	if (json_is_number(b) || json_is_number(a))
		printf("before %.1f, after %.1f%s\n", json_number_value(b), json_number_value(a),
		       json_is_true(json_object_get(o, "verified")) ? " (verified by a report)"
								    : "");
	printf("timeline:\n");
	json_array_foreach(json_object_get(o, "timeline"), i, e)
	{
		char at[32], *detail = json_dumps(json_object_get(e, "detail"), JSON_COMPACT);
		when(e, "at", at, sizeof(at));
		printf("  %s  %-20s %-10s %-18s %s\n", at, js(e, "actor"), js(e, "visibility"),
		       js(e, "action"), detail ? detail : "");
		free(detail);
	}
	json_decref(o);
	return 0;
}

static int act(const struct coll_settings *cfg, struct coll_store *s, const char *action, int argc,
	       char **argv)
{
	struct coll_action_request req = {0};
	int64_t id;
	bool json = false;
	const char *as = getenv("USER");
	if (coll_incident_action_parse(action, &req.action) < 0 || req.action >= COLL_ACT_RAISE ||
	    argc < 1 || ep_parse_int64(argv[0], 1, INT64_MAX, &id) < 0) {
		fprintf(stderr, "erpulse-collector: incident ACTION ID: actions: ack, assign, "
				"comment, wait, resume, resolve, close, reopen, snooze\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--json") == 0) {
			json = true;
			continue;
		}
		if (strcmp(a, "--customer-visible") == 0) {
			req.customer_visible = true;
			continue;
		}
		if (!v)
			goto usage;
		i++;
		if (strcmp(a, "--as") == 0)
			as = v;
		else if (strcmp(a, "--assignee") == 0)
			req.assignee = v;
		else if (strcmp(a, "--text") == 0)
			req.text = v;
		else if (strcmp(a, "--reason") == 0)
			req.reason = v;
		else if (strcmp(a, "--until") == 0) {
			time_t t;
			int64_t d;
			if (ep_time_parse(v, &t) == 0)
				req.until = (int64_t)t;
			else if (ep_parse_duration(v, 1, 3650LL * 86400, &d) == 0)
				req.until = coll_service_now() + d;
			else
				goto usage;
		} else
			goto usage;
	}
	struct coll_actor who = {as ? as : "cli", "vendor", "cli"};
	struct coll_scope all = {0};
	int r = coll_store_incident_act(s, &cfg->service.ctx, &all, id, &who, &req,
					coll_service_now());
	if (r < 0)
		return fail(s, action, r);
	if (json) {
		json_t *o;
		if (coll_store_incident(s, &all, id, true, &o) == 0) {
			print_json(json_pack("{s:b,s:o}", "changed", r == 0, "incident", o));
		}
		return 0;
	}
	printf("incident %" PRId64 ": %s%s\n", id, coll_incident_action_name(req.action),
	       r == 1 ? " (nothing to do)" : "");
	return 0;
usage:
	fprintf(stderr,
		"erpulse-collector: incident %s ID [--as NAME] [--assignee NAME] [--text "
		"TEXT] [--customer-visible] [--reason false_positive|accepted_risk|"
		"duplicate] [--until RFC3339|DURATION] [--json]\n",
		action);
	return 2;
}

int coll_cli_incident(const struct coll_settings *cfg, struct coll_store *s, int argc, char **argv)
{
	if (argc < 1)
		goto usage;
	if (strcmp(argv[0], "list") == 0) {
		const char *state = NULL, *customer = NULL;
		bool json = false;
		for (int i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--json") == 0)
				json = true;
			else if (strcmp(argv[i], "--state") == 0 && i + 1 < argc)
				state = argv[++i];
			else if (strcmp(argv[i], "--customer") == 0 && i + 1 < argc)
				customer = argv[++i];
			else
				goto usage;
		}
		return list(s, state, customer, json);
	}
	if (strcmp(argv[0], "show") == 0 && argc >= 2) {
		int64_t id;
		if (ep_parse_int64(argv[1], 1, INT64_MAX, &id) < 0)
			goto usage;
		return show(s, id, argc > 2 && strcmp(argv[2], "--json") == 0);
	}
	if (strcmp(argv[0], "escalate") == 0 && argc == 1) {
		size_t fired;
		int r = coll_service_escalate(&cfg->service, s, coll_service_now(), &fired);
		if (r < 0)
			return fail(s, "escalate", r);
		printf("%zu SLA events fired\n", fired);
		return 0;
	}
	return act(cfg, s, argv[0], argc - 1, argv + 1);
usage:
	fprintf(stderr, "erpulse-collector: incident list [--state S] [--customer C] [--json] | "
			"show ID [--json] | ACTION ID ... | escalate\n");
	return 2;
}

static void sla_line(const char *name, const json_t *f)
{
	char p50[24] = "-", p90[24] = "-", rate[16] = "-", share[16] = "-";
	const json_t *v;
	if (json_is_integer(v = json_object_get(f, "response_p50_s")))
		snprintf(p50, sizeof(p50), "%.1f min", (double)json_integer_value(v) / 60);
	if (json_is_integer(v = json_object_get(f, "response_p90_s")))
		snprintf(p90, sizeof(p90), "%.1f min", (double)json_integer_value(v) / 60);
	if (json_is_number(v = json_object_get(f, "resolution_rate")))
		snprintf(rate, sizeof(rate), "%.1f%%", 100 * json_number_value(v));
	if (json_is_number(v = json_object_get(f, "response_within_target")))
		snprintf(share, sizeof(share), "%.1f%%", 100 * json_number_value(v));
	printf("%-10s %7" PRId64 " %9s %9s %10s %9s %9" PRId64 " %6" PRId64 "\n", name,
	       (int64_t)json_integer_value(json_object_get(f, "opened")), p50, p90, share, rate,
	       (int64_t)json_integer_value(json_object_get(f, "breaches")),
	       (int64_t)json_integer_value(json_object_get(f, "open")));
}

int coll_cli_sla(const struct coll_settings *cfg, struct coll_store *s, int argc, char **argv)
{
	const char *customer = NULL, *month = NULL;
	bool json = false;
	char cid[COLL_ID_SIZE];
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--customer") == 0 && i + 1 < argc)
			customer = argv[++i];
		else if (strcmp(argv[i], "--month") == 0 && i + 1 < argc)
			month = argv[++i];
		else {
			fprintf(stderr, "erpulse-collector: sla [--customer C] [--month YYYY-MM] "
					"[--json]\n");
			return 2;
		}
	}
	int64_t now = coll_service_now(), from, to;
	int y, m, d;
	coll_date_civil((int32_t)(now / 86400), &y, &m, &d);
	if (month) {
		char buf[16];
		int32_t day;
		snprintf(buf, sizeof(buf), "%.7s-01", month);
		if (strlen(month) != 7 || coll_date_parse(buf, &day) < 0) {
			fprintf(stderr, "erpulse-collector: --month: YYYY-MM\n");
			return 2;
		}
		coll_date_civil(day, &y, &m, &d);
	}
	from = (int64_t)coll_date_days(y, m, 1) * 86400;
	to = (int64_t)coll_date_days(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * 86400;
	if (customer) {
		int r = coll_store_customer_find(s, customer, cid);
		if (r < 0)
			return fail(s, customer, r);
	}
	struct coll_scope all = {0};
	json_t *out;
	int r = coll_store_sla(s, &cfg->service.ctx, &all, customer ? cid : NULL, from, to, now,
			       &out);
	if (r < 0)
		return fail(s, "sla", r);
	if (json) {
		print_json(out);
		json_decref(out);
		return 0;
	}
	printf("SLA %04d-%02d%s%s (UTC month; times are SLA-clock time)\n", y, m,
	       customer ? ", customer " : "", customer ? customer : "");
	printf("%-10s %7s %9s %9s %10s %9s %9s %6s\n", "TIER", "OPENED", "RESP P50", "RESP P90",
	       "IN TARGET", "RESOLVED", "BREACHES", "OPEN");
	const char *k;
	json_t *f;
	json_object_foreach(json_object_get(out, "tiers"), k, f)
	{
		sla_line(k, f);
	}
	sla_line("all", json_object_get(out, "overall"));
	json_decref(out);
	return 0;
}

static int windows_list(struct coll_store *s, const char *customer, bool json)
{
	char cid[COLL_ID_SIZE];
	struct coll_scope all = {0};
	json_t *l, *o;
	size_t i;
	int r = customer ? coll_store_customer_find(s, customer, cid) : 0;
	if (r < 0)
		return fail(s, customer, r);
	r = coll_store_windows(s, &all, customer ? cid : NULL, &l);
	if (r < 0)
		return fail(s, "maintenance list", r);
	if (json) {
		print_json(l);
		json_decref(l);
		return 0;
	}
	printf("%5s  %-16s  %-32s  %-28s  %-10s  %s\n", "ID", "CUSTOMER", "HOST", "WHEN",
	       "APPROVED", "REASON");
	json_array_foreach(l, i, o)
	{
		char when_s[160], a[32], b[32];
		int64_t days = json_integer_value(json_object_get(o, "weekdays"));
		if (days) {
			int64_t st = json_integer_value(json_object_get(o, "start_s")),
				d = json_integer_value(json_object_get(o, "duration_s"));
			snprintf(when_s, sizeof(when_s),
				 "weekly 0x%02llx %02lld:%02lld +%lld min %s",
				 (unsigned long long)days, (long long)(st / 3600),
				 (long long)(st % 3600 / 60), (long long)(d / 60),
				 js(o, "time_zone"));
		} else {
			when(o, "once_from", a, sizeof(a));
			when(o, "once_to", b, sizeof(b));
			snprintf(when_s, sizeof(when_s), "%s..%s", a, b);
		}
		printf("%5lld  %-16s  %-32s  %-28s  %-10s  %s\n",
		       (long long)json_integer_value(json_object_get(o, "id")),
		       js(o, "customer_id"), js(o, "agent_id"), when_s, js(o, "approved_by"),
		       js(o, "reason"));
	}
	json_decref(l);
	return 0;
}

int coll_cli_maintenance(struct coll_store *s, int argc, char **argv)
{
	struct coll_actor who = {getenv("USER") ? getenv("USER") : "cli", "vendor", "cli"};
	if (argc >= 1 && strcmp(argv[0], "list") == 0) {
		const char *customer = NULL;
		bool json = false;
		for (int i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--json") == 0)
				json = true;
			else if (strcmp(argv[i], "--customer") == 0 && i + 1 < argc)
				customer = argv[++i];
			else
				goto usage;
		}
		return windows_list(s, customer, json);
	}
	if (argc == 2 && strcmp(argv[0], "approve") == 0) {
		int64_t id;
		struct coll_scope all = {0};
		if (ep_parse_int64(argv[1], 1, INT64_MAX, &id) < 0)
			goto usage;
		int r = coll_store_window_approve(s, &all, id, &who, coll_service_now());
		if (r < 0)
			return fail(s, "maintenance approve", r);
		printf("window %lld: approved%s\n", (long long)id, r == 1 ? " already" : "");
		return 0;
	}
	if (argc < 2 || strcmp(argv[0], "add") != 0)
		goto usage;
	char cid[COLL_ID_SIZE];
	struct coll_window_req w = {0};
	int r = coll_store_customer_find(s, argv[1], cid);
	if (r < 0)
		return fail(s, argv[1], r);
	w.customer_id = cid;
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		time_t t;
		if (strcmp(a, "--approved") == 0) {
			w.approved = true;
			continue;
		}
		if (!v)
			goto usage;
		i++;
		if (strcmp(a, "--host") == 0) {
			w.agent_id = v;
		} else if (strcmp(a, "--weekly") == 0) {
			struct coll_calendar cal = {0};
			if (coll_calendar_parse_hours(v, &cal) < 0)
				goto usage;
			w.weekdays = cal.weekdays;
			w.start_s = cal.open_s;
			w.duration_s = cal.close_s - cal.open_s;
		} else if (strcmp(a, "--from") == 0 && ep_time_parse(v, &t) == 0) {
			w.once_from = (int64_t)t;
		} else if (strcmp(a, "--to") == 0 && ep_time_parse(v, &t) == 0) {
			w.once_to = (int64_t)t;
		} else if (strcmp(a, "--time-zone") == 0) {
			w.time_zone = v;
		} else if (strcmp(a, "--reason") == 0) {
			w.reason = v;
		} else {
			goto usage;
		}
	}
	int64_t id;
	r = coll_store_window_add(s, &w, &who, coll_service_now(), &id);
	if (r < 0)
		return fail(s, "maintenance add", r);
	printf("%lld\n", (long long)id);
	fprintf(stderr, "maintenance window %lld for %s: %s\n", (long long)id, argv[1],
		w.approved ? "approved" : "waiting for the customer's approval");
	return 0;
usage:
	fprintf(stderr,
		"erpulse-collector: maintenance add CUSTOMER [--host AGENT_ID] (--weekly "
		"'Sun 02:00-04:00' | --from RFC3339 --to RFC3339) [--time-zone TZ] "
		"[--reason TEXT] [--approved] | list [--customer C] [--json] | approve ID\n");
	return 2;
}

int coll_cli_notify_test(const struct coll_settings *cfg, const char *channel)
{
	const struct coll_channel *c = coll_channel_find(&cfg->service.channels, channel);
	if (!c) {
		fprintf(stderr,
			"erpulse-collector: notify test: no [channel.%s] in the configuration\n",
			channel);
		return 2;
	}
	char customer[] = "erpulse", host[] = "erpulse-collector", rule[] = "notify_test",
	     sev[] = "warning", tier[] = "-", object[COLL_CHANNEL_NAME_SIZE];
	snprintf(object, sizeof(object), "%s", channel);
	struct coll_incident_notice n = {
		.event = "test",
		.level = 1,
		.customer = customer,
		.hostname = host,
		.rule = rule,
		.object = object,
		.severity = sev,
		.tier = tier,
		.before = NAN,
		.after = NAN,
		.at = coll_service_now(),
	};
	char *body;
	if (coll_channel_render(&cfg->service.channels, c, &n, &body) < 0) {
		fprintf(stderr, "erpulse-collector: notify test: cannot render\n");
		return 1;
	}
	struct coll_send_opts o = coll_settings_send_opts(cfg);
	struct coll_send_result res = {0};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	coll_channel_send(&cfg->service.channels, c, body, &o, ep_wall_ms(), &res);
	curl_global_cleanup();
	free(body);
	printf("channel %s: %s (status %ld%s%s)%s%s\n", channel,
	       coll_send_outcome_name(res.outcome), res.status, res.primary_ip[0] ? ", peer " : "",
	       res.primary_ip, res.error[0] ? ": " : "", res.error);
	return res.outcome == COLL_SEND_OK ? 0 : 1;
}
