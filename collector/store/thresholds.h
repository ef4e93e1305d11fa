/* Per-customer threshold overrides (docs/scoring.md, "One severity"): the
 * vendor's own lines for a finding kind at one customer. The store keeps
 * them (table customer_thresholds, migration 2); ingest re-judges findings
 * of that kind with them (coverage.h, coll_override_finding). */
#ifndef COLL_THRESHOLDS_H
#define COLL_THRESHOLDS_H

#include <jansson.h>
#include <stdint.h>

#include "collector/store/store.h"

/* Sets (or, with all three NAN, removes) customer_id's override of kind.
 * NAN = keep the agent's line for that one. 0 or -errno (s->err). */
int coll_store_threshold_set(struct coll_store *s, const char *customer_id, const char *kind,
			     double warning, double critical, double min_size, int64_t now);

/* [{customer_id, kind, warning, critical, min_size, updated_at}] of one
 * customer (NULL = all). *ret is the caller's. 0 or -errno. */
int coll_store_thresholds(struct coll_store *s, const char *customer_id, json_t **ret);

#endif
