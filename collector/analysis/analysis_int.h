/* Internal to collector/analysis/analysis.c and notices.c: the host a
 * notice is about, and turning alert results into outbox rows. */
#ifndef COLL_ANALYSIS_INT_H
#define COLL_ANALYSIS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/analysis/alerts.h"
#include "collector/analysis/analysis.h"

struct coll_target {
	const char *agent_id, *customer_id, *hostname;
	char customer[256];
	bool customer_loaded;
};

/* The rule name as stored and shown (the kind for COLL_RULE_FINDING). */
const char *coll_result_name(const struct coll_alert_result *a);
/* One notice for one alert result, into the outbox of every channel. 0 or -errno. */
int coll_notice_enqueue(const struct coll_analysis *an, struct coll_store *s, struct coll_target *t,
			const struct coll_alert_result *a, int64_t now);
/* Several results of one host at once: one message per channel listing them. */
int coll_notice_enqueue_group(const struct coll_analysis *an, struct coll_store *s,
			      struct coll_target *t, const struct coll_alert_result *const *v,
			      size_t n, int64_t now);

#endif
