/* The dated release table behind erp_version_lag, and version parsing.
 * Sources and the policy behind each support end are in docs/probes-erp.md
 * ("Release table"); dates whose day is not published carry the 1st of the
 * month. Update probe_erp_releases_checked with every edit. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "erpulse/util.h"
#include "probes/erp/erp.h"

const char probe_erp_releases_checked[] = "2026-12-06";

static const struct probe_erp_release releases[] = {
	/* Odoo: the three latest major versions are supported; a major leaves
	 * support when the third one after it ships (every autumn). */
	{PROBE_ERP_ODOO, "13.0", "2019-10-03", "2022-10-12"},
	{PROBE_ERP_ODOO, "14.0", "2020-10-02", "2023-11-08"},
	{PROBE_ERP_ODOO, "15.0", "2021-10-05", "2024-10-02"},
	{PROBE_ERP_ODOO, "16.0", "2022-10-12", "2025-09-17"},
	{PROBE_ERP_ODOO, "17.0", "2023-11-08", "2026-10-01"},
	{PROBE_ERP_ODOO, "18.0", "2024-10-02", "2027-10-01"},
	{PROBE_ERP_ODOO, "19.0", "2025-09-17", "2028-10-01"},
	/* ERPNext / Frappe: the two latest major versions are supported. */
	{PROBE_ERP_ERPNEXT, "12", "2019-07-01", "2022-07-01"},
	{PROBE_ERP_ERPNEXT, "13", "2021-01-01", "2023-12-31"},
	{PROBE_ERP_ERPNEXT, "14", "2022-07-01", "2026-01-01"},
	{PROBE_ERP_ERPNEXT, "15", "2023-10-01", NULL},
	{PROBE_ERP_ERPNEXT, "16", "2025-12-01", NULL},
	/* Tryton: a series every six months, supported one year; every x.0 is a
	 * long-term release supported five years. */
	{PROBE_ERP_TRYTON, "5.0", "2018-10-22", "2023-10-22"},
	{PROBE_ERP_TRYTON, "5.8", "2020-11-02", "2021-11-02"},
	{PROBE_ERP_TRYTON, "6.0", "2021-05-03", "2026-05-03"},
	{PROBE_ERP_TRYTON, "6.2", "2021-11-01", "2022-11-01"},
	{PROBE_ERP_TRYTON, "6.4", "2022-05-02", "2023-05-02"},
	{PROBE_ERP_TRYTON, "6.6", "2022-10-31", "2023-10-31"},
	{PROBE_ERP_TRYTON, "6.8", "2023-05-01", "2024-05-01"},
	{PROBE_ERP_TRYTON, "7.0", "2023-10-30", "2028-10-30"},
	{PROBE_ERP_TRYTON, "7.2", "2024-04-29", "2025-04-29"},
	{PROBE_ERP_TRYTON, "7.4", "2024-10-28", "2025-10-28"},
	{PROBE_ERP_TRYTON, "7.6", "2025-04-28", "2026-04-28"},
	{PROBE_ERP_TRYTON, "7.8", "2025-10-27", "2026-10-27"},
	/* iDempiere: one major a year (December); no published end of
	 * support, so only the lag rule applies. */
	{PROBE_ERP_IDEMPIERE, "9", "2021-12-01", NULL},
	{PROBE_ERP_IDEMPIERE, "10", "2022-12-01", NULL},
	{PROBE_ERP_IDEMPIERE, "11", "2023-12-01", NULL},
	{PROBE_ERP_IDEMPIERE, "12", "2024-12-01", NULL},
	/* Dolibarr: two majors a year; security fixes go to the latest few
	 * majors without a published date, so only the lag rule applies. */
	{PROBE_ERP_DOLIBARR, "17", "2023-02-01", NULL},
	{PROBE_ERP_DOLIBARR, "18", "2023-08-01", NULL},
	{PROBE_ERP_DOLIBARR, "19", "2024-01-01", NULL},
	{PROBE_ERP_DOLIBARR, "20", "2024-09-01", NULL},
	{PROBE_ERP_DOLIBARR, "21", "2025-01-01", NULL},
	{PROBE_ERP_DOLIBARR, "22", "2025-07-01", NULL},
};

/* "YYYY-MM-DD" as a UTC time (midnight). */
static time_t day_of(const char *ymd)
{
	struct tm tm = {0};
	if (!ymd || sscanf(ymd, "%4d-%2d-%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday) != 3)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

/* Leading decimal number of s (at most 6 digits); -1 when none. */
static long number_at(const char *s, const char **ret_end)
{
	long v = 0;
	int n = 0;
	while (n < 6 && isdigit((unsigned char)s[n])) {
		v = v * 10 + (s[n] - '0');
		n++;
	}
	*ret_end = s + n;
	return n ? v : -1;
}

int probe_erp_series(enum probe_erp_app app, const char *version, char *out, size_t outlen)
{
	const char *p = version, *e;
	if (!version)
		return -EINVAL;
	while (*p == ' ' || *p == 'v' || *p == 'V')
		p++;
	long major = number_at(p, &e);
	if (major < 0)
		return -EINVAL;
	long minor = 0;
	if (*e == '.') {
		const char *e2;
		minor = number_at(e + 1, &e2);
		if (minor < 0)
			minor = 0;
	}
	switch (app) {
	case PROBE_ERP_ODOO:
	case PROBE_ERP_TRYTON:
		return ep_snprintf(out, outlen, "%ld.%ld", major, minor);
	default:
		return ep_snprintf(out, outlen, "%ld", major);
	}
}

static long major_of(const char *series)
{
	const char *e;
	return number_at(series, &e);
}

int probe_erp_version_lag(enum probe_erp_app app, const char *version, time_t now,
			  struct probe_erp_lag *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (probe_erp_series(app, version, ret->series, sizeof(ret->series)) < 0)
		return -ENOENT;
	long mine = major_of(ret->series), counted = -1;
	for (size_t i = 0; i < EP_ARRAY_SIZE(releases); i++) {
		const struct probe_erp_release *r = &releases[i];
		if (r->app != app || day_of(r->released) > now)
			continue;
		if (strcmp(r->series, ret->series) == 0)
			ret->installed = r;
		/* the table is in release order: the last one out is the newest */
		ret->newest = r;
		long m = major_of(r->series);
		if (m > mine && m != counted) {
			ret->behind++;
			counted = m;
		}
	}
	if (!ret->installed)
		return -ENOENT;
	ret->out_of_support =
		ret->installed->support_ends && day_of(ret->installed->support_ends) <= now;
	return 0;
}
