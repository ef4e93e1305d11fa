/* collector.conf: option tables (they document themselves; docs/collector.md
 * lists them) and loading. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/settings.h"
#include "erpulse/util.h"

const struct ep_option coll_server_options[] = {
	{"listen", EP_OPT_STRING, "127.0.0.1:8443", 1, 300,
	 "address:port to listen on (IPv4 address, or [IPv6]:port)"},
	{"tls", EP_OPT_BOOL, "yes", 0, 0,
	 "serve HTTPS; 'no' only for tests or behind a TLS-terminating proxy on loopback"},
	{"tls_cert", EP_OPT_STRING, NULL, 1, 4096, "PEM certificate chain file"},
	{"tls_key", EP_OPT_STRING, NULL, 1, 4096, "PEM private key file"},
	{"max_body_kb", EP_OPT_INT, "1024", 1, 65536, "largest request body (413 above)"},
	{"max_connections", EP_OPT_INT, "4096", 16, 1000000,
	 "concurrent connections (lowered to fit RLIMIT_NOFILE)"},
	{"max_per_ip", EP_OPT_INT, "1024", 1, 1000000,
	 "concurrent connections from one address (many agents sit behind one NAT)"},
	{"connection_timeout", EP_OPT_DURATION, "30s", 1, 3600,
	 "idle time after which a connection is closed"},
	{"request_deadline", EP_OPT_DURATION, "60s", 1, 3600,
	 "total time one request may take, however slowly its bytes trickle in"},
	{"threads", EP_OPT_INT, "0", 0, 256, "HTTP worker threads (0 = number of CPUs)"},
	{"ingest_threads", EP_OPT_INT, "0", 0, 256,
	 "threads that check the signature of report bodies and parse them (0 = number of "
	 "CPUs; with SQLite one fewer, at least 1)"},
	{"memory_limit_kb", EP_OPT_INT, "64", 16, 4096,
	 "per-connection memory for headers and buffers"},
	{"enroll_per_minute", EP_OPT_INT, "30", 1, 100000,
	 "enrollments allowed per minute from one address"},
	{"enroll_burst", EP_OPT_INT, "10", 1, 100000, "enrollment burst per address"},
	{"enroll_global_per_minute", EP_OPT_INT, "600", 1, 10000000,
	 "enrollments allowed per minute from all addresses together"},
	{"enroll_global_burst", EP_OPT_INT, "100", 1, 10000000,
	 "enrollment burst from all addresses together"},
	{"max_inflight_kb", EP_OPT_INT, "65536", 64, 16777216,
	 "report body bytes being received across all connections (503 beyond)"},
	{"header_timeout", EP_OPT_DURATION, "10s", 1, 3600,
	 "time a connection has to send a request's complete headers (also the idle "
	 "time between keep-alive requests)"},
	{"tls_min_version", EP_OPT_STRING, "1.2", 1, 8, "oldest TLS version offered: 1.2 | 1.3"},
	{"tls_ciphers", EP_OPT_STRING, NULL, 1, 1024,
	 "GnuTLS priority string replacing the default (TLS 1.2+ AEAD suites)"},
	{"metrics_token", EP_OPT_STRING, NULL, 16, 256,
	 "when set, GET /metrics needs \"Authorization: Bearer TOKEN\""},
	{"batch_max", EP_OPT_INT, "256", 1, 10000,
	 "reports committed per store transaction at most"},
	{"agent_interval", EP_OPT_DURATION, "300", 10, 86400,
	 "report interval handed to agents at enrollment"},
	{"log_level", EP_OPT_STRING, "info", 1, 16, "err | warning | notice | info | debug"},
	{NULL, 0, NULL, 0, 0, NULL},
};

const struct ep_option coll_store_options[] = {
	{"url", EP_OPT_STRING, "sqlite:///var/lib/erpulse-collector/erpulse.db", 1, 4096,
	 "sqlite:///path/file.db or postgresql://user@host/db"},
	{"retention_days", EP_OPT_INT, "30", 1, 36500,
	 "days raw reports are kept (one per host and day past keep_raw_days)"},
	{"keep_samples_days", EP_OPT_INT, "2", 0, 36500,
	 "days raw history samples are kept, then rolled up by hour (0 = retention_days)"},
	{"keep_raw_days", EP_OPT_INT, "2", 0, 36500,
	 "full UTC days every raw report body is kept besides today's (0 = retention_days)"},
	{"rollup_retention_days", EP_OPT_INT, "400", 1, 36500,
	 "days hourly rollups (and closed alerts) are kept"},
	{"statement_timeout_ms", EP_OPT_INT, "1500", 100, 600000,
	 "PostgreSQL statement timeout and client-side deadline per call"},
	{"connect_timeout_ms", EP_OPT_INT, "1500", 100, 600000, "PostgreSQL connect timeout"},
	{"busy_timeout_ms", EP_OPT_INT, "5000", 10, 600000, "SQLite busy timeout"},
	{"pool", EP_OPT_INT, "4", 1, 64, "store connections for request handlers"},
	{"writers", EP_OPT_INT, "0", 0, 32,
	 "ingest transactions in parallel (0 = 1 for SQLite, 2 for PostgreSQL)"},
	{"pipeline_commits", EP_OPT_BOOL, "yes", 0, 0,
	 "SQLite: the next ingest transaction runs while another thread syncs the last "
	 "one's WAL to disk (reports are acknowledged after that sync either way)"},
	{"sample_interval", EP_OPT_DURATION, "10m", 0, 86400,
	 "at most one history sample per series per this (forecast input)"},
	{NULL, 0, NULL, 0, 0, NULL},
};

const struct ep_option coll_alerts_options[] = {
	{"webhook_url", EP_OPT_STRING, NULL, 1, 4096, "http(s) URL notices are POSTed to"},
	{"webhook_format", EP_OPT_STRING, "generic", 1, 16,
	 "generic | dingtalk | wecom | feishu | slack"},
	{"smtp_url", EP_OPT_STRING, NULL, 1, 4096, "smtp://host:port or smtps://host:port"},
	{"mail_from", EP_OPT_STRING, NULL, 1, 512, "From address of notice mail"},
	{"mail_to", EP_OPT_STRING, NULL, 1, 4096, "comma-separated recipients"},
	{"smtp_user", EP_OPT_STRING, NULL, 1, 512, "SMTP user name"},
	{"smtp_password", EP_OPT_STRING, NULL, 1, 512, "SMTP password"},
	{"allow_private_targets", EP_OPT_BOOL, "no", 0, 0,
	 "allow webhook targets in private, loopback or link-local ranges"},
	{"dashboard_url", EP_OPT_STRING, NULL, 1, 4096, "base URL linked from notices"},
	{"language", EP_OPT_STRING, "en", 1, 8,
	 "language of the alert notices to webhook_url and mail_to: en | zh-CN"},
	{"ca_file", EP_OPT_STRING, NULL, 1, 4096, "CA bundle for webhook/SMTP TLS"},
	{"send_timeout", EP_OPT_DURATION, "10s", 1, 300, "one delivery attempt at most"},
	{"max_attempts", EP_OPT_INT, "20", 1, 1000, "attempts before a notice is given up"},
	{"group_notices", EP_OPT_BOOL, "yes", 0, 0,
	 "several alerts raised or cleared on a host by one report: one message per channel"},
	{"stale_after", EP_OPT_DURATION, "0", 0, 30 * 86400,
	 "carried (stale) data older than this makes its category unknown; 0 = 3 intervals"},
	{NULL, 0, NULL, 0, 0, NULL},
};

const struct ep_option coll_health_options[] = {
	{"risk_weight", EP_OPT_INT, "40", 0, 100,
	 "customer health: weight of the technical risk score (docs/adoption.md)"},
	{"adoption_weight", EP_OPT_INT, "40", 0, 100,
	 "customer health: weight of the adoption score"},
	{"sla_weight", EP_OPT_INT, "20", 0, 100,
	 "customer health: weight of the SLA attainment (this month's resolution rate)"},
	{"login_weight", EP_OPT_INT, "25", 0, 100,
	 "adoption score: weight of login frequency (enabled users active in 7 days)"},
	{"modules_weight", EP_OPT_INT, "30", 0, 100,
	 "adoption score: weight of core-module use (core document types used in 7 days)"},
	{"login_target", EP_OPT_INT, "70", 1, 100,
	 "adoption score: % of enabled users active in 7 days that earns full login marks"},
	{"healthy_from", EP_OPT_INT, "85", 1, 100,
	 "adoption and health scores from this are 'healthy'"},
	{"at_risk_from", EP_OPT_INT, "60", 1, 100,
	 "adoption and health scores from this (below healthy_from) are 'at risk'; below: "
	 "churn warning"},
	{NULL, 0, NULL, 0, 0, NULL},
};

const struct ep_option coll_report_options[] = {
	{"enabled", EP_OPT_BOOL, "yes", 0, 0,
	 "render, store and mail every customer's monthly report (docs/report.md)"},
	{"day", EP_OPT_INT, "1", 1, 28,
	 "day of the month the previous month's report is sent, in the customer's time zone"},
	{"hour", EP_OPT_INT, "8", 0, 23, "hour of that day (customer's time zone)"},
	{"smtp_url", EP_OPT_STRING, NULL, 1, 4096,
	 "smtp://host:port or smtps://host:port for the reports (default: [alerts] smtp_url)"},
	{"mail_from", EP_OPT_STRING, NULL, 1, 512,
	 "From address of the report mail (default: [alerts] mail_from)"},
	{"check_interval", EP_OPT_DURATION, "5m", 10, 86400,
	 "how often serve looks for reports that are due"},
	{"retry_interval", EP_OPT_DURATION, "15m", 10, 7 * 86400,
	 "a report whose mail failed is sent again after this"},
	{"max_attempts", EP_OPT_INT, "20", 1, 1000, "attempts before a report's mail is given up"},
	{"keep_months", EP_OPT_INT, "25", 1, 1200,
	 "stored reports older than this many months are deleted"},
	{NULL, 0, NULL, 0, 0, NULL},
};

static int get_str(const struct ep_config_section *sec, const struct ep_option *o, const char *k,
		   char **ret, char *err, size_t errlen)
{
	const char *v = NULL;
	int r = ep_config_get_string(sec, o, k, &v, err, errlen);
	if (r == -ENOENT) {
		*ret = NULL;
		return 0;
	}
	if (r < 0)
		return r;
	*ret = strdup(v);
	return *ret ? 0 : -ENOMEM;
}

static int parse_listen(const char *v, struct coll_settings *s, char *err, size_t errlen)
{
	const char *colon;
	char host[256];
	if (v[0] == '[') {
		const char *end = strchr(v, ']');
		if (!end || end[1] != ':')
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(end - v - 1), v + 1);
		colon = end + 1;
	} else {
		colon = strrchr(v, ':');
		if (!colon)
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - v), v);
	}
	int64_t port;
	if (ep_parse_int64(colon + 1, 0, 65535, &port) < 0)
		goto bad;
	s->listen_host = strdup(host[0] ? host : "0.0.0.0");
	s->port = (int)port;
	return s->listen_host ? 0 : -ENOMEM;
bad:
	snprintf(err, errlen, "[server] listen: '%s' is not ADDRESS:PORT (e.g. 127.0.0.1:8443)", v);
	return -EINVAL;
}

static bool has_email_channel(const struct coll_service *svc)
{
	for (size_t i = 0; i < svc->channels.n; i++)
		if (svc->channels.v[i].email)
			return true;
	return false;
}

/* The line of key in sec (the section's line when absent). */
static int line_of(const struct ep_config_section *sec, const char *key)
{
	for (size_t i = 0; i < sec->n_entries; i++)
		if (strcmp(sec->entries[i].key, key) == 0)
			return sec->entries[i].line;
	return sec->line;
}

