/* Named channels and routes (docs/incidents.md, "Channels and routes"):
 * [channel.NAME] sections of collector.conf name a webhook in one of the
 * formats (DingTalk and Feishu robots with their signing secret) or an
 * e-mail list; [route.NAME] sections send incident notices to channels by
 * customer, tier, severity, rule and event. A tier's escalation chain names
 * channels too (service/tiers.h). Incident notices are rendered per channel
 * into the outbox as channel "ch:NAME"; the outbox worker signs (DingTalk
 * URL, Feishu body) when it sends, so a retry carries a fresh signature. */
#ifndef COLL_NOTIFY_CHANNELS_H
#define COLL_NOTIFY_CHANNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/notify/notify.h"
#include "collector/store/incidents.h"
#include "erpulse/config.h"

#define COLL_CHANNEL_NAME_SIZE 64
#define COLL_CHANNEL_MAX       64
#define COLL_ROUTE_MAX         128

extern const struct ep_option coll_channel_options[];
extern const struct ep_option coll_route_options[];

struct coll_channel {
	char name[COLL_CHANNEL_NAME_SIZE];
	bool email;
	enum coll_webhook_format format;
	char *url;    /* webhook */
	char *secret; /* DingTalk / Feishu signing secret, may be NULL */
	char *to;     /* e-mail: comma-separated recipients */
	char lang[8]; /* "en" | "zh-CN" */
};

struct coll_route_rule {
	char name[COLL_CHANNEL_NAME_SIZE];
	char **customers, **tiers, **severities, **rules, **events; /* NULL = any */
	char **channels;
};

struct coll_channels {
	size_t n, n_routes;
	struct coll_channel *v;
	struct coll_route_rule *routes;
	/* the sender's settings for e-mail channels ([alerts]) */
	const char *smtp_url, *mail_from, *dashboard_url;
};

/* Every [channel.*] and [route.*] section of cfg (may be NULL). Routes
 * must name defined channels. 0, -EINVAL with err "FILE:LINE: [x] key:
 * what", -ENOMEM. */
int coll_channels_load(const struct ep_config *cfg, struct coll_channels *ret, char *err,
		       size_t errlen);
void coll_channels_free(struct coll_channels *c);
const struct coll_channel *coll_channel_find(const struct coll_channels *c, const char *name);

/* The body channel c gets for incident notice n (webhook JSON or an RFC
 * 5322 message). *ret malloc'd. 0 or -errno. */
int coll_channel_render(const struct coll_channels *cs, const struct coll_channel *c,
			const struct coll_incident_notice *n, char **ret);
/* One delivery attempt of payload to c (signing it first when c has a
 * secret; now_ms is the signature's time). Same result convention as
 * coll_webhook_send. */
int coll_channel_send(const struct coll_channels *cs, const struct coll_channel *c,
		      const char *payload, const struct coll_send_opts *o, int64_t now_ms,
		      struct coll_send_result *ret);

/* Enqueues notice n (in the caller's transaction) to the channels named in
 * level_channels (a tier's escalation level: space/comma-separated names,
 * may be NULL) and to every route that matches; each channel once.
 * queued_at: the wall clock (the outbox's). *ret_n = rows added. 0 or -errno. */
int coll_channels_enqueue(struct coll_store *s, const struct coll_channels *cs,
			  const char *level_channels, const struct coll_incident_notice *n,
			  int64_t queued_at, size_t *ret_n);

#endif
