/* Service tiers (tiers.h): defaults and [tier.NAME] sections. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/service/tiers.h"
#include "erpulse/util.h"

const struct ep_option coll_tier_options[] = {
	{"coverage", EP_OPT_STRING, NULL, 1, 16,
	 "24x7 | business: whether SLA clocks run all the time or in business hours only"},
	{"hours", EP_OPT_STRING, "Mon-Fri 09:00-18:00", 1, 64,
	 "business hours, local time: days (Mon-Fri, Mon,Wed,Fri) and HH:MM-HH:MM"},
	{"time_zone", EP_OPT_STRING, "+08:00", 1, 63,
	 "time zone of the business hours and holidays: UTC, +08:00 or an IANA name"},
	{"holidays", EP_OPT_STRING, NULL, 1, 4096,
	 "file of dates, one a line: YYYY-MM-DD (closed) or YYYY-MM-DD work (extra working day)"},
	{"response", EP_OPT_DURATION, NULL, 60, 30 * 86400,
	 "time to acknowledge a critical incident"},
	{"resolution", EP_OPT_STRING, NULL, 1, 32,
	 "time to resolve a critical incident (duration, or next_business_day)"},
	{"response_warning", EP_OPT_DURATION, NULL, 60, 30 * 86400,
	 "time to acknowledge a warning incident (default: as critical)"},
	{"resolution_warning", EP_OPT_STRING, NULL, 1, 32,
	 "time to resolve a warning incident (default: as critical)"},
	{"escalation_step", EP_OPT_DURATION, "0", 0, 30 * 86400,
	 "unacknowledged this long: L2, twice this long: L3 (0 = the response target)"},
	{"escalation_l1", EP_OPT_STRING, NULL, 1, 1024, "channels notified when an incident opens"},
	{"escalation_l2", EP_OPT_STRING, NULL, 1, 1024, "channels of the first escalation"},
	{"escalation_l3", EP_OPT_STRING, NULL, 1, 1024, "channels of the second escalation"},
	{NULL, 0, NULL, 0, 0, NULL},
};

struct tier_default {
	const char *name;
	bool always;
	int64_t response_s, resolution_s;
};

static const struct tier_default defaults[] = {
	{"platinum", true, 15 * 60, 2 * 3600},
	{"gold", true, 30 * 60, 4 * 3600},
	{"silver", false, 3600, 8 * 3600},
	{"standard", false, 2 * 3600, COLL_RESOLUTION_NBD},
};

static const char *const level_keys[COLL_ESCALATION_MAX] = {"escalation_l1", "escalation_l2",
							    "escalation_l3"};

enum coll_severity_index coll_severity_index(const char *severity)
{
	return severity && strcmp(severity, "critical") == 0 ? COLL_SEV_CRITICAL : COLL_SEV_WARNING;
}

static void tier_free(struct coll_tier *t)
{
	coll_calendar_free(&t->cal);
	for (int i = 0; i < COLL_ESCALATION_MAX; i++) {
		free(t->chain[i]);
		t->chain[i] = NULL;
	}
}

void coll_tiers_free(struct coll_tiers *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		tier_free(&t->v[i]);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

static int tier_init(struct coll_tier *t, const struct tier_default *d, const char *name)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->cal.always = d->always;
	t->cal.tz.off0 = 8 * 3600;
	snprintf(t->cal.tz.name, sizeof(t->cal.tz.name), "+08:00");
	coll_calendar_parse_hours("Mon-Fri 09:00-18:00", &t->cal);
	for (int s = 0; s < 2; s++) {
		t->response_s[s] = d->response_s;
		t->resolution_s[s] = d->resolution_s;
	}
	for (int i = 0; i < COLL_ESCALATION_MAX; i++) {
		t->chain[i] = strdup("");
		if (!t->chain[i]) {
			tier_free(t);
			return -ENOMEM;
		}
	}
	return 0;
}

int coll_tiers_defaults(struct coll_tiers *ret)
{
	struct coll_tiers t = {0};
	t.v = calloc(COLL_TIER_MAX, sizeof(*t.v));
	if (!t.v)
		return -ENOMEM;
	for (size_t i = 0; i < EP_ARRAY_SIZE(defaults); i++) {
		if (tier_init(&t.v[i], &defaults[i], defaults[i].name) < 0) {
			coll_tiers_free(&t);
			return -ENOMEM;
		}
		t.n++;
	}
	*ret = t;
	return 0;
}

const struct coll_tier *coll_tiers_find(const struct coll_tiers *t, const char *name)
{
	for (size_t i = 0; name && i < t->n; i++)
		if (strcmp(t->v[i].name, name) == 0)
			return &t->v[i];
	return NULL;
}

/* "4h" or "next_business_day" */
static int parse_resolution(const char *v, int64_t *ret)
{
	if (strcmp(v, "next_business_day") == 0) {
		*ret = COLL_RESOLUTION_NBD;
		return 0;
	}
	return ep_parse_duration(v, 60, 365 * 86400, ret);
}

static bool tier_name_ok(const char *s)
{
	if (!s || !*s || strlen(s) >= COLL_TIER_NAME_SIZE)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' ||
		      *s == '-'))
			return false;
	return true;
}

