/* What the adoption view reads (docs/adoption.md): the store answers with
 * rows; the scoring is collector/analysis/adoption.c's. Customer isolation
 * is in the queries, as for every read of store.h. */
#ifndef COLL_STORE_ADOPTION_H
#define COLL_STORE_ADOPTION_H

#include <stdint.h>

#include "collector/store/db.h"
#include "collector/store/store.h"

/* The customer's raw reports since `from`, one per agent and UTC day (the
 * day's last), oldest first: rows (received_at, body, codec), the body
 * decoded to its JSON text (NULL when corrupt). -ENOENT when the
 * customer does not exist or is outside scope. res is the caller's
 * (coll_db_res_free). */
int coll_store_adoption_reports(struct coll_store *s, const struct coll_scope *scope,
				const char *customer_id, int64_t from, struct coll_db_res *ret);
/* The customer's technical risk score: its worst production host (any host
 * when none is marked production); -1 when no host has a score yet. */
int coll_store_customer_risk(struct coll_store *s, const char *customer_id, int *ret);

#endif
