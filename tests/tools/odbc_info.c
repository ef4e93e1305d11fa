/* odbc_info: connects through unixODBC and prints what the driver says.
 *   odbc_info CONNECTION [QUERY]
 * CONNECTION is an ODBC connection string ("DSN=x;UID=u;PWD=p" or
 * "Driver=...;...") or a bare DSN name. Prints
 *   DBMS_NAME=<SQLGetInfo(SQL_DBMS_NAME)>
 *   DBMS_VER=<SQLGetInfo(SQL_DBMS_VER)>
 *   RESULT=<first column of the first row of QUERY>   (with QUERY; NULL -> empty)
 * Exit status 0, or 1 with the ODBC diagnostics on stderr. */
#include <sql.h>
#include <sqlext.h>
#include <stdio.h>
#include <string.h>

static void diag(const char *what, SQLSMALLINT type, SQLHANDLE h)
{
	SQLCHAR state[8], msg[1024];
	SQLINTEGER native;
	SQLSMALLINT len;

	fprintf(stderr, "odbc_info: %s failed\n", what);
	for (SQLSMALLINT i = 1; i < 10; i++) {
		if (!SQL_SUCCEEDED(
			    SQLGetDiagRec(type, h, i, state, &native, msg, sizeof(msg), &len)))
			break;
		fprintf(stderr, "  [%s] %s\n", (char *)state, (char *)msg);
	}
}

int main(int argc, char **argv)
{
	SQLHENV env = SQL_NULL_HENV;
	SQLHDBC dbc = SQL_NULL_HDBC;
	SQLHSTMT st = SQL_NULL_HSTMT;
	char conn[2048], buf[1024];
	SQLSMALLINT len;
	SQLLEN ind;
	int rc = 1, connected = 0;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: odbc_info CONNECTION-STRING|DSN [QUERY]\n");
		return 2;
	}
	if (snprintf(conn, sizeof(conn), strchr(argv[1], '=') ? "%s" : "DSN=%s", argv[1]) >=
	    (int)sizeof(conn)) {
		fprintf(stderr, "odbc_info: connection string too long\n");
		return 2;
	}
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &env)))
		return 1;
	SQLSetEnvAttr(env, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3, 0);
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_DBC, env, &dbc)))
		goto out;
	SQLSetConnectAttr(dbc, SQL_ATTR_LOGIN_TIMEOUT, (SQLPOINTER)10, 0);
	if (!SQL_SUCCEEDED(SQLDriverConnect(dbc, NULL, (SQLCHAR *)conn, SQL_NTS, NULL, 0, NULL,
					    SQL_DRIVER_NOPROMPT))) {
		diag("SQLDriverConnect", SQL_HANDLE_DBC, dbc);
		goto out;
	}
	connected = 1;
	if (!SQL_SUCCEEDED(SQLGetInfo(dbc, SQL_DBMS_NAME, buf, sizeof(buf), &len))) {
		diag("SQLGetInfo(SQL_DBMS_NAME)", SQL_HANDLE_DBC, dbc);
		goto out;
	}
	printf("DBMS_NAME=%s\n", buf);
	if (!SQL_SUCCEEDED(SQLGetInfo(dbc, SQL_DBMS_VER, buf, sizeof(buf), &len))) {
		diag("SQLGetInfo(SQL_DBMS_VER)", SQL_HANDLE_DBC, dbc);
		goto out;
	}
	printf("DBMS_VER=%s\n", buf);
	if (argc == 3) {
		if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, dbc, &st)))
			goto out;
		if (!SQL_SUCCEEDED(SQLExecDirect(st, (SQLCHAR *)argv[2], SQL_NTS))) {
			diag("SQLExecDirect", SQL_HANDLE_STMT, st);
			goto out;
		}
		SQLRETURN f = SQLFetch(st);
		if (f == SQL_NO_DATA) {
			fprintf(stderr, "odbc_info: the query returned no rows\n");
			goto out;
		}
		if (!SQL_SUCCEEDED(f) ||
		    !SQL_SUCCEEDED(SQLGetData(st, 1, SQL_C_CHAR, buf, sizeof(buf), &ind))) {
			diag("SQLFetch/SQLGetData", SQL_HANDLE_STMT, st);
			goto out;
		}
		printf("RESULT=%s\n", ind == SQL_NULL_DATA ? "" : buf);
	}
	rc = 0;
out:
	if (st != SQL_NULL_HSTMT)
		SQLFreeHandle(SQL_HANDLE_STMT, st);
	if (connected)
		SQLDisconnect(dbc);
	if (dbc != SQL_NULL_HDBC)
		SQLFreeHandle(SQL_HANDLE_DBC, dbc);
	SQLFreeHandle(SQL_HANDLE_ENV, env);
	return rc;
}
