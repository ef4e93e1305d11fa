/* Internal to collector/analysis/: a host's history as the forecasts see
 * it, and the forecasts of one report (history.c; docs/forecasts.md
 * "Input"). */
#ifndef COLL_ANALYSIS_HISTORY_H
#define COLL_ANALYSIS_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "collector/analysis/analysis.h"
#include "collector/analysis/forecast.h"

/* The forecasts of one report, one per forecastable object. */
struct fc_set {
	struct coll_object_forecast *v;
	char **objects;
	size_t n, cap;
	int64_t security_since; /* security updates pending since (epoch s), 0 = none */
};

/* Frees what set holds (not set itself); a zeroed set is fine. */
void coll_fc_set_free(struct fc_set *set);

/* Reads the agent's history (raw samples of the recent days plus the
 * hourly rollups before them, one query), forecasts every forecastable
 * finding of it->report into *set and stores this report's samples (at
 * most one per series per an->sample_interval_s). Inside the ingest
 * transaction. 0 or -errno (s->err set on a store error). */
int coll_forecasts(const struct coll_analysis *an, struct coll_store *s,
		   const struct coll_ingest *it, struct fc_set *set);

#endif
