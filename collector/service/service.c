/* The incident service glue (service.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/service/service.h"
#include "erpulse/util.h"

const struct ep_option coll_incidents_options[] = {
	{"reopen_within", EP_OPT_DURATION, "7d", 0, 365 * 86400,
	 "a finding back within this after its incident ended reopens it (a recurrence)"},
	{"escalation_interval", EP_OPT_DURATION, "30s", 1, 3600,
	 "how often the collector checks SLA clocks for warnings, breaches and escalations"},
	{NULL, 0, NULL, 0, 0, NULL},
};

bool coll_service_section(const char *type)
{
	return strcmp(type, "incidents") == 0 || strcmp(type, "tier") == 0 ||
	       strcmp(type, "channel") == 0 || strcmp(type, "route") == 0;
}

void coll_service_free(struct coll_service *svc)
{
	if (!svc)
		return;
	coll_tiers_free(&svc->tiers);
	coll_channels_free(&svc->channels);
}

int coll_service_load(const struct ep_config *cfg, struct coll_service *ret, char *err,
		      size_t errlen)
{
	struct coll_service svc = {0};
	const struct ep_config_section *sec = cfg ? ep_config_find(cfg, "incidents") : NULL;
	int r;
	if (sec && (r = ep_config_check(sec, coll_incidents_options, err, errlen)) < 0)
		return r;
	if ((r = ep_config_get_duration(sec, coll_incidents_options, "reopen_within",
					&svc.ctx.reopen_window_s, err, errlen)) < 0 ||
	    (r = ep_config_get_duration(sec, coll_incidents_options, "escalation_interval",
					&svc.escalation_interval_s, err, errlen)) < 0)
		return r;
	r = coll_tiers_load(cfg, NULL, &svc.tiers, err, errlen);
	if (r < 0)
		return r;
	r = coll_channels_load(cfg, &svc.channels, err, errlen);
	if (r < 0)
		goto fail;
	/* every channel an escalation chain names must exist */
	for (size_t i = 0; i < svc.tiers.n; i++)
		for (int l = 0; l < COLL_ESCALATION_MAX; l++) {
			const char *p = svc.tiers.v[i].chain[l];
			while (p && *p) {
				size_t len = strcspn(p, " ,\t");
				char name[COLL_CHANNEL_NAME_SIZE] = "";
				snprintf(name, sizeof(name), "%.*s", (int)len, p);
				if (len && !coll_channel_find(&svc.channels, name)) {
					snprintf(
						err, errlen,
						"[tier.%s] escalation_l%d: no [channel.%s] section",
						svc.tiers.v[i].name, l + 1, name);
					r = -EINVAL;
					goto fail;
				}
				p += len;
				p += strspn(p, " ,\t");
			}
		}
	*ret = svc;
	ret->ctx.tiers = &ret->tiers;
	return 0;
fail:
	coll_service_free(&svc);
	return r;
}

int64_t coll_service_now(void)
{
	return coll_test_clock("ERPULSE_TEST_CLOCK_FILE");
}

int64_t coll_test_clock(const char *env)
{
	int64_t wall = ep_wall_ms() / 1000;
	const char *f = getenv(env);
	char *text = NULL;
	size_t len;
	int64_t v;
	if (!f || !*f || ep_read_file(f, 64, &text, &len) < 0)
		return wall;
	text[strcspn(text, "\r\n")] = '\0';
	if (text[0] == '+' && ep_parse_int64(text + 1, 0, INT64_MAX / 2, &v) == 0)
		wall += v;
	else if (ep_parse_int64(text, 0, INT64_MAX / 2, &v) == 0)
		wall = v;
	free(text);
	return wall;
}

/* The channels of the incident's escalation level in its tier. */
static const char *level_channels(const struct coll_service *svc, const char *tier, int level)
{
	const struct coll_tier *t = coll_tiers_find(&svc->tiers, tier);
	if (!t || level < 1 || level > COLL_ESCALATION_MAX)
		return NULL;
	return t->chain[level - 1];
}

int coll_service_on_alert(const struct coll_service *svc, struct coll_store *s,
			  const struct coll_alert_event *e)
{
	int64_t id;
	enum coll_incident_change ch;
	int r = coll_store_incident_on_alert(s, &svc->ctx, e, &id, &ch);
	if (r < 0 || !id)
		return r;
	const char *event = ch == COLL_INCIDENT_OPENED     ? "opened"
			    : ch == COLL_INCIDENT_REOPENED ? "reopened"
			    : ch == COLL_INCIDENT_RESOLVED ? "resolved"
							   : NULL;
	if (!event)
		return 0;
	if (ch != COLL_INCIDENT_RESOLVED) { /* a maintenance window holds it */
		bool held;
		r = coll_store_incident_hold(s, id, event, e->now, &held);
		if (r < 0 || held)
			return r;
	}
	struct coll_incident_notice *n;
	r = coll_store_incident_notice(s, id, event, &n);
	if (r < 0)
		return r;
	size_t k;
	n->at = e->now;
	/* the outbox runs on the wall clock, whatever the service clock says */
	r = coll_channels_enqueue(s, &svc->channels, level_channels(svc, n->tier, 1), n,
				  ep_wall_ms() / 1000, &k);
	coll_incident_notices_free(n, 1);
	return r;
}

int coll_service_escalate(const struct coll_service *svc, struct coll_store *s, int64_t now,
			  size_t *ret_fired)
{
	struct coll_incident_notice *n = NULL;
	size_t k = 0;
	*ret_fired = 0;
	int r = coll_db_begin(s->db);
	if (r < 0)
		return r;
	r = coll_store_incidents_escalate(s, &svc->ctx, now, 500, &n, &k);
	for (size_t i = 0; r == 0 && i < k; i++) {
		size_t added;
		r = coll_channels_enqueue(s, &svc->channels,
					  level_channels(svc, n[i].tier, n[i].level), &n[i],
					  ep_wall_ms() / 1000, &added);
	}
	if (r == 0)
		r = coll_db_commit(s->db);
	if (r < 0)
		coll_db_rollback(s->db);
	else
		*ret_fired = k;
	coll_incident_notices_free(n, k);
	return r;
}
