/* Typed reads of one member of a JSON object, for the pure analysis code
 * (score, alerts, coverage) that walks validated reports. */
#ifndef COLL_JSON_FIELD_H
#define COLL_JSON_FIELD_H

#include <jansson.h>
#include <math.h>

/* o[key] when it is a string, else NULL (o may be NULL). */
static inline const char *coll_json_str(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* o[key] when it is a number, else NAN (o may be NULL). */
static inline double coll_json_num(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

#endif