static int load_health(const struct ep_config_section *h, const char *file, struct coll_settings *s,
		       char *err, size_t errlen)
{
	static const char *const keys[] = {"risk_weight",  "adoption_weight", "sla_weight",
					   "login_weight", "modules_weight",  "login_target",
					   "healthy_from", "at_risk_from"};
	int *dst[] = {&s->health_weights.risk,     &s->health_weights.adoption,
		      &s->health_weights.sla,      &s->adoption.login_weight,
		      &s->adoption.modules_weight, &s->adoption.login_target_pct,
		      &s->adoption.healthy_from,   &s->adoption.at_risk_from};
	for (size_t i = 0; i < EP_ARRAY_SIZE(keys); i++) {
		int64_t v;
		int r = ep_config_get_int(h, coll_health_options, keys[i], &v, err, errlen);
		if (r < 0)
			return r;
		*dst[i] = (int)v;
	}
	if (!h)
		return 0;
	const char *key = NULL, *what = NULL;
	if (s->health_weights.risk + s->health_weights.adoption + s->health_weights.sla == 0)
		key = "sla_weight", what = "risk, adoption and SLA weights are all 0";
	else if (s->adoption.login_weight + s->adoption.modules_weight == 0)
		key = "modules_weight", what = "login and modules weights are both 0";
	else if (s->adoption.at_risk_from >= s->adoption.healthy_from)
		key = "at_risk_from", what = "must be below healthy_from";
	if (!key)
		return 0;
	snprintf(err, errlen, "%s:%d: [health] %s: %s", file, line_of(h, key), key, what);
	return -EINVAL;
}

