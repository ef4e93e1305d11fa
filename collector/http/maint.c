/* The maintenance thread (http.h): cuts requests over the total deadline
 * (the reaper), checkpoints SQLite's WAL, runs the dead-man sweep and
 * retention, the fleet's hourly history, the monthly reports' delivery. */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "collector/http/http.h"
#include "collector/metrics.h"
#include "collector/analysis/analysis.h"
#include "collector/notify/outbox.h"
#include "collector/report/deliver.h"
#include "collector/store/sql.h"
#include "erpulse/log.h"
#include "erpulse/util.h"

void *coll_http_maint(void *arg)
{
	struct coll_server *srv = arg;
	char err[512];
	struct coll_store *s = NULL;
	struct coll_db_opts o = {
		.statement_timeout_ms = srv->cfg->statement_timeout_ms * 20,
		.connect_timeout_ms = srv->cfg->connect_timeout_ms,
		.busy_timeout_ms = srv->cfg->busy_timeout_ms,
	};
	int64_t next_sweep = ep_mono_ms() + 5000, next_retention = ep_mono_ms() + 60000;
	int64_t next_open = 0, next_reap = 0, next_escalate = ep_mono_ms() + 1000,
		next_history = ep_mono_ms() + 5000, next_report = ep_mono_ms() + 3000;
	struct coll_report_delivery delivery;
	coll_report_delivery_init(srv->cfg, &delivery);
	/* the 1st's thousand reports in slices: escalations and sweeps go on */
	delivery.budget_ms = 5000;
	/* SQLite: a PASSIVE WAL checkpoint every tick, a few MiB each at full
	 * load rather than large bursts of writeback; 250 ms rather than 50:
	 * a page that several reports change in between is written once (the
	 * checkpoints' CPU at 100,000 hosts 213-427 -> 90 ms per 10,240
	 * reports, docs/store.md "Session 7") */
	bool lite = coll_db_kind(srv->writer->db) == COLL_DB_SQLITE;
	long tick_ms = 250;
	for (;;) {
		pthread_mutex_lock(&srv->mlock);
		if (!srv->stop) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			int64_t ns = ts.tv_nsec + tick_ms * 1000000L;
			ts.tv_sec += ns / 1000000000;
			ts.tv_nsec = ns % 1000000000;
			pthread_cond_timedwait(&srv->mcond, &srv->mlock, &ts);
		}
		bool stop = srv->stop;
		pthread_mutex_unlock(&srv->mlock);
		if (stop)
			break;
		int64_t now = ep_mono_ms();
		if (now >= next_reap) {
			coll_http_reap(srv);
			next_reap = now + 250;
		}
		if (now < next_sweep && now < next_retention && now < next_escalate &&
		    now < next_report && !lite)
			continue;
		if (!s && now >= next_open &&
		    coll_store_open(srv->cfg->store_url, &o, &s, err, sizeof(err)) < 0) {
			ep_log_warning("maintenance: %s", err);
			next_open = now + 10000;
			if (next_sweep < next_open)
				next_sweep = next_open;
		}
		if (!s)
			continue;
		s->keep_raw_days = srv->cfg->keep_raw_days;
		s->keep_samples_days = srv->cfg->keep_samples_days;
		if (lite) {
			/* the batchers' WAL checkpoints, off their critical path */
			coll_store_set_deadline(s, INT64_MAX);
			if (coll_db_checkpoint(s->db) < 0)
				ep_log_debug("WAL checkpoint: %s", coll_db_error(s->db));
			if (now < next_sweep && now < next_retention && now < next_escalate &&
			    now < next_report)
				continue;
		}
		if (now >= next_escalate) {
			/* SLA warnings, breaches and escalations (service/service.h) */
			size_t fired = 0;
			next_escalate = now + srv->cfg->service.escalation_interval_s * 1000;
			coll_store_set_deadline(s, now + o.statement_timeout_ms);
			if (coll_service_escalate(&srv->cfg->service, s, coll_service_now(),
						  &fired) < 0)
				ep_log_warning("escalation: %s", s->err);
			else if (fired > 0) {
				ep_log_notice("escalation: %zu SLA events", fired);
				coll_outbox_kick(srv->outbox);
			}
		}
		if (now >= next_sweep) {
			next_sweep = now + 15000;
			coll_store_set_deadline(s, now + o.statement_timeout_ms);
			int r = coll_analysis_deadman(&srv->an, s, ep_wall_ms() / 1000);
			if (r < 0)
				ep_log_warning("dead-man sweep: %s", s->err);
			else if (r > 0) {
				ep_log_notice("dead-man sweep: %d silent agents alerted", r);
				coll_outbox_kick(srv->outbox);
			}
		}
		if (now >= next_history) {
			/* this hour's fleet band counts (charts: store/history.c) */
			next_history = now + 600 * 1000;
			coll_store_set_deadline(s, now + o.statement_timeout_ms);
			if (coll_store_history_maintain(s, ep_wall_ms() / 1000,
							srv->cfg->rollup_retention_days * 86400) <
			    0)
				ep_log_warning("history: %s", s->err);
		}
		if (now >= next_report && delivery.enabled) {
			/* the monthly reports that are due (report/deliver.h): rendering
			 * takes its time, so no statement deadline; a slice at a time */
			struct coll_report_tick_stats st;
			next_report = now + srv->cfg->report_check_interval_s * 1000;
			coll_store_set_deadline(s, INT64_MAX);
			if (coll_report_tick(&delivery, s, coll_service_now(), &st, err,
					     sizeof(err)) < 0)
				ep_log_warning("monthly reports: %s", err);
			else if (st.more)
				next_report = now + 500;
			if (st.sent || st.stored || st.failed)
				ep_log_notice(
					"monthly reports: %zu sent, %zu stored, %zu failed%s%s",
					st.sent, st.stored, st.failed, st.failed ? ": " : "",
					st.failed ? err : "");
		}
		if (now >= next_retention) {
			next_retention = now + 3600 * 1000;
			coll_store_set_deadline(s, INT64_MAX);
			/* the compression dictionary: trained weekly, the newest
			 * used by this process's ingest */
			if (coll_store_codec_maintain(s, ep_wall_ms() / 1000) < 0)
				ep_log_warning("compression dictionary: %s", s->err);
			int r = coll_store_retention(s, ep_wall_ms() / 1000,
						     srv->cfg->retention_days * 86400,
						     srv->cfg->rollup_retention_days * 86400);
			if (r < 0)
				ep_log_warning("retention: %s", s->err);
		}
	}
	coll_store_close(s);
	return NULL;
}
