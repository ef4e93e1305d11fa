/* Coverage: what the collector knows about each probe instance of a host
 * (docs/scoring.md, "Unknown and stale"; docs/protocol.md, "configured").
 *
 * OWNER: verdicts (issue 10). Pure: a validated report, the instance state
 * stored with the agent and the customer's threshold overrides in; the
 * effective report (what score, alerts and the read API see), the state to
 * store and the instances removed from the configuration out. No I/O.
 *
 *  - an instance that reported `ok` is fresh: its findings replace the
 *    stored ones;
 *  - an instance that failed (status error, a killed worker), was skipped,
 *    or is configured but absent keeps its stored findings, marked
 *    `"stale": true` with `"stale_since"` (the time of its last ok report);
 *  - a report without `configured` (an older agent) never drops an absent
 *    instance: it is carried stale;
 *  - only an instance missing from `configured` is dropped, and listed in
 *    `removed` so its alerts clear with a reason that says so;
 *  - a customer override re-judges a finding from its value with the
 *    override's lines and marks it `"override": true`. */
#ifndef COLL_COVERAGE_H
#define COLL_COVERAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A vendor's per-customer thresholds for one finding kind; NAN = keep the
 * finding's own line. */
struct coll_threshold_override {
	const char *kind;
	double warning, critical, min_size;
};

/* Re-judges finding f (an object, changed in place) with o: severity from
 * its value against o's lines (direction "below" mirrored; size below
 * min_size = info), the lines written into threshold, critical_threshold and
 * min_size, and "override": true. A finding without a numeric value keeps
 * its severity. 0 or -ENOMEM. */
int coll_override_finding(json_t *f, const struct coll_threshold_override *o);

struct coll_coverage_input {
	const json_t *report;    /* validated erpulse.report.v1 (borrowed) */
	const json_t *instances; /* stored state (borrowed, may be NULL): {"name/target":
				    {"name", "target", "seq", "last_ok_at"}}, with "findings"
				    attached by the caller to the ones coll_coverage_wanted
				    names (from the stored report of that seq) */
	const struct coll_threshold_override *overrides; /* may be NULL */
	size_t n_overrides;
	int64_t now; /* receive time of the report (epoch s) */
	int64_t seq; /* its seq: where an ok instance's findings can be read again */
};

struct coll_coverage {
	json_t *report;    /* the effective report (new reference) */
	json_t *instances; /* the state to store (new reference) */
	json_t *removed;   /* [{"instance", "findings"}] (new reference) */
	size_t n_stale;    /* instances carried stale */
	size_t n_override; /* findings re-judged by an override */
};

/* The stored instances whose findings apply needs, {"name/target": seq}:
 * those not reporting ok in report (carried stale, or removed). The state
 * keeps only the seq of the report that had them last, so the common report
 * (every instance ok) reads and writes a few hundred bytes. New reference
 * or NULL (ENOMEM). */
json_t *coll_coverage_wanted(const json_t *report, const json_t *instances);
/* The findings of instance key ("name/target") in a stored report, or NULL. */
const json_t *coll_coverage_findings_of(const json_t *report, const char *key);

/* 0, -EINVAL or -ENOMEM; *ret is the caller's (coll_coverage_free). */
int coll_coverage_apply(const struct coll_coverage_input *in, struct coll_coverage *ret);
void coll_coverage_free(struct coll_coverage *c);

#endif
