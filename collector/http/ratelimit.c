/* Token buckets per address plus a global one (ratelimit.h). Open
 * addressing with a short probe: a slot is reused only by its own key, or
 * by another once its bucket is full again (a full bucket is the same as
 * no bucket at all). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/http/ratelimit.h"

#define KEY_SIZE 48 /* INET6_ADDRSTRLEN and then some */
#define PROBES   16

struct bucket {
	char key[KEY_SIZE];
	double tokens;
	int64_t at_ms;
};

struct coll_rate {
	pthread_mutex_t lock;
	struct bucket *slots;
	size_t n;
	double per_ms, burst;
	double global_per_ms, global_burst;
	struct bucket global;
};

int coll_rate_new(size_t slots, double per_minute, double burst, double global_per_minute,
		  double global_burst, struct coll_rate **ret)
{
	struct coll_rate *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -ENOMEM;
	rl->n = slots ? slots : 1;
	rl->slots = calloc(rl->n, sizeof(*rl->slots));
	if (!rl->slots) {
		free(rl);
		return -ENOMEM;
	}
	pthread_mutex_init(&rl->lock, NULL);
	rl->per_ms = per_minute / 60000.0;
	rl->burst = burst;
	rl->global_per_ms = global_per_minute / 60000.0;
	rl->global_burst = global_burst;
	rl->global.tokens = global_burst;
	rl->global.at_ms = -1;
	*ret = rl;
	return 0;
}

void coll_rate_free(struct coll_rate *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl->slots);
	free(rl);
}

static void refill(struct bucket *b, double per_ms, double burst, int64_t now)
{
	if (b->at_ms >= 0 && now > b->at_ms)
		b->tokens += (double)(now - b->at_ms) * per_ms;
	if (b->tokens > burst)
		b->tokens = burst;
	b->at_ms = now;
}

bool coll_rate_allow(struct coll_rate *rl, const char *key, int64_t now_ms)
{
	uint32_t h = 2166136261u;
	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	bool ok = false;
	pthread_mutex_lock(&rl->lock);
	struct bucket *b = NULL, *spare = NULL;
	for (size_t i = 0; i < PROBES && i < rl->n; i++) {
		struct bucket *s = &rl->slots[(h + i) % rl->n];
		if (s->key[0] && strcmp(s->key, key) == 0) {
			b = s;
			break;
		}
		if (!spare) {
			if (!s->key[0])
				spare = s;
			else {
				refill(s, rl->per_ms, rl->burst, now_ms);
				if (s->tokens >= rl->burst)
					spare = s;
			}
		}
	}
	if (!b && spare) {
		b = spare;
		snprintf(b->key, sizeof(b->key), "%s", key);
		b->tokens = rl->burst;
		b->at_ms = now_ms;
	}
	if (!b) /* every slot this key may use is held by a refilling bucket */
		goto out;
	refill(b, rl->per_ms, rl->burst, now_ms);
	if (b->tokens < 1.0)
		goto out;
	if (rl->global_per_ms > 0) {
		refill(&rl->global, rl->global_per_ms, rl->global_burst, now_ms);
		if (rl->global.tokens < 1.0)
			goto out;
		rl->global.tokens -= 1.0;
	}
	b->tokens -= 1.0;
	ok = true;
out:
	pthread_mutex_unlock(&rl->lock);
	return ok;
}
