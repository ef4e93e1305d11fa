/* Alert candidates: the (rule, object, value) pairs a report and its
 * forecasts give, before levels and hysteresis (alerts_eval.c). Internal to
 * collector/analysis/: alerts_cand.c builds them, alerts_eval.c judges them. */
#ifndef COLL_ALERTS_CAND_H
#define COLL_ALERTS_CAND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "collector/analysis/alerts.h"

struct coll_cand {
	enum coll_rule rule;
	/* name owns one block that also holds object, unit, remediation and
	 * detail (coll_cand_add): freeing name frees them */
	char *name; /* with object: the key; the kind for COLL_RULE_FINDING */
	char *object;
	double value;
	int sev;                     /* finding rules: the finding's 0..2; table rules: -1 */
	double warn_line, crit_line; /* finding rules: its lines (NAN = none) */
	bool below;                  /* the finding's direction is "below" */
	bool small;                  /* size < min_size: never alerts */
	bool rebuilt;                /* the agent says the object was rebuilt */
	char *unit;                  /* the finding's unit, else NULL (the rule's) */
	char *remediation;           /* from the finding, or NULL for the rule's default */
	char *detail;                /* extra words for the message, may be NULL */
	char *why;                   /* vanished: why it clears, may be NULL */
	bool vanished;               /* an open alert whose object is gone: clears */
};

struct coll_cand_list {
	size_t n, cap;
	struct coll_cand *items;
};

void coll_cand_list_free(struct coll_cand_list *l);
/* strdup(s), NULL for NULL; sets *fail when out of memory */
char *coll_dup_or_null(const char *s, bool *fail);
/* Appends a candidate shaped like t with copies of the strings. 0 or -ENOMEM. */
int coll_cand_add(struct coll_cand_list *l, const struct coll_cand *t, const char *name,
		  const char *object, const char *unit, const char *remediation,
		  const char *detail);
/* A table rule's candidate (no finding severity). */
int coll_cand_add_table(struct coll_cand_list *l, enum coll_rule rule, const char *object,
			double value, const char *detail);
int coll_cmp_key(const char *na, const char *oa, const char *nb, const char *ob);
/* Sorts and keeps the worst of each (name, object). */
void coll_cand_merge(struct coll_cand_list *l);
/* The candidate (name, object) among the first n (merged, sorted), or NULL. */
const struct coll_cand *coll_cand_find(const struct coll_cand_list *l, size_t n, const char *name,
				       const char *object);
/* The candidate of one finding (none for kinds without one). 0 or -ENOMEM. */
int coll_add_finding(struct coll_cand_list *l, const json_t *f, const struct coll_alert_input *in);
/* Every instance feeding rule r reported ok and fresh (and every configured one is present). */
bool coll_sources_ok(const json_t *report, enum coll_rule r);
/* Every candidate of the report: findings, forecasts, proof of life, clock. */
int coll_add_report(struct coll_cand_list *l, const struct coll_alert_input *in);

#endif
