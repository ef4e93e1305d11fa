/* What ingest does with an accepted report inside its transaction: history
 * samples -> forecasts (forecast.h) -> explained score (score.h) -> alert
 * rules with hysteresis (alerts.h) -> notices rendered (notify.h) into the
 * outbox. Also the dead-man sweep for silent agents. */
#ifndef COLL_ANALYSIS_H
#define COLL_ANALYSIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/analysis/alerts.h"
#include "collector/analysis/pipeline.h"
#include "collector/notify/notify.h"
#include "collector/service/service.h"
#include "collector/store/store.h"

struct coll_analysis {
	const char *webhook_url; /* NULL = no webhook channel */
	enum coll_webhook_format webhook_format;
	const char *smtp_url; /* NULL = no mail channel */
	const char *mail_from, *mail_to;
	const char *dashboard_url;
	const char *lang;          /* the notices' language ([alerts] language): "en" | "zh-CN" */
	int64_t forecast_window_s; /* history read for forecasts (default 30 days) */
	int64_t sample_interval_s; /* at most one history sample per series per this */
	size_t max_forecasts;      /* per report (default 64) */
	int64_t stale_after_s;     /* carried data older than this: category unknown
				      (0 = 3 report intervals; docs/scoring.md) */
	bool group_notices;        /* several notices from one report or sweep of a host:
				      one message per channel listing them (docs/alerts.md) */
	const struct coll_service *service; /* incidents (service/service.h); NULL = none */
};

struct coll_settings; /* collector/settings.h */

/* The analysis settings from the collector's configuration ([alerts] and
 * [store]); strings are borrowed from cfg. 0, or -EINVAL with err set
 * (webhook_format). */
int coll_analysis_config(const struct coll_settings *cfg, struct coll_analysis *ret, char *err,
			 size_t errlen);

/* Runs inside the ingest transaction for an accepted report. 0 or -errno. */
int coll_analysis_run(const struct coll_analysis *an, struct coll_store *s,
		      const struct coll_ingest *it);

/* The incidents of alert results (service/service.h; analysis/incidents.c):
 * every raise, level or value change and clear of one report (seq; 0 for
 * the dead-man sweep) opens, joins, reopens or resolves its incident, in the
 * caller's transaction. No-op without an->service. 0 or -errno. */
int coll_analysis_incidents(const struct coll_analysis *an, struct coll_store *s,
			    const char *agent_id, const char *customer_id, int64_t seq,
			    const struct coll_alert_results *ar);
int coll_analysis_incident(const struct coll_analysis *an, struct coll_store *s,
			   const char *agent_id, const char *customer_id, int64_t seq,
			   const struct coll_alert_result *a);

/* Raises agent_silent alerts for agents without a report for three
 * intervals (one transaction; safe to run on several collectors at once:
 * the unique open-alert index decides). Returns the number raised or -errno. */
int coll_analysis_deadman(const struct coll_analysis *an, struct coll_store *s, int64_t now);

#endif
