/* Query helpers shared by the store's files and the analysis (sql.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "collector/store/sql.h"

int coll_sql_query(struct coll_store *s, const char *sql, const char *const *params, size_t n,
		   struct coll_db_res *res)
{
	int r = coll_db_query(s->db, sql, params, n, res);
	if (r < 0)
		snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
	return r;
}

void coll_copy_id(char dst[COLL_ID_SIZE], const char *src)
{
	snprintf(dst, COLL_ID_SIZE, "%s", src ? src : "");
}

/* ---- rows to JSON ------------------------------------------------------------ */

/* types: one char per column: s string, i integer, d double, b boolean,
 * j JSON text (embedded as is), '-' skipped. */
json_t *coll_row_json(const struct coll_db_res *res, size_t row, const char *const *names,
		      const char *types)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	for (size_t c = 0; c < res->cols && types[c]; c++) {
		const char *v = coll_db_val(res, row, c);
		json_t *j;
		if (types[c] == '-')
			continue;
		if (!v) {
			j = json_null();
		} else {
			switch (types[c]) {
			case 'i':
				j = json_integer(coll_s2i(v));
				break;
			case 'd': {
				char *end;
				double d = strtod(v, &end);
				j = isfinite(d) ? json_real(d) : json_null();
				break;
			}
			case 'b':
				j = json_boolean(coll_s2i(v) != 0);
				break;
			case 'j':
				j = json_loads(v, JSON_DECODE_ANY, NULL);
				if (!j)
					j = json_null();
				break;
			default:
				j = json_string(v);
				if (!j)
					j = json_null();
				break;
			}
		}
		if (json_object_set_new(o, names[c], j) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

int coll_rows_json(const struct coll_db_res *res, const char *const *names, const char *types,
		   json_t **ret)
{
	json_t *a = json_array();
	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < res->rows; i++) {
		if (json_array_append_new(a, coll_row_json(res, i, names, types)) < 0) {
			json_decref(a);
			return -ENOMEM;
		}
	}
	*ret = a;
	return 0;
}
