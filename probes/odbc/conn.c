/* The unixODBC side of the odbc probe: a login and a statement runner that
 * hold the caller's deadline (SQL_ATTR_LOGIN_TIMEOUT, SQL_ATTR_QUERY_TIMEOUT
 * bounded by it) and redact the password from driver messages. Shared by the
 * odbc probe and the erp probe (probes/erp/); moved out of odbc.c unchanged. */
#include <ctype.h>
#include <errno.h>
#include <sql.h>
#include <sqlext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "probes/odbc/odbc.h"

static void diag(SQLSMALLINT type, SQLHANDLE h, char *sqlstate, char *err, size_t errlen)
{
	SQLCHAR state[8] = "", msg[700] = "";
	SQLINTEGER native = 0;
	SQLSMALLINT len = 0;

	if (SQL_SUCCEEDED(SQLGetDiagRec(type, h, 1, state, &native, msg, sizeof(msg), &len))) {
		/* drop the driver's "[unixODBC][Driver]..." prefixes */
		char *m = (char *)msg;
		while (*m == '[') {
			char *e = strchr(m, ']');
			if (!e)
				break;
			m = e + 1;
		}
		while (isspace((unsigned char)*m))
			m++;
		size_t n = strcspn(m, "\n");
		m[n] = '\0';
		ep_snprintf(err, errlen, "%s (SQLSTATE %s)", m, (char *)state);
	} else {
		ep_snprintf(err, errlen, "ODBC call failed without diagnostics");
	}
	if (sqlstate)
		ep_snprintf(sqlstate, 6, "%s", (char *)state);
}

int probe_odbc_exec(void *impl, const struct ep_deadline *d, const char *sql,
		    struct probe_sql_rows *ret, char *sqlstate, char *err, size_t errlen)
{
	struct probe_odbc_conn *c = impl;
	SQLHSTMT st = SQL_NULL_HSTMT;
	int rc = 0;
	int64_t left_s = ep_deadline_left_ms(d) / 1000;
	char *buf = NULL;

