/* Shared by model.c and model_state.c only. */
#ifndef COLL_REPORT_MODEL_INT_H
#define COLL_REPORT_MODEL_INT_H

#include <jansson.h>

#include "collector/report/model.h"

const char *coll_rm_str(const json_t *o, const char *key); /* "" when missing */
double coll_rm_num(const json_t *o, const char *key);      /* NAN when missing */
int64_t coll_rm_int(const json_t *o, const char *key);     /* 0 when missing */
void coll_rm_copy(char *dst, size_t size, const char *src);
/* err = "what: the store's error"; returns r. */
int coll_rm_fail(char *err, size_t err_size, struct coll_store *s, const char *what, int r);
/* out = the element named name of a {series: [{name, t, v}]} answer. */
void coll_rm_series(const json_t *answer, const char *name, struct coll_report_series *out);

/* Inserts item (elem bytes) into base[0..*n), a list kept worst first and at
 * most cap long, after the last element it is not worse than (worse(item,
 * element)); when full the last one drops out, or item is not kept. */
void coll_rm_insert(void *base, size_t *n, size_t cap, size_t elem, const void *item,
		    bool (*worse)(const void *item, const void *element));

/* Sums across hosts, finished once every host is read. */
struct coll_rm_state {
	double err_sum[COLL_REPORT_MAX_POINTS];
	bool err_has[COLL_REPORT_MAX_POINTS];
	int64_t step;
	bool any_index_findings, any_db;
};
void coll_rm_state_init(struct coll_rm_state *st);
/* Capacity, database, patches and logs of one host (host: coll_store_host's
 * answer, name: how the report calls it). 0 or -errno. */
int coll_rm_host_state(struct coll_store *s, struct coll_report_model *m,
		       const struct coll_scope *scope, const char *id, const char *name,
		       const json_t *host, struct coll_rm_state *st);
void coll_rm_state_finish(struct coll_report_model *m, const struct coll_rm_state *st);

#endif
