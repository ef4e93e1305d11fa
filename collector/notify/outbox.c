/* Outbox worker (outbox.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/metrics.h"
#include "collector/notify/outbox.h"
#include "collector/store/store.h"
#include "erpulse/crypto.h"
#include "erpulse/log.h"
#include "erpulse/util.h"

struct coll_outbox {
	struct coll_outbox_cfg cfg;
	struct coll_store *store;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool kicked, stop;
	char worker[64];
};

int64_t coll_outbox_backoff(int attempts, int64_t cap_s)
{
	int64_t d = 1;
	for (int i = 0; i < attempts && d < cap_s; i++)
		d *= 2;
	if (d > cap_s)
		d = cap_s;
	uint32_t rnd;
	ep_random_bytes(&rnd, sizeof(rnd));
	int64_t jittered = d / 2 + (int64_t)((double)(d - d / 2) * ((double)rnd / 4294967295.0));
	return jittered < 1 ? 1 : jittered;
}

static void deliver(struct coll_outbox *o, const struct coll_outbox_row *row)
{
	struct coll_send_result res;
	memset(&res, 0, sizeof(res));
	int64_t now;
	if (strcmp(row->channel, "webhook") == 0 && o->cfg.webhook_url) {
		coll_webhook_send(o->cfg.webhook_url, row->payload, strlen(row->payload),
				  &o->cfg.send, &res);
	} else if (strcmp(row->channel, "email") == 0 && o->cfg.smtp_url) {
		coll_mail_send(o->cfg.smtp_url, o->cfg.mail_from, o->cfg.mail_to, row->payload,
			       &o->cfg.send, &res);
	} else if (strncmp(row->channel, "ch:", 3) == 0 &&
		   coll_channel_find(o->cfg.channels, row->channel + 3)) {
		/* a named channel signs at send time: a retry gets a fresh signature */
		coll_channel_send(o->cfg.channels,
				  coll_channel_find(o->cfg.channels, row->channel + 3),
				  row->payload, &o->cfg.send, ep_wall_ms(), &res);
	} else {
		res.outcome = COLL_SEND_PERMANENT;
		snprintf(res.error, sizeof(res.error), "channel '%s' is not configured",
			 row->channel);
	}
	now = ep_wall_ms() / 1000;
	coll_store_set_deadline(o->store, ep_mono_ms() + o->cfg.db.statement_timeout_ms + 500);
	if (res.outcome == COLL_SEND_OK) {
		coll_metrics_notice(1);
		if (coll_store_outbox_sent(o->store, row->id, o->worker, now) < 0)
			ep_log_warning("outbox: notice %lld sent but not marked: %s",
				       (long long)row->id, o->store->err);
		else
			ep_log_info("outbox: notice %lld delivered by %s", (long long)row->id,
				    row->channel);
		return;
	}
	coll_metrics_notice(0);
	bool dead = res.outcome == COLL_SEND_PERMANENT || row->attempts >= o->cfg.max_attempts;
	int64_t next = now + coll_outbox_backoff(row->attempts, o->cfg.max_backoff_s);
	ep_log(dead ? EP_LOG_ERR : EP_LOG_WARNING, NULL,
	       "outbox: notice %lld by %s failed (attempt %d, %s): %s", (long long)row->id,
	       row->channel, row->attempts, dead ? "giving up" : "will retry", res.error);
	if (coll_store_outbox_failed(o->store, row->id, o->worker, next, dead, res.error) < 0)
		ep_log_warning("outbox: cannot record the failure of notice %lld: %s",
			       (long long)row->id, o->store->err);
}

static void *run(void *arg)
{
	struct coll_outbox *o = arg;
	for (;;) {
		pthread_mutex_lock(&o->lock);
		if (!o->kicked && !o->stop) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			int64_t ns = ts.tv_nsec + o->cfg.idle_poll_ms * 1000000;
			ts.tv_sec += ns / 1000000000;
			ts.tv_nsec = ns % 1000000000;
			pthread_cond_timedwait(&o->cond, &o->lock, &ts);
		}
		bool stop = o->stop;
		o->kicked = false;
		pthread_mutex_unlock(&o->lock);
		if (stop)
			break;
		for (;;) {
			struct coll_outbox_row *rows = NULL;
			size_t n = 0;
			coll_store_set_deadline(
				o->store, ep_mono_ms() + o->cfg.db.statement_timeout_ms + 500);
			int r = coll_store_outbox_claim(o->store, o->worker, ep_wall_ms() / 1000,
							o->cfg.lease_s, 16, &rows, &n);
			if (r < 0) {
				ep_log_warning("outbox: cannot claim notices: %s", o->store->err);
				break;
			}
			for (size_t i = 0; i < n; i++)
				deliver(o, &rows[i]);
			coll_outbox_rows_free(rows, n);
			if (n < 16)
				break;
			pthread_mutex_lock(&o->lock);
			stop = o->stop;
			pthread_mutex_unlock(&o->lock);
			if (stop)
				break;
		}
	}
	return NULL;
}

int coll_outbox_start(const struct coll_outbox_cfg *cfg, struct coll_outbox **ret, char *err,
		      size_t errlen)
{
	struct coll_outbox *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->cfg = *cfg;
	if (o->cfg.lease_s <= 0)
		o->cfg.lease_s = 120;
	if (o->cfg.max_backoff_s <= 0)
		o->cfg.max_backoff_s = 3600;
	if (o->cfg.idle_poll_ms <= 0)
		o->cfg.idle_poll_ms = 1000;
	if (o->cfg.max_attempts <= 0)
		o->cfg.max_attempts = 20;
	char rnd[9];
	ep_random_hex(4, rnd, sizeof(rnd));
	char host[32] = "";
	gethostname(host, sizeof(host) - 1);
	snprintf(o->worker, sizeof(o->worker), "%s/%ld/%s", host, (long)getpid(), rnd);
	int r = coll_store_open(cfg->store_url, &cfg->db, &o->store, err, errlen);
	if (r < 0) {
		free(o);
		return r;
	}
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->cond, NULL);
	r = ep_thread_start(&o->thread, run, o, "ep-outbox");
	if (r < 0) {
		snprintf(err, errlen, "cannot start the outbox thread: %s", strerror(-r));
		coll_store_close(o->store);
		free(o);
		return r;
	}
	*ret = o;
	return 0;
}

void coll_outbox_kick(struct coll_outbox *o)
{
	if (!o)
		return;
	pthread_mutex_lock(&o->lock);
	o->kicked = true;
	pthread_cond_signal(&o->cond);
	pthread_mutex_unlock(&o->lock);
}

void coll_outbox_stop(struct coll_outbox *o)
{
	if (!o)
		return;
	pthread_mutex_lock(&o->lock);
	o->stop = true;
	pthread_cond_signal(&o->cond);
	pthread_mutex_unlock(&o->lock);
	pthread_join(o->thread, NULL);
	pthread_mutex_destroy(&o->lock);
	pthread_cond_destroy(&o->cond);
	coll_store_close(o->store);
	free(o);
}
