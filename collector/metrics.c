/* Counters and histograms for /metrics (metrics.h). */
#include <stdatomic.h>
#include <errno.h>
#include <stdint.h>

#include "collector/metrics.h"

static const char *const reject_names[COLL_REJECT_COUNT] = {
	[COLL_REJECT_TOO_LARGE] = "too_large",     [COLL_REJECT_UNAUTHORIZED] = "unauthorized",
	[COLL_REJECT_REVOKED] = "revoked",         [COLL_REJECT_BAD_REQUEST] = "bad_request",
	[COLL_REJECT_UNAVAILABLE] = "unavailable", [COLL_REJECT_RATE_LIMITED] = "rate_limited",
	[COLL_REJECT_TIMEOUT] = "timeout",         [COLL_REJECT_INTERNAL] = "internal",
	[COLL_REJECT_CONFLICT] = "conflict",
};

/* upper bounds in milliseconds */
static const int64_t bucket_ms[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000};
#define N_BUCKETS (sizeof(bucket_ms) / sizeof(bucket_ms[0]))

struct hist {
	_Atomic uint64_t buckets[N_BUCKETS];
	_Atomic uint64_t count;
	_Atomic uint64_t sum_ms;
};

static _Atomic uint64_t accepted, duplicate, rejected[COLL_REJECT_COUNT];
static _Atomic uint64_t enroll_ok, enroll_fail, batches, batched_reports, notice_ok, notice_fail;
static struct hist hists[COLL_HIST_COUNT];
static const char *const hist_names[COLL_HIST_COUNT] = {
	[COLL_HIST_INGEST] = "erpulse_ingest_seconds",
	[COLL_HIST_STORE] = "erpulse_store_commit_seconds",
};
static const char *const hist_help[COLL_HIST_COUNT] = {
	[COLL_HIST_INGEST] = "Time from a complete report request to its answer",
	[COLL_HIST_STORE] = "Time of one group-commit store transaction",
};

void coll_metrics_accepted(void)
{
	atomic_fetch_add(&accepted, 1);
}
void coll_metrics_duplicate(void)
{
	atomic_fetch_add(&duplicate, 1);
}
void coll_metrics_reject(enum coll_reject why)
{
	if ((unsigned)why < COLL_REJECT_COUNT)
		atomic_fetch_add(&rejected[why], 1);
}
void coll_metrics_enroll(int ok)
{
	atomic_fetch_add(ok ? &enroll_ok : &enroll_fail, 1);
}
void coll_metrics_batch(uint64_t reports)
{
	atomic_fetch_add(&batches, 1);
	atomic_fetch_add(&batched_reports, reports);
}
void coll_metrics_notice(int ok)
{
	atomic_fetch_add(ok ? &notice_ok : &notice_fail, 1);
}
uint64_t coll_metrics_accepted_total(void)
{
	return atomic_load(&accepted);
}

void coll_metrics_observe(enum coll_hist h, int64_t ms)
{
	if ((unsigned)h >= COLL_HIST_COUNT)
		return;
	if (ms < 0)
		ms = 0;
	struct hist *x = &hists[h];
	for (size_t i = 0; i < N_BUCKETS; i++)
		if (ms <= bucket_ms[i]) {
			atomic_fetch_add(&x->buckets[i], 1);
			break;
		}
	atomic_fetch_add(&x->count, 1);
	atomic_fetch_add(&x->sum_ms, (uint64_t)ms);
}

int coll_metrics_render(struct ep_buf *o)
{
	int r = 0;
	r |= ep_buf_printf(o,
			   "# HELP erpulse_reports_accepted_total Reports stored and committed\n"
			   "# TYPE erpulse_reports_accepted_total counter\n"
			   "erpulse_reports_accepted_total %llu\n",
			   (unsigned long long)atomic_load(&accepted));
	r |= ep_buf_printf(o,
			   "# HELP erpulse_reports_duplicate_total Reports answered duplicate\n"
			   "# TYPE erpulse_reports_duplicate_total counter\n"
			   "erpulse_reports_duplicate_total %llu\n",
			   (unsigned long long)atomic_load(&duplicate));
	r |= ep_buf_printf(o, "# HELP erpulse_reports_rejected_total Reports refused, by reason\n"
			      "# TYPE erpulse_reports_rejected_total counter\n");
	for (size_t i = 0; i < COLL_REJECT_COUNT; i++)
		r |= ep_buf_printf(o, "erpulse_reports_rejected_total{reason=\"%s\"} %llu\n",
				   reject_names[i], (unsigned long long)atomic_load(&rejected[i]));
	r |= ep_buf_printf(o,
			   "# HELP erpulse_enrollments_total Enrollment attempts\n"
			   "# TYPE erpulse_enrollments_total counter\n"
			   "erpulse_enrollments_total{result=\"ok\"} %llu\n"
			   "erpulse_enrollments_total{result=\"refused\"} %llu\n",
			   (unsigned long long)atomic_load(&enroll_ok),
			   (unsigned long long)atomic_load(&enroll_fail));
	r |= ep_buf_printf(
		o,
		"# HELP erpulse_store_batches_total Group-commit transactions\n"
		"# TYPE erpulse_store_batches_total counter\n"
		"erpulse_store_batches_total %llu\n"
		"# HELP erpulse_store_batched_reports_total Reports in those transactions\n"
		"# TYPE erpulse_store_batched_reports_total counter\n"
		"erpulse_store_batched_reports_total %llu\n",
		(unsigned long long)atomic_load(&batches),
		(unsigned long long)atomic_load(&batched_reports));
	r |= ep_buf_printf(o,
			   "# HELP erpulse_notices_total Notice delivery attempts\n"
			   "# TYPE erpulse_notices_total counter\n"
			   "erpulse_notices_total{result=\"sent\"} %llu\n"
			   "erpulse_notices_total{result=\"failed\"} %llu\n",
			   (unsigned long long)atomic_load(&notice_ok),
			   (unsigned long long)atomic_load(&notice_fail));
	for (size_t h = 0; h < COLL_HIST_COUNT; h++) {
		struct hist *x = &hists[h];
		uint64_t cum = 0;
		r |= ep_buf_printf(o, "# HELP %s %s\n# TYPE %s histogram\n", hist_names[h],
				   hist_help[h], hist_names[h]);
		for (size_t i = 0; i < N_BUCKETS; i++) {
			cum += atomic_load(&x->buckets[i]);
			r |= ep_buf_printf(o, "%s_bucket{le=\"%g\"} %llu\n", hist_names[h],
					   (double)bucket_ms[i] / 1000.0, (unsigned long long)cum);
		}
		r |= ep_buf_printf(o, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.3f\n%s_count %llu\n",
				   hist_names[h], (unsigned long long)atomic_load(&x->count),
				   hist_names[h], (double)atomic_load(&x->sum_ms) / 1000.0,
				   hist_names[h], (unsigned long long)atomic_load(&x->count));
	}
	return r ? -E2BIG : 0;
}