	if (ret)
		memset(ret, 0, sizeof(*ret));
	if (left_s < 1) {
		ep_snprintf(err, errlen, "the probe's deadline was reached");
		return -ETIME;
	}
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, c->dbc, &st))) {
		diag(SQL_HANDLE_DBC, c->dbc, sqlstate, err, errlen);
		return -EIO;
	}
	SQLULEN qt = (SQLULEN)(left_s < c->max_query_s ? left_s : c->max_query_s);
	SQLSetStmtAttr(st, SQL_ATTR_QUERY_TIMEOUT, (SQLPOINTER)qt, 0);
	/* SQLExecDirect takes a non-const pointer: hand it a copy */
	char *text = strdup(sql);
	if (!text) {
		rc = -ENOMEM;
		goto out;
	}
	SQLRETURN x = SQLExecDirect(st, (SQLCHAR *)text, SQL_NTS);
	free(text);
	if (!SQL_SUCCEEDED(x) && x != SQL_NO_DATA) {
		diag(SQL_HANDLE_STMT, st, sqlstate, err, errlen);
		rc = -EIO;
		goto out;
	}
	SQLSMALLINT ncols = 0;
	if (!SQL_SUCCEEDED(SQLNumResultCols(st, &ncols)) || ncols <= 0 || !ret)
		goto out;
	if (ncols > 64)
		ncols = 64;
	const size_t bufsz = 8192;
	buf = malloc((size_t)ncols * bufsz);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	ret->ncols = (size_t)ncols;
	for (;;) {
		x = SQLFetch(st);
		if (x == SQL_NO_DATA)
			break;
		if (!SQL_SUCCEEDED(x)) {
			diag(SQL_HANDLE_STMT, st, sqlstate, err, errlen);
			rc = -EIO;
			goto out;
		}
		const char *cells[64];
		for (SQLSMALLINT j = 0; j < ncols; j++) {
			SQLLEN ind = 0;
			char *b = buf + (size_t)j * bufsz;
			b[0] = '\0';
			x = SQLGetData(st, (SQLUSMALLINT)(j + 1), SQL_C_CHAR, b, (SQLLEN)bufsz,
				       &ind);
			if (!SQL_SUCCEEDED(x)) {
				diag(SQL_HANDLE_STMT, st, sqlstate, err, errlen);
				rc = -EIO;
				goto out;
			}
			cells[j] = ind == SQL_NULL_DATA ? NULL : b;
		}
		if (probe_sql_rows_add(ret, (size_t)ncols, cells) < 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
out:
	if (rc == -ENOMEM)
		ep_snprintf(err, errlen, "out of memory");
	if (rc < 0 && ret)
		probe_sql_rows_free(ret);
	free(buf);
	SQLFreeHandle(SQL_HANDLE_STMT, st);
	return rc;
}

void probe_odbc_close(struct probe_odbc_conn *c)
{
	if (c->connected)
		SQLDisconnect(c->dbc);
	if (c->dbc != SQL_NULL_HDBC)
		SQLFreeHandle(SQL_HANDLE_DBC, c->dbc);
	if (c->env != SQL_NULL_HENV)
		SQLFreeHandle(SQL_HANDLE_ENV, c->env);
	memset(c, 0, sizeof(*c));
}

/* The PWD (or Password) value of an ODBC connection string, raw as written
 * ("" when none), to redact from driver messages that quote the string. */
static void connection_password(const char *cs, char *out, size_t outlen)
{
	out[0] = '\0';
	for (const char *p = cs; *p;) {
		size_t klen = strcspn(p, "=;");
		const char *v = p + klen, *end;

		if (*v != '=') {
			p = *v ? v + 1 : v;
			continue;
		}
		v++;
		if (*v == '{') { /* {value}, "}}" a literal brace: the value is the inside */
			for (end = ++v; *end && !(end[0] == '}' && end[1] != '}'); end++)
				if (end[0] == '}')
					end++;
		} else {
			end = v + strcspn(v, ";");
		}
		while (klen && (*p == ' ' || *p == '\t'))
			p++, klen--;
		while (klen && (p[klen - 1] == ' ' || p[klen - 1] == '\t'))
			klen--;
		if (((klen == 3 && strncasecmp(p, "PWD", 3) == 0) ||
		     (klen == 8 && strncasecmp(p, "Password", 8) == 0)) &&
		    end > v && (size_t)(end - v) < outlen) {
			memcpy(out, v, (size_t)(end - v));
			out[end - v] = '\0';
			return;
		}
		if (*end == '}')
			end++;
		end += strcspn(end, ";");
		p = *end ? end + 1 : end;
	}
}

/* A precise text for a failed login (the ODBC message, plus what to check). */
static void connect_error(char *err, size_t errlen, const char *msg)
{
	if (strcasestr(msg, "password") || strcasestr(msg, "Access denied") ||
	    strcasestr(msg, "Login failed") || strcasestr(msg, "authentication"))
		ep_snprintf(err, errlen,
			    "authentication failed: %s (check UID/PWD in the connection "
			    "string or the DSN)",
			    msg);
	else if (strcasestr(msg, "Data source name not found"))
		ep_snprintf(err, errlen,
			    "%s (the DSN is not in odbc.ini / ODBCINI; check odbcinst "
			    "-q -s)",
			    msg);
	else if (strcasestr(msg, "refused") || strcasestr(msg, "Can't connect") ||
		 strcasestr(msg, "timeout") || strcasestr(msg, "timed out") ||
		 strcasestr(msg, "could not connect"))
		ep_snprintf(err, errlen, "cannot reach the server: %s (check the server and port)",
			    msg);
	else
		ep_snprintf(err, errlen, "cannot connect: %s", msg);
}

int probe_odbc_open(const char *connection, int64_t login_timeout_s, int64_t max_query_s,
		    struct probe_odbc_conn *c, const struct ep_deadline *d, char *err,
		    size_t errlen)
{
	char conn[4096], msg[800];
	/* leave half a second of the deadline for what follows the login */
	int64_t left_s = (ep_deadline_left_ms(d) - 500) / 1000;
	int64_t login = login_timeout_s < left_s ? login_timeout_s : left_s;

	memset(c, 0, sizeof(*c));
	c->max_query_s = max_query_s;
	if (login < 1) {
		ep_snprintf(err, errlen, "the probe's deadline was reached before connecting");
		return -ETIME;
	}
	if (ep_snprintf(conn, sizeof(conn), strchr(connection, '=') ? "%s" : "DSN=%s", connection) <
	    0) {
		ep_snprintf(err, errlen, "connection string too long");
		return -EINVAL;
	}
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &c->env)) ||
	    !SQL_SUCCEEDED(
		    SQLSetEnvAttr(c->env, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3, 0)) ||
	    !SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_DBC, c->env, &c->dbc))) {
		ep_snprintf(err, errlen, "cannot initialise unixODBC");
		explicit_bzero(conn, sizeof(conn));
		probe_odbc_close(c);
		return -ENOMEM;
	}
	SQLSetConnectAttr(c->dbc, SQL_ATTR_LOGIN_TIMEOUT, (SQLPOINTER)(SQLULEN)login, 0);
	SQLSetConnectAttr(c->dbc, SQL_ATTR_CONNECTION_TIMEOUT, (SQLPOINTER)(SQLULEN)login, 0);
	if (!SQL_SUCCEEDED(SQLDriverConnect(c->dbc, NULL, (SQLCHAR *)conn, SQL_NTS, NULL, 0, NULL,
					    SQL_DRIVER_NOPROMPT))) {
		char pw[256];

		diag(SQL_HANDLE_DBC, c->dbc, NULL, msg, sizeof(msg));
		connection_password(conn, pw, sizeof(pw));
		ep_redact(msg, sizeof(msg), pw);
		explicit_bzero(pw, sizeof(pw));
		explicit_bzero(conn, sizeof(conn));
		connect_error(err, errlen, msg);
		probe_odbc_close(c);
		return -ECONNREFUSED;
	}
	explicit_bzero(conn, sizeof(conn));
	c->connected = true;
	return 0;
}

int probe_odbc_getinfo(struct probe_odbc_conn *c, SQLUSMALLINT what, char *out, size_t len)
{
	SQLSMALLINT n = 0;
	out[0] = '\0';
	if (!SQL_SUCCEEDED(SQLGetInfo(c->dbc, what, out, (SQLSMALLINT)len, &n)))
		return -EIO;
	return 0;
}
