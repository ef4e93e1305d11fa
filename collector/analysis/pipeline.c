/* The ingest pipeline (pipeline.h): the analysis handed to the store as the
 * per-report hook of the group commit. */
#include <stddef.h>
#include <stdint.h>

#include "collector/analysis/analysis.h"
#include "collector/analysis/pipeline.h"
#include "collector/store/store.h"

static int analyse(void *ctx, struct coll_store *s, const struct coll_ingest *it)
{
	return coll_analysis_run(ctx, s, it);
}

int coll_store_ingest(struct coll_store *s, struct coll_ingest *const *items, size_t n,
		      const struct coll_analysis *an)
{
	/* the hook's context is not const; coll_analysis_run reads it only */
	return coll_store_ingest_batch(s, items, n, an ? analyse : NULL, (void *)(uintptr_t)an);
}
