/* The incident service as the collector runs it (docs/incidents.md): the
 * tiers, channels and routes of collector.conf, the service clock, the hook
 * that turns alert changes into incidents, and the escalation pass. Unlike
 * the pure files of this folder, these call the store and notify. */
#ifndef COLL_SERVICE_SERVICE_H
#define COLL_SERVICE_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/notify/channels.h"
#include "collector/service/tiers.h"
#include "collector/store/incidents.h"
#include "erpulse/config.h"

extern const struct ep_option coll_incidents_options[];

struct coll_service {
	struct coll_tiers tiers;
	struct coll_channels channels;
	struct coll_incident_ctx ctx;  /* points at tiers */
	int64_t escalation_interval_s; /* how often serve runs the escalation pass */
};

/* [incidents], [tier.*], [channel.*] and [route.*] of cfg (NULL = defaults).
 * Tier escalation chains must name defined channels. 0 or -errno with err. */
int coll_service_load(const struct ep_config *cfg, struct coll_service *ret, char *err,
		      size_t errlen);
void coll_service_free(struct coll_service *svc);
/* True for the section types this file reads. */
bool coll_service_section(const char *type);

/* The service clock, epoch seconds: the wall clock, unless the environment
 * names a test clock file (ERPULSE_TEST_CLOCK_FILE) holding "+SECONDS" (an
 * offset added to the wall clock) or an absolute epoch second. Tests move
 * SLA clocks forward with it instead of sleeping. */
int64_t coll_service_now(void);
/* The same with the file named by the environment variable env: ingest's
 * received_at reads ERPULSE_TEST_INGEST_CLOCK_FILE (tests/bench/
 * collector-ingest: reports minutes apart on the collector's clock). */
int64_t coll_test_clock(const char *env);

/* The incident side of one alert change, inside the ingest transaction:
 * opens/joins/reopens/resolves the incident and enqueues the opened,
 * reopened or resolved notice to the tier's L1 channels and the routes. */
int coll_service_on_alert(const struct coll_service *svc, struct coll_store *s,
			  const struct coll_alert_event *e);

/* One escalation pass in its own transaction: fires due SLA events and
 * enqueues their notices. *ret_fired = events fired. 0 or -errno. */
int coll_service_escalate(const struct coll_service *svc, struct coll_store *s, int64_t now,
			  size_t *ret_fired);

#endif
