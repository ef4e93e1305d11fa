/* Query helper shared by the store and the analysis (sql.h). */
#include <stdio.h>

#include "collector/store/sql.h"

int coll_sql_query(struct coll_store *s, const char *sql, const char *const *params, size_t n,
		   struct coll_db_res *res)
{
	int r = coll_db_query(s->db, sql, params, n, res);
	if (r < 0)
		snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
	return r;
}
