/* Token buckets keyed by client address, plus one global bucket
 * (docs/collector.md "Limits"). Each address keeps its own bucket: a
 * bucket is only given to another address once it has refilled to full
 * (then forgetting it changes nothing), so two addresses sharing a hash
 * slot cannot refill each other. Thread-safe. */
#ifndef COLL_RATELIMIT_H
#define COLL_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct coll_rate;

/* per_minute/burst: one address; global_*: all addresses together
 * (global_per_minute 0: no global bucket). slots: addresses tracked at
 * once; when every slot a key may use holds a bucket still refilling, the
 * key is refused (an address flood is limited, not forgotten). 0 or
 * -ENOMEM; *ret is freed with coll_rate_free. */
int coll_rate_new(size_t slots, double per_minute, double burst, double global_per_minute,
		  double global_burst, struct coll_rate **ret);
/* Takes one token from key's bucket and from the global one; false when
 * either is empty (nothing is taken then). now_ms: a monotonic clock. */
bool coll_rate_allow(struct coll_rate *rl, const char *key, int64_t now_ms);
void coll_rate_free(struct coll_rate *rl);

#endif
