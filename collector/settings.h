/* The collector's configuration (/etc/erpulse/collector.conf): option tables
 * for [server], [store] and [alerts] (they also document every key, see
 * docs/collector.md) and the parsed result. */
#ifndef COLL_SETTINGS_H
#define COLL_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/analysis/adoption.h"
#include "collector/service/service.h"
#include "erpulse/config.h"

#ifndef EP_SYSCONFDIR
#define EP_SYSCONFDIR "/etc"
#endif
#define COLL_DEFAULT_CONFIG EP_SYSCONFDIR "/erpulse/collector.conf"

extern const struct ep_option coll_server_options[];
extern const struct ep_option coll_store_options[];
extern const struct ep_option coll_alerts_options[];
extern const struct ep_option coll_health_options[];
extern const struct ep_option coll_report_options[];

struct coll_settings {
	/* [server] */
	char *listen_host; /* "127.0.0.1" */
	int port;
	bool tls;
	char *tls_cert, *tls_key;
	int64_t max_body_bytes;
	int64_t max_connections, max_per_ip;
	int64_t connection_timeout_s, request_deadline_s;
	int64_t threads;
	int64_t memory_limit_bytes;
	int64_t enroll_per_minute, enroll_burst;
	int64_t enroll_global_per_minute, enroll_global_burst;
	int64_t max_inflight_bytes; /* body bytes being received, all connections */
	int64_t header_timeout_s;   /* complete request headers within this */
	char *tls_min_version;      /* "1.2" | "1.3" */
	char *tls_ciphers;          /* a GnuTLS priority string replacing ours */
	char *metrics_token;        /* GET /metrics needs "Authorization: Bearer" it */
	int64_t batch_max;
	int64_t ingest_threads; /* checkers: signature and parse (0 = CPUs) */
	int64_t agent_interval_s;
	char *log_level;
	/* [store] */
	char *store_url;
	int64_t retention_days, rollup_retention_days;
	int64_t keep_raw_days;     /* every raw body; then one per host and day */
	int64_t keep_samples_days; /* raw samples; then hourly rollups (0 = retention_days) */
	int64_t statement_timeout_ms, connect_timeout_ms, busy_timeout_ms;
	int64_t pool_size;
	int64_t sample_interval_s;
	int64_t writers;
	bool pipeline_commits; /* SQLite: WAL synced by the syncer thread (api_reports.c) */
	/* [alerts] */
	char *webhook_url, *webhook_format;
	char *language; /* [alerts] language of the notices: "en" | "zh-CN" */
	char *smtp_url, *mail_from, *mail_to, *smtp_user, *smtp_password;
	bool allow_private_targets;
	char *dashboard_url;
	char *ca_file;
	int64_t send_timeout_s;
	int64_t max_attempts;
	bool group_notices;    /* one grouped message per report and channel */
	int64_t stale_after_s; /* carried data this old: category unknown (0 = 3 intervals) */
	/* [report] the monthly report's delivery (docs/report.md, "Delivery") */
	bool report_enabled;
	int64_t report_day, report_hour;
	char *report_smtp_url, *report_mail_from; /* NULL: [alerts]' */
	int64_t report_check_interval_s, report_retry_s, report_max_attempts, report_keep_months;
	/* [health] (docs/adoption.md) */
	struct coll_adoption_params adoption;
	struct coll_health_weights health_weights;
	/* [incidents], [tier.*], [channel.*], [route.*] (service/service.h) */
	struct coll_service service;
};

/* Loads path (NULL = COLL_DEFAULT_CONFIG; a missing default file means all
 * defaults, a missing explicit file is an error) into *ret. 0 or -errno
 * with err as "FILE:LINE: [section] key: what is wrong". */
int coll_settings_load(const char *path, struct coll_settings *ret, char *err, size_t errlen);
void coll_settings_free(struct coll_settings *s);
/* The [alerts] delivery options of s (strings borrowed from s). */
struct coll_send_opts coll_settings_send_opts(const struct coll_settings *s);

#endif
