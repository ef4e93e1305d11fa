/* The ingest pipeline's one call: store a batch of verified reports and run
 * the analysis on each accepted one, in one transaction. The flow goes one
 * way, ingest -> analysis -> store -> notify: the store takes the analysis
 * as a hook (store.h, coll_ingest_hook) and never calls into it by name. */
#ifndef COLL_PIPELINE_H
#define COLL_PIPELINE_H

#include <stddef.h>

#include "collector/store/store.h"

struct coll_analysis;

/* coll_store_ingest_batch with coll_analysis_run(an, ...) as the hook (an
 * NULL: the reports and findings are stored, nothing is analysed). Same
 * results and return values as coll_store_ingest_batch. */
int coll_store_ingest(struct coll_store *s, struct coll_ingest *const *items, size_t n,
		      const struct coll_analysis *an);

#endif