static int apply_section(struct coll_tier *t, const struct ep_config_section *sec,
			 const char *zoneinfo, char *err, size_t errlen)
{
	const struct ep_option *o = coll_tier_options;
	const char *v;
	int64_t d;
	int r;
	char msg[512] = "";
#define WHERE(key, ...)                                                                            \
	do {                                                                                       \
		snprintf(msg, sizeof(msg), __VA_ARGS__);                                           \
		snprintf(err, errlen, "%s:%d: [%s] %s: %s", sec->file, sec->line, sec->name, key,  \
			 msg);                                                                     \
	} while (0)
	r = ep_config_check(sec, o, err, errlen);
	if (r < 0)
		return r;
	if (ep_config_get_string(sec, o, "coverage", &v, err, errlen) == 0) {
		if (strcmp(v, "24x7") == 0 || strcmp(v, "7x24") == 0) {
			t->cal.always = true;
		} else if (strcmp(v, "business") == 0) {
			t->cal.always = false;
		} else {
			WHERE("coverage", "'%s' is not 24x7 or business", v);
			return -EINVAL;
		}
	}
	if ((r = ep_config_get_string(sec, o, "hours", &v, err, errlen)) < 0)
		return r;
	if (coll_calendar_parse_hours(v, &t->cal) < 0) {
		WHERE("hours", "'%s' is not like 'Mon-Fri 09:00-18:00'", v);
		return -EINVAL;
	}
	if ((r = ep_config_get_string(sec, o, "time_zone", &v, err, errlen)) < 0)
		return r;
	struct coll_tz tz;
	r = coll_tz_load(v, zoneinfo, &tz, msg, sizeof(msg));
	if (r < 0) {
		snprintf(err, errlen, "%s:%d: [%s] time_zone: %s", sec->file, sec->line, sec->name,
			 msg);
		return r;
	}
	coll_tz_free(&t->cal.tz);
	t->cal.tz = tz;
	if (ep_config_get_string(sec, o, "holidays", &v, err, errlen) == 0) {
		char *text = NULL;
		size_t len = 0;
		r = ep_read_file(v, 4 * 1024 * 1024, &text, &len);
		if (r < 0) {
			WHERE("holidays", "%s: %s", v, strerror(-r));
			return r;
		}
		r = coll_calendar_parse_holidays(&t->cal, text, len, v, err, errlen);
		free(text);
		if (r < 0)
			return r;
	}
	if (ep_config_get_duration(sec, o, "response", &d, err, errlen) == 0)
		t->response_s[COLL_SEV_CRITICAL] = t->response_s[COLL_SEV_WARNING] = d;
	if (ep_config_get_duration(sec, o, "response_warning", &d, err, errlen) == 0)
		t->response_s[COLL_SEV_WARNING] = d;
	static const char *const res_keys[] = {"resolution", "resolution_warning"};
	for (int k = 0; k < 2; k++) {
		if (ep_config_get_string(sec, o, res_keys[k], &v, err, errlen) != 0)
			continue;
		if (parse_resolution(v, &d) < 0) {
			WHERE(res_keys[k], "'%s' is not a duration (4h) or next_business_day", v);
			return -EINVAL;
		}
		t->resolution_s[COLL_SEV_WARNING] = d;
		if (k == 0)
			t->resolution_s[COLL_SEV_CRITICAL] = d;
	}
	if ((r = ep_config_get_duration(sec, o, "escalation_step", &t->escalation_step_s, err,
					errlen)) < 0)
		return r;
	for (int i = 0; i < COLL_ESCALATION_MAX; i++) {
		if (ep_config_get_string(sec, o, level_keys[i], &v, err, errlen) != 0)
			continue;
		char *c = strdup(v);
		if (!c)
			return -ENOMEM;
		free(t->chain[i]);
		t->chain[i] = c;
	}
#undef WHERE
	return 0;
}

int coll_tiers_load(const struct ep_config *cfg, const char *zoneinfo, struct coll_tiers *ret,
		    char *err, size_t errlen)
{
	struct coll_tiers t;
	int r = coll_tiers_defaults(&t);
	if (r < 0)
		return r;
	for (size_t i = 0; cfg && i < cfg->n_sections; i++) {
		const struct ep_config_section *sec = &cfg->sections[i];
		if (strcmp(sec->type, "tier") != 0)
			continue;
		if (!tier_name_ok(sec->instance)) {
			snprintf(err, errlen,
				 "%s:%d: [%s]: a tier is named [tier.NAME] with NAME in a-z, 0-9, "
				 "_ and - (at most %d characters)",
				 sec->file, sec->line, sec->name, COLL_TIER_NAME_SIZE - 1);
			r = -EINVAL;
			goto fail;
		}
		struct coll_tier *tier = NULL;
		for (size_t k = 0; k < t.n; k++)
			if (strcmp(t.v[k].name, sec->instance) == 0)
				tier = &t.v[k];
		if (!tier) {
			if (t.n == COLL_TIER_MAX) {
				snprintf(err, errlen, "%s:%d: [%s]: more than %d tiers", sec->file,
					 sec->line, sec->name, COLL_TIER_MAX);
				r = -EINVAL;
				goto fail;
			}
			/* a new tier starts as a copy of standard's defaults */
			r = tier_init(&t.v[t.n], &defaults[EP_ARRAY_SIZE(defaults) - 1],
				      sec->instance);
			if (r < 0)
				goto fail;
			tier = &t.v[t.n++];
		}
		r = apply_section(tier, sec, zoneinfo, err, errlen);
		if (r < 0)
			goto fail;
	}
	*ret = t;
	return 0;
fail:
	coll_tiers_free(&t);
	return r;
}
