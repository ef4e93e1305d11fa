/* When a customer's monthly report is due (docs/report.md, "Delivery"):
 * on day `day` of each month at `hour` o'clock in the customer's time zone,
 * the previous month's report. Pure functions: no clock is read here. */
#ifndef COLL_REPORT_SCHEDULE_H
#define COLL_REPORT_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/service/calendar.h"

#define COLL_REPORT_DAY_MAX 28 /* every month has the day */

/* A month: "2026-11" <-> {2026, 11}. */
struct coll_month {
	int year, month; /* month 1..12 */
};
/* "YYYY-MM" (year 2000..9999) -> *ret. 0 or -EINVAL. */
int coll_month_parse(const char *s, struct coll_month *ret);
/* "YYYY-MM" into buf (8 bytes or more). */
void coll_month_format(struct coll_month m, char *buf, size_t size);
/* The month before / after m. */
struct coll_month coll_month_prev(struct coll_month m);
struct coll_month coll_month_next(struct coll_month m);
/* The first second of m in tz (local midnight of its 1st day). */
int64_t coll_month_start(const struct coll_tz *tz, struct coll_month m);

/* The send instant of m's report (the report of the month before m is sent
 * in m): day `day` (1..28) of m, hour:00 local time in tz. */
int64_t coll_report_send_at(const struct coll_tz *tz, struct coll_month m, int day, int hour);

/* At now, which report is due in tz: true with *ret_month = the month whose
 * report is due (the previous month, once this month's send instant has
 * passed), false with *ret_month = the month whose report comes next and
 * *ret_at its send instant. */
bool coll_report_due(const struct coll_tz *tz, int day, int hour, int64_t now,
		     struct coll_month *ret_month, int64_t *ret_at);

#endif
