/* PostgreSQL tables partitioned by UTC day on an epoch-seconds column
 * (native range partitioning): <table>_pYYYYMMDD holds [day, day + 86400),
 * <table>_default what no day partition covers. Retention drops a day's
 * partition instead of deleting its rows. Generic: the table and column
 * names are the caller's constants (never outside input). */
#ifndef COLL_STORE_DAYPARTS_H
#define COLL_STORE_DAYPARTS_H

#include <stddef.h>
#include <stdint.h>

#include "collector/store/store.h"

/* Creates the partition of the UTC day that starts at day (a multiple of
 * 86400) unless it exists, moving the rows the default partition holds for
 * that day into it (one transaction, serialized across collectors).
 * 0 or -errno (message in s->err). */
int coll_part_ensure_day(struct coll_store *s, const char *table, const char *column, int64_t day);

/* The start of every day partition of table, ascending. *ret: malloc'd
 * (NULL when none). 0 or -errno. */
int coll_part_days(struct coll_store *s, const char *table, int64_t **ret, size_t *ret_n);

/* Drops the day partition of table that starts at day, if any. 0 or -errno. */
int coll_part_drop_day(struct coll_store *s, const char *table, int64_t day);

#endif
