/* Process-wide counters and histograms for GET /metrics (Prometheus text
 * format 0.0.4). Lock-free: C11 atomics; safe from every thread. */
#ifndef COLL_METRICS_H
#define COLL_METRICS_H

#include <stdint.h>

#include "erpulse/util.h"

enum coll_reject {
	COLL_REJECT_TOO_LARGE,
	COLL_REJECT_UNAUTHORIZED,
	COLL_REJECT_REVOKED,
	COLL_REJECT_BAD_REQUEST,
	COLL_REJECT_UNAVAILABLE,
	COLL_REJECT_RATE_LIMITED,
	COLL_REJECT_TIMEOUT,
	COLL_REJECT_INTERNAL,
	COLL_REJECT_CONFLICT,
	COLL_REJECT_COUNT,
};

enum coll_hist {
	COLL_HIST_INGEST, /* request complete -> answer, seconds */
	COLL_HIST_STORE,  /* one group-commit transaction, seconds */
	COLL_HIST_COUNT,
};

void coll_metrics_accepted(void);
void coll_metrics_duplicate(void);
void coll_metrics_reject(enum coll_reject why);
void coll_metrics_enroll(int ok);
void coll_metrics_batch(uint64_t reports);
void coll_metrics_notice(int ok);
void coll_metrics_observe(enum coll_hist h, int64_t ms);
uint64_t coll_metrics_accepted_total(void);

/* Appends the counters and histograms; gauges (outbox depth, agents by
 * state, store up) are appended by the caller. 0 or -E2BIG/-ENOMEM. */
int coll_metrics_render(struct ep_buf *out);

#endif
