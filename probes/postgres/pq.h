/* libpq connect and statement runner that hold a deadline (probes/postgres/
 * pq.c), shared by the postgres probe and the erp probe. A struct probe_pq
 * is the impl of a struct probe_sql (pg.h) with probe_pq_exec and
 * probe_pq_quote as its functions. */
#ifndef ERPULSE_PROBES_POSTGRES_PQ_H
#define ERPULSE_PROBES_POSTGRES_PQ_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "erpulse/util.h"
#include "probes/postgres/pg.h"

struct probe_pq {
	PGconn *conn;
};

/* Connects to db (NULL = conninfo's) asynchronously within the deadline and
 * connect_timeout_s. The connection (PQfinish) or NULL with a precise,
 * password-free text in err. */
PGconn *probe_pq_connect(const char *conninfo, int64_t connect_timeout_s, const char *db,
			 const struct ep_deadline *d, char *err, size_t errlen);
/* probe_sql.exec over libpq: one statement, cancelled at the deadline. */
int probe_pq_exec(void *impl, const struct ep_deadline *d, const char *sql,
		  struct probe_sql_rows *ret, char *sqlstate, char *err, size_t errlen);
/* probe_sql.quote_ident over PQescapeIdentifier. 0, -ENOMEM or -ENOSPC. */
int probe_pq_quote(void *impl, const char *ident, char *out, size_t outlen);
/* First line of libpq message m, without conninfo's password. */
void probe_pq_message_line(char *line, size_t size, const char *m, const char *conninfo);

#endif
