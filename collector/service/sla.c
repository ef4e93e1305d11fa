/* SLA figures (sla.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "collector/service/sla.h"

static int i64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int64_t coll_percentile(const int64_t *v, size_t n, int p)
{
	size_t rank = ((size_t)p * n + 99) / 100; /* ceil(p/100 * n) */
	return v[rank ? rank - 1 : 0];
}

int coll_sla_compute(const struct coll_sla_item *items, size_t n, int64_t now,
		     struct coll_sla_figures *ret)
{
	struct coll_sla_figures f = {0};
	int64_t *resp = n ? malloc(n * sizeof(*resp)) : NULL;
	int64_t resp_sum = 0, res_sum = 0;
	static const int64_t age_limits[COLL_SLA_AGE_BUCKETS - 1] = {4 * 3600, 86400, 7 * 86400};
	if (n && !resp)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct coll_sla_item *it = &items[i];
		f.opened++;
		if (it->excluded) {
			f.excluded++;
			continue;
		}
		bool resp_late = it->response_s > it->response_target_s;
		bool res_late = it->resolution_s > it->resolution_target_s;
		if (it->responded) {
			resp[f.responded++] = it->response_s;
			resp_sum += it->response_s;
		}
		if (it->responded || resp_late) {
			f.response_judged++;
			if (!resp_late)
				f.response_within++;
		}
		if (it->resolved) {
			f.resolved++;
			res_sum += it->resolution_s;
			if (!res_late)
				f.resolved_within++;
		} else {
			int64_t age = now - it->opened_at;
			size_t b = 0;
			while (b < COLL_SLA_AGE_BUCKETS - 1 && age >= age_limits[b])
				b++;
			f.open++;
			f.open_by_age[b]++;
		}
		if (resp_late || res_late)
			f.breaches++;
	}
	f.response_p50_s = f.response_p90_s = f.mtta_s = f.mttr_s = -1;
	if (f.responded) {
		qsort(resp, (size_t)f.responded, sizeof(*resp), i64_cmp);
		f.response_p50_s = coll_percentile(resp, (size_t)f.responded, 50);
		f.response_p90_s = coll_percentile(resp, (size_t)f.responded, 90);
		f.mtta_s = resp_sum / f.responded;
	}
	if (f.resolved)
		f.mttr_s = res_sum / f.resolved;
	f.response_within_share =
		f.response_judged ? (double)f.response_within / (double)f.response_judged : NAN;
	int64_t counted = f.opened - f.excluded;
	f.resolution_rate = counted ? (double)f.resolved_within / (double)counted : NAN;
	free(resp);
	*ret = f;
	return 0;
}
