/* The libpq side of the PostgreSQL checks: an asynchronous connect and a
 * statement runner that both hold the caller's deadline (poll() on the
 * socket, PQcancel at the deadline). Shared by the postgres probe and the erp
 * probe (probes/erp/); moved out of postgres.c unchanged. */
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/postgres/pq.h"

static void first_line(char *dst, size_t len, const char *msg)
{
	size_t n = strcspn(msg ? msg : "", "\n");
	if (n >= len)
		n = len - 1;
	memcpy(dst, msg ? msg : "", n);
	dst[n] = '\0';
}

/* Waits until the socket is ready (events) or the deadline; 0, -ETIME, -EIO. */
static int wait_socket(PGconn *conn, short events, const struct ep_deadline *d)
{
	struct pollfd p = {.fd = PQsocket(conn), .events = events};
	int64_t left = ep_deadline_left_ms(d);

	if (p.fd < 0)
		return -EIO;
	if (left <= 0)
		return -ETIME;
	int rc = poll(&p, 1, left > 1000 ? 1000 : (int)left);
	if (rc < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int probe_pq_exec(void *impl, const struct ep_deadline *d, const char *sql,
		  struct probe_sql_rows *ret, char *sqlstate, char *err, size_t errlen)
{
	struct probe_pq *q = impl;
	PGresult *res, *last = NULL;
	int rc = 0;

	if (!PQsendQuery(q->conn, sql)) {
		first_line(err, errlen, PQerrorMessage(q->conn));
		return -EIO;
	}
	for (;;) {
		while (PQisBusy(q->conn)) {
			if (ep_deadline_expired(d)) {
				/* backstop: statement_timeout should have fired first */
				char e[256];
				PGcancel *cn = PQgetCancel(q->conn);
				if (cn) {
					PQcancel(cn, e, sizeof(e));
					PQfreeCancel(cn);
				}
				while ((res = PQgetResult(q->conn)))
					PQclear(res);
				PQclear(last);
				ep_snprintf(err, errlen, "cancelled at the probe's deadline");
				return -ETIME;
			}
			if ((rc = wait_socket(q->conn, POLLIN, d)) < 0 && rc != -ETIME) {
				PQclear(last);
				ep_snprintf(err, errlen, "connection lost");
				return -EIO;
			}
			if (!PQconsumeInput(q->conn)) {
				PQclear(last);
				first_line(err, errlen, PQerrorMessage(q->conn));
				return -EIO;
			}
		}
		res = PQgetResult(q->conn);
		if (!res)
			break;
		PQclear(last);
		last = res;
	}
	if (!last) {
		ep_snprintf(err, errlen, "no result");
		return -EIO;
	}
	ExecStatusType s = PQresultStatus(last);
	if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
		const char *state = PQresultErrorField(last, PG_DIAG_SQLSTATE);
		if (sqlstate)
			ep_snprintf(sqlstate, 6, "%s", state ? state : "");
		char line[400];
		first_line(line, sizeof(line), PQresultErrorMessage(last));
		const char *msg = line;
		if (strncmp(msg, "ERROR:  ", 8) == 0)
			msg += 8;
		ep_snprintf(err, errlen, "%s%s%s%s", msg, state ? " (SQLSTATE " : "",
			    state ? state : "", state ? ")" : "");
		PQclear(last);
		return -EIO;
	}
	if (ret && s == PGRES_TUPLES_OK) {
		int nr = PQntuples(last), nc = PQnfields(last);
		const char *cells[64];
		if (nc > 64)
			nc = 64;
		memset(ret, 0, sizeof(*ret));
		ret->ncols = (size_t)nc;
		for (int i = 0; i < nr; i++) {
			for (int j = 0; j < nc; j++)
				cells[j] = PQgetisnull(last, i, j) ? NULL : PQgetvalue(last, i, j);
			if (probe_sql_rows_add(ret, (size_t)nc, cells) < 0) {
				probe_sql_rows_free(ret);
				PQclear(last);
				ep_snprintf(err, errlen, "out of memory");
				return -ENOMEM;
			}
		}
	}
	PQclear(last);
	return 0;
}

int probe_pq_quote(void *impl, const char *ident, char *out, size_t outlen)
{
	struct probe_pq *q = impl;
	char *s = PQescapeIdentifier(q->conn, ident, strlen(ident));
	if (!s)
		return -ENOMEM;
	int rc = ep_snprintf(out, outlen, "%s", s);
	PQfreemem(s);
	return rc;
}

void probe_pq_message_line(char *line, size_t size, const char *m, const char *conninfo)
{
	char pw[256];

	first_line(line, size, m);
	ep_conninfo_password(conninfo, pw, sizeof(pw));
	ep_redact(line, size, pw);
	explicit_bzero(pw, sizeof(pw));
}

/* A precise, actionable text for a failed connection. */
static void connect_error(char *err, size_t errlen, PGconn *conn, const char *db,
			  const char *conninfo)
{
	char line[600];
	const char *m = PQerrorMessage(conn);
	probe_pq_message_line(line, sizeof(line), m, conninfo);
	/* libpq prefixes "connection to server at ... failed: " -- keep it, it names the host */
	if (strstr(m, "password authentication failed") || strstr(m, "no password supplied"))
		ep_snprintf(err, errlen,
			    "authentication failed for database %s: %s (check the password in "
			    "conninfo, ~/.pgpass or PGPASSFILE, and the role's pg_hba.conf entry)",
			    db ? db : "(default)", line);
	else if (strstr(m, "Connection refused") || strstr(m, "timeout expired") ||
		 strstr(m, "No such file or directory") || strstr(m, "could not translate host") ||
		 strstr(m, "No route to host") || strstr(m, "Network is unreachable"))
		ep_snprintf(err, errlen,
			    "cannot reach the server: %s (check host and port in "
			    "conninfo, and that PostgreSQL listens there)",
			    line);
	else if (strstr(m, "does not exist"))
		ep_snprintf(err, errlen, "%s (check the role and database names)", line);
	else if (strstr(m, "no pg_hba.conf entry"))
		ep_snprintf(err, errlen, "%s (add a pg_hba.conf line for the monitoring role)",
			    line);
	else
		ep_snprintf(err, errlen, "cannot connect: %s", line);
}

PGconn *probe_pq_connect(const char *conninfo, int64_t connect_timeout_s, const char *db,
			 const struct ep_deadline *d, char *err, size_t errlen)
{
	char timeout[32];
	int64_t left_s = ep_deadline_left_ms(d) / 1000;
	int64_t t = connect_timeout_s < left_s ? connect_timeout_s : left_s;
	if (t < 2)
		t = 2; /* libpq's minimum; the poll loop below enforces the deadline */
	ep_snprintf(timeout, sizeof(timeout), "%lld", (long long)t);
	const char *keys[] = {"application_name", "connect_timeout", "dbname", db ? "dbname" : NULL,
			      NULL};
	const char *vals[] = {"erpulse-agent", timeout, conninfo, db, NULL};
	PGconn *conn = PQconnectStartParams(keys, vals, 1);
	if (!conn) {
		ep_snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) == CONNECTION_BAD) {
		connect_error(err, errlen, conn, db, conninfo);
		PQfinish(conn);
		return NULL;
	}
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		if (ep_deadline_expired(d)) {
			ep_snprintf(err, errlen,
				    "cannot reach the server: no connection before the probe's "
				    "deadline (check host and port in conninfo)");
			PQfinish(conn);
			return NULL;
		}
		if (wait_socket(conn, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, d) == -EIO)
			break;
		st = PQconnectPoll(conn);
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		connect_error(err, errlen, conn, db, conninfo);
		PQfinish(conn);
		return NULL;
	}
	PQsetnonblocking(conn, 0);
	return conn;
}
