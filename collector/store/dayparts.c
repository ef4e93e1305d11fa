/* Day partitions on PostgreSQL (dayparts.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/store/dayparts.h"
#include "collector/store/sql.h"

#define PART_LOCK "7238450114" /* pg_advisory_xact_lock key: "erpulse partitions" */

static void part_name(char *buf, size_t size, const char *table, int64_t day)
{
	time_t t = (time_t)day;
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(buf, size, "%s_p%04d%02d%02d", table, tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday);
}

static int exec(struct coll_store *s, const char *sql)
{
	int r = coll_db_exec(s->db, sql);
	if (r < 0)
		snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
	return r;
}

static int exists(struct coll_store *s, const char *name, bool *ret)
{
	struct coll_db_res res;
	int r = COLL_Q(s, "SELECT to_regclass(?) IS NOT NULL", &res, name);
	if (r < 0)
		return r;
	const char *v = coll_db_val(&res, 0, 0);
	*ret = v && v[0] == 't';
	coll_db_res_free(&res);
	return 0;
}

int coll_part_ensure_day(struct coll_store *s, const char *table, const char *column, int64_t day)
{
	char name[128], sql[1024];
	bool have;
	part_name(name, sizeof(name), table, day);
	int r = exists(s, name, &have);
	if (r < 0 || have)
		return r;
	/* created apart and attached: CREATE ... PARTITION OF fails when the
	 * default partition holds rows of that day, so they move first */
	snprintf(
		sql, sizeof(sql),
		"BEGIN; SELECT pg_advisory_xact_lock(" PART_LOCK ");"
		" CREATE TABLE IF NOT EXISTS %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS);"
		" WITH m AS (DELETE FROM %s_default WHERE %s >= %lld AND %s < %lld RETURNING *)"
		" INSERT INTO %s SELECT * FROM m;"
		" ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%lld) TO (%lld); COMMIT",
		name, table, table, column, (long long)day, column, (long long)day + 86400, name,
		table, name, (long long)day, (long long)day + 86400);
	r = exec(s, sql);
	if (r < 0) {
		coll_db_rollback(s->db);
		/* another collector attached it meanwhile */
		if (exists(s, name, &have) == 0 && have)
			return 0;
	}
	return r;
}

int coll_part_days(struct coll_store *s, const char *table, int64_t **ret, size_t *ret_n)
{
	struct coll_db_res res;
	int r = COLL_Q(s,
		       "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
		       " WHERE i.inhparent = CAST(? AS regclass) ORDER BY c.relname",
		       &res, table);
	if (r < 0)
		return r;
	int64_t *days = res.rows ? calloc(res.rows, sizeof(*days)) : NULL;
	size_t n = 0, tl = strlen(table);
	if (res.rows && !days) {
		coll_db_res_free(&res);
		return -ENOMEM;
	}
	for (size_t i = 0; i < res.rows; i++) {
		const char *v = coll_db_val(&res, i, 0);
		int y, m, d;
		char tail;
		if (!v || strncmp(v, table, tl) != 0 || strncmp(v + tl, "_p", 2) != 0 ||
		    strlen(v + tl + 2) != 8 ||
		    sscanf(v + tl + 2, "%4d%2d%2d%c", &y, &m, &d, &tail) != 3)
			continue; /* the default partition, or one of someone else's */
		struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
		days[n++] = (int64_t)timegm(&tm);
	}
	coll_db_res_free(&res);
	*ret = days;
	*ret_n = n;
	return 0;
}

int coll_part_drop_day(struct coll_store *s, const char *table, int64_t day)
{
	char name[128], sql[256];
	part_name(name, sizeof(name), table, day);
	snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", name);
	return exec(s, sql);
}
