/* The store (store.h, docs/store.md): opening, closing and pinging a
 * connection. The schema is schema.c; the queries are one file per domain
 * (customers.c, agents.c, reports.c, hosts.c, outbox_rows.c), written once
 * in the SQL both SQLite and PostgreSQL understand. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/sql.h"
#include "collector/store/store.h"
#include "erpulse/crypto.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

/* ---- helpers ----------------------------------------------------------- */

bool coll_store_unavailable(int r)
{
	return r == -ETIMEDOUT || r == -ECONNRESET || r == -EBUSY || r == -EIO || r == -EAGAIN ||
	       r == -ENOSPC;
}

int coll_store_open(const char *url, const struct coll_db_opts *opts, struct coll_store **ret,
		    char *err, size_t errlen)
{
	struct coll_store *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	int r = coll_db_open(url, opts, &s->db, err, errlen);
	if (r < 0) {
		free(s);
		return r;
	}
	*ret = s;
	return 0;
}

void coll_store_close(struct coll_store *s)
{
	if (!s)
		return;
	coll_db_close(s->db);
	free(s);
}

void coll_store_set_deadline(struct coll_store *s, int64_t at_ms)
{
	coll_db_set_deadline(s->db, at_ms);
}

int coll_store_ping(struct coll_store *s)
{
	return coll_sql_query(s, "SELECT 1", NULL, 0, NULL);
}
