/* Service tiers (docs/incidents.md, "Tiers"): each customer has one; a tier
 * names its SLA targets per severity, the calendar its clocks run on and its
 * escalation chain. Built-in defaults are the reference after-sales terms:
 *   platinum  15 min response / 2 h resolution, 7x24
 *   gold      30 min / 4 h, 7x24
 *   silver    1 h / 8 h, business days (Mon-Fri 09:00-18:00)
 *   standard  2 h / next business day, business days
 * collector.conf sections [tier.NAME] change a built-in tier or add one. */
#ifndef COLL_SERVICE_TIERS_H
#define COLL_SERVICE_TIERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/service/calendar.h"
#include "erpulse/config.h"

#define COLL_TIER_NAME_SIZE 32
#define COLL_TIER_MAX       32
#define COLL_ESCALATION_MAX 3    /* L1, L2, L3 */
#define COLL_RESOLUTION_NBD (-1) /* resolution target "next business day" */
#define COLL_DEFAULT_TIER   "standard"

extern const struct ep_option coll_tier_options[];

enum coll_severity_index {
	COLL_SEV_WARNING = 0,
	COLL_SEV_CRITICAL = 1,
};

struct coll_tier {
	char name[COLL_TIER_NAME_SIZE];
	struct coll_calendar cal;
	int64_t response_s[2];            /* by enum coll_severity_index */
	int64_t resolution_s[2];          /* COLL_RESOLUTION_NBD = next business day */
	int64_t escalation_step_s;        /* L2 after one step unacknowledged, L3 after two;
					     0 = the response target */
	char *chain[COLL_ESCALATION_MAX]; /* channel names per level ("" = none) */
};

struct coll_tiers {
	size_t n;
	struct coll_tier *v;
};

/* The four built-in tiers. 0 or -ENOMEM. */
int coll_tiers_defaults(struct coll_tiers *ret);
/* Built-in tiers, then every [tier.NAME] section of cfg (cfg may be NULL).
 * zoneinfo NULL = the system's. 0 or -EINVAL with err as
 * "FILE:LINE: [tier.x] key: what is wrong", -ENOMEM. */
int coll_tiers_load(const struct ep_config *cfg, const char *zoneinfo, struct coll_tiers *ret,
		    char *err, size_t errlen);
void coll_tiers_free(struct coll_tiers *t);
/* The tier called name, or NULL. */
const struct coll_tier *coll_tiers_find(const struct coll_tiers *t, const char *name);
/* "critical" -> COLL_SEV_CRITICAL, anything else COLL_SEV_WARNING. */
enum coll_severity_index coll_severity_index(const char *severity);

#endif
