/* The notice outbox worker: a thread that claims due rows of the outbox
 * table (store.h), sends each once through notify.h and records the outcome,
 * retrying with exponential backoff and jitter; at least once. A dead
 * channel slows only this thread, never ingest. */
#ifndef COLL_OUTBOX_H
#define COLL_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>

#include "collector/store/db.h"
#include "collector/notify/channels.h"
#include "collector/notify/notify.h"

struct coll_outbox_cfg {
	const char *store_url;
	struct coll_db_opts db;
	const char *webhook_url;
	const char *smtp_url, *mail_from, *mail_to;
	struct coll_send_opts send;
	int64_t max_attempts;
	const struct coll_channels *channels; /* named channels ("ch:NAME" rows), may be NULL */
	int64_t lease_s;                      /* how long a claim holds (default 120) */
	int64_t max_backoff_s;                /* retry delay cap (default 3600) */
	int64_t idle_poll_ms;                 /* poll interval without kicks (default 1000) */
};

struct coll_outbox;

/* Opens its own store connection and starts the thread. 0 or -errno. */
int coll_outbox_start(const struct coll_outbox_cfg *cfg, struct coll_outbox **ret, char *err,
		      size_t errlen);
/* New rows were committed: look now rather than at the next poll. */
void coll_outbox_kick(struct coll_outbox *o);
/* Stops the thread (finishing the attempt in flight) and frees o. NULL-safe. */
void coll_outbox_stop(struct coll_outbox *o);

/* Delay before attempt number `attempts + 1`: min(2^attempts, cap) seconds
 * scaled by a random factor in [0.5, 1]. */
int64_t coll_outbox_backoff(int attempts, int64_t cap_s);

#endif