int coll_settings_load(const char *path, struct coll_settings *ret, char *err, size_t errlen)
{
	struct ep_config *cfg = NULL;
	struct coll_settings s = {0};
	const char *file = path ? path : COLL_DEFAULT_CONFIG;
	int r;

	if (!path && access(file, F_OK) != 0) {
		r = ep_config_load_string("", 0, "(defaults)", &cfg, err, errlen);
	} else {
		r = ep_config_load(file, &cfg, err, errlen);
		if (r < 0 && err[0] == '\0')
			snprintf(err, errlen, "%s: %s", file, strerror(-r));
	}
	if (r < 0)
		return r;
	for (size_t i = 0; i < cfg->n_sections; i++) {
		const struct ep_config_section *sec = &cfg->sections[i];
		const struct ep_option *o = NULL;
		if (strcmp(sec->name, "server") == 0)
			o = coll_server_options;
		else if (strcmp(sec->name, "store") == 0)
			o = coll_store_options;
		else if (strcmp(sec->name, "alerts") == 0)
			o = coll_alerts_options;
		else if (strcmp(sec->name, "health") == 0)
			o = coll_health_options;
		else if (strcmp(sec->name, "report") == 0)
			o = coll_report_options;
		else if (coll_service_section(sec->type))
			continue; /* coll_service_load checks these */
		if (!o) {
			snprintf(err, errlen,
				 "%s:%d: [%s]: unknown section (expected server, store, alerts, "
				 "health, report, incidents, tier.NAME, channel.NAME, route.NAME)",
				 file, sec->line, sec->name);
			r = -EINVAL;
			goto out;
		}
		r = ep_config_check(sec, o, err, errlen);
		if (r < 0)
			goto out;
	}
	const struct ep_config_section *sv = ep_config_find(cfg, "server");
	const struct ep_config_section *st = ep_config_find(cfg, "store");
	const struct ep_config_section *al = ep_config_find(cfg, "alerts");
	const struct ep_option *so = coll_server_options, *to = coll_store_options,
			       *ao = coll_alerts_options;
	const char *listen;
	int64_t kb;
#define TRY(x)                                                                                     \
	do {                                                                                       \
		r = (x);                                                                           \
		if (r < 0)                                                                         \
			goto out;                                                                  \
	} while (0)
	TRY(ep_config_get_string(sv, so, "listen", &listen, err, errlen));
	TRY(parse_listen(listen, &s, err, errlen));
	TRY(ep_config_get_bool(sv, so, "tls", &s.tls, err, errlen));
	TRY(get_str(sv, so, "tls_cert", &s.tls_cert, err, errlen));
	TRY(get_str(sv, so, "tls_key", &s.tls_key, err, errlen));
	TRY(ep_config_get_int(sv, so, "max_body_kb", &kb, err, errlen));
	s.max_body_bytes = kb * 1024;
	TRY(ep_config_get_int(sv, so, "max_connections", &s.max_connections, err, errlen));
	TRY(ep_config_get_int(sv, so, "max_per_ip", &s.max_per_ip, err, errlen));
	TRY(ep_config_get_duration(sv, so, "connection_timeout", &s.connection_timeout_s, err,
				   errlen));
	TRY(ep_config_get_duration(sv, so, "request_deadline", &s.request_deadline_s, err, errlen));
	TRY(ep_config_get_int(sv, so, "threads", &s.threads, err, errlen));
	TRY(ep_config_get_int(sv, so, "memory_limit_kb", &kb, err, errlen));
	s.memory_limit_bytes = kb * 1024;
	TRY(ep_config_get_int(sv, so, "enroll_per_minute", &s.enroll_per_minute, err, errlen));
	TRY(ep_config_get_int(sv, so, "enroll_burst", &s.enroll_burst, err, errlen));
	TRY(ep_config_get_int(sv, so, "enroll_global_per_minute", &s.enroll_global_per_minute, err,
			      errlen));
	TRY(ep_config_get_int(sv, so, "enroll_global_burst", &s.enroll_global_burst, err, errlen));
	TRY(ep_config_get_int(sv, so, "max_inflight_kb", &kb, err, errlen));
	s.max_inflight_bytes = kb * 1024;
	TRY(ep_config_get_duration(sv, so, "header_timeout", &s.header_timeout_s, err, errlen));
	TRY(get_str(sv, so, "tls_min_version", &s.tls_min_version, err, errlen));
	TRY(get_str(sv, so, "tls_ciphers", &s.tls_ciphers, err, errlen));
	TRY(get_str(sv, so, "metrics_token", &s.metrics_token, err, errlen));
	TRY(ep_config_get_int(sv, so, "batch_max", &s.batch_max, err, errlen));
	TRY(ep_config_get_int(sv, so, "ingest_threads", &s.ingest_threads, err, errlen));
	TRY(ep_config_get_duration(sv, so, "agent_interval", &s.agent_interval_s, err, errlen));
	TRY(get_str(sv, so, "log_level", &s.log_level, err, errlen));

	TRY(get_str(st, to, "url", &s.store_url, err, errlen));
	TRY(ep_config_get_int(st, to, "retention_days", &s.retention_days, err, errlen));
	TRY(ep_config_get_int(st, to, "keep_raw_days", &s.keep_raw_days, err, errlen));
	TRY(ep_config_get_int(st, to, "keep_samples_days", &s.keep_samples_days, err, errlen));
	TRY(ep_config_get_int(st, to, "rollup_retention_days", &s.rollup_retention_days, err,
			      errlen));
	TRY(ep_config_get_int(st, to, "statement_timeout_ms", &s.statement_timeout_ms, err,
			      errlen));
	TRY(ep_config_get_int(st, to, "connect_timeout_ms", &s.connect_timeout_ms, err, errlen));
	TRY(ep_config_get_int(st, to, "busy_timeout_ms", &s.busy_timeout_ms, err, errlen));
	TRY(ep_config_get_int(st, to, "pool", &s.pool_size, err, errlen));
	TRY(ep_config_get_duration(st, to, "sample_interval", &s.sample_interval_s, err, errlen));
	TRY(ep_config_get_int(st, to, "writers", &s.writers, err, errlen));
	TRY(ep_config_get_bool(st, to, "pipeline_commits", &s.pipeline_commits, err, errlen));

	TRY(get_str(al, ao, "webhook_url", &s.webhook_url, err, errlen));
	TRY(get_str(al, ao, "webhook_format", &s.webhook_format, err, errlen));
	TRY(get_str(al, ao, "smtp_url", &s.smtp_url, err, errlen));
	TRY(get_str(al, ao, "mail_from", &s.mail_from, err, errlen));
	TRY(get_str(al, ao, "mail_to", &s.mail_to, err, errlen));
	TRY(get_str(al, ao, "smtp_user", &s.smtp_user, err, errlen));
	TRY(get_str(al, ao, "smtp_password", &s.smtp_password, err, errlen));
	TRY(ep_config_get_bool(al, ao, "allow_private_targets", &s.allow_private_targets, err,
			       errlen));
	TRY(get_str(al, ao, "dashboard_url", &s.dashboard_url, err, errlen));
	TRY(get_str(al, ao, "language", &s.language, err, errlen));
	TRY(get_str(al, ao, "ca_file", &s.ca_file, err, errlen));
	TRY(ep_config_get_duration(al, ao, "send_timeout", &s.send_timeout_s, err, errlen));
	TRY(ep_config_get_int(al, ao, "max_attempts", &s.max_attempts, err, errlen));
	TRY(ep_config_get_bool(al, ao, "group_notices", &s.group_notices, err, errlen));
	TRY(ep_config_get_duration(al, ao, "stale_after", &s.stale_after_s, err, errlen));
	TRY(load_health(ep_config_find(cfg, "health"), file, &s, err, errlen));
	const struct ep_config_section *rp = ep_config_find(cfg, "report");
	const struct ep_option *ro = coll_report_options;
	TRY(ep_config_get_bool(rp, ro, "enabled", &s.report_enabled, err, errlen));
	TRY(ep_config_get_int(rp, ro, "day", &s.report_day, err, errlen));
	TRY(ep_config_get_int(rp, ro, "hour", &s.report_hour, err, errlen));
	TRY(get_str(rp, ro, "smtp_url", &s.report_smtp_url, err, errlen));
	TRY(get_str(rp, ro, "mail_from", &s.report_mail_from, err, errlen));
	TRY(ep_config_get_duration(rp, ro, "check_interval", &s.report_check_interval_s, err,
				   errlen));
	TRY(ep_config_get_duration(rp, ro, "retry_interval", &s.report_retry_s, err, errlen));
	TRY(ep_config_get_int(rp, ro, "max_attempts", &s.report_max_attempts, err, errlen));
	TRY(ep_config_get_int(rp, ro, "keep_months", &s.report_keep_months, err, errlen));
	TRY(coll_service_load(cfg, &s.service, err, errlen));
	s.service.channels.smtp_url = s.smtp_url;
	s.service.channels.mail_from = s.mail_from;
	s.service.channels.dashboard_url = s.dashboard_url;
#undef TRY
	if (strcmp(s.tls_min_version, "1.2") != 0 && strcmp(s.tls_min_version, "1.3") != 0) {
		snprintf(err, errlen, "%s: [server] tls_min_version: '%s' is not 1.2 or 1.3", file,
			 s.tls_min_version);
		r = -EINVAL;
		goto out;
	}
	if (s.language && strcmp(s.language, "en") != 0 && strcmp(s.language, "zh-CN") != 0) {
		snprintf(err, errlen, "%s: [alerts] language: '%s' is not en or zh-CN", file,
			 s.language);
		r = -EINVAL;
		goto out;
	}
	if (s.report_smtp_url && !s.report_mail_from && !s.mail_from) {
		snprintf(err, errlen,
			 "%s: [report] smtp_url needs mail_from (in [report] or [alerts])", file);
		r = -EINVAL;
		goto out;
	}
	/* mail_to is the alert notices' list; e-mail channels name their own */
	if (s.smtp_url && (!s.mail_from || (!s.mail_to && !has_email_channel(&s.service)))) {
		snprintf(err, errlen, "%s: [alerts] smtp_url needs mail_from and mail_to", file);
		r = -EINVAL;
		goto out;
	}
	*ret = s;
	ret->service.ctx.tiers = &ret->service.tiers;
	memset(&s, 0, sizeof(s));
	r = 0;
out:
	coll_settings_free(&s);
	ep_config_free(cfg);
	return r;
}

void coll_settings_free(struct coll_settings *s)
{
	if (!s)
		return;
	coll_service_free(&s->service);
	char **strs[] = {
		&s->listen_host,   &s->tls_cert,    &s->tls_key,         &s->log_level,
		&s->store_url,     &s->webhook_url, &s->webhook_format,  &s->smtp_url,
		&s->mail_from,     &s->mail_to,     &s->smtp_user,       &s->smtp_password,
		&s->dashboard_url, &s->ca_file,     &s->tls_min_version, &s->tls_ciphers,
		&s->metrics_token, &s->language,    &s->report_smtp_url, &s->report_mail_from};
	for (size_t i = 0; i < EP_ARRAY_SIZE(strs); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
}

struct coll_send_opts coll_settings_send_opts(const struct coll_settings *s)
{
	return (struct coll_send_opts){
		.allow_private = s->allow_private_targets,
		.timeout_ms = s->send_timeout_s * 1000,
		.connect_timeout_ms = s->send_timeout_s * 500,
		.ca_file = s->ca_file,
		.smtp_user = s->smtp_user,
		.smtp_password = s->smtp_password,
	};
}
