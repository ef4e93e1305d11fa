/* When a customer's monthly report is due (schedule.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/report/schedule.h"

int coll_month_parse(const char *s, struct coll_month *ret)
{
	if (!s || strlen(s) != 7 || s[4] != '-')
		return -EINVAL;
	for (int i = 0; i < 7; i++)
		if (i != 4 && (s[i] < '0' || s[i] > '9'))
			return -EINVAL;
	int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	int m = (s[5] - '0') * 10 + (s[6] - '0');
	if (y < 2000 || m < 1 || m > 12)
		return -EINVAL;
	ret->year = y;
	ret->month = m;
	return 0;
}

void coll_month_format(struct coll_month m, char *buf, size_t size)
{
	snprintf(buf, size, "%04d-%02d", m.year, m.month);
}

struct coll_month coll_month_prev(struct coll_month m)
{
	return m.month == 1 ? (struct coll_month){m.year - 1, 12}
			    : (struct coll_month){m.year, m.month - 1};
}

struct coll_month coll_month_next(struct coll_month m)
{
	return m.month == 12 ? (struct coll_month){m.year + 1, 1}
			     : (struct coll_month){m.year, m.month + 1};
}

int64_t coll_month_start(const struct coll_tz *tz, struct coll_month m)
{
	return coll_tz_to_utc(tz, (int64_t)coll_date_days(m.year, m.month, 1) * 86400);
}

int64_t coll_report_send_at(const struct coll_tz *tz, struct coll_month m, int day, int hour)
{
	if (day < 1)
		day = 1;
	if (day > COLL_REPORT_DAY_MAX)
		day = COLL_REPORT_DAY_MAX;
	if (hour < 0 || hour > 23)
		hour = 0;
	int64_t local = (int64_t)coll_date_days(m.year, m.month, day) * 86400 + hour * 3600;
	return coll_tz_to_utc(tz, local);
}

bool coll_report_due(const struct coll_tz *tz, int day, int hour, int64_t now,
		     struct coll_month *ret_month, int64_t *ret_at)
{
	int y, mo, d;
	coll_date_civil(coll_tz_day(tz, now), &y, &mo, &d);
	struct coll_month cur = {y, mo};
	int64_t at = coll_report_send_at(tz, cur, day, hour);
	if (now >= at) {
		*ret_month = coll_month_prev(cur);
		*ret_at = at;
		return true;
	}
	/* not yet this month: the previous month's report comes at `at` */
	*ret_month = coll_month_prev(cur);
	*ret_at = at;
	return false;
}
