/* Service calendars (calendar.h): time zones, business hours, holidays. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/service/calendar.h"
#include "erpulse/util.h"

#define DAY            86400
#define MAX_MARKS      100000
#define MAX_SCAN_DAYS  36600 /* a century of closed days: a calendar bug, not a wait */
#define TZIF_MAX_TIMES 100000

/* ---- dates ----------------------------------------------------------------- */

/* Howard Hinnant's days_from_civil / civil_from_days. */
int32_t coll_date_days(int y, int m, int d)
{
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153u * (unsigned)(m > 2 ? m - 3 : m + 9) + 2) / 5 + (unsigned)d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (int32_t)(era * 146097 + (int)doe - 719468);
}

void coll_date_civil(int32_t day, int *ret_y, int *ret_m, int *ret_d)
{
	int64_t z = (int64_t)day + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1;
	unsigned m = mp < 10 ? mp + 3 : mp - 9;
	*ret_y = (int)(y + (m <= 2));
	*ret_m = (int)m;
	*ret_d = (int)d;
}

static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int coll_date_parse(const char *s, int32_t *ret_day)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -EINVAL;
	int y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return -EINVAL;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (m == 2 && d == 29 && !leap)
		return -EINVAL;
	*ret_day = coll_date_days(y, m, d);
	return 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

/* ---- time zones ------------------------------------------------------------- */

void coll_tz_free(struct coll_tz *tz)
{
	if (!tz)
		return;
	free(tz->at);
	free(tz->off);
	tz->at = NULL;
	tz->off = NULL;
	tz->n = 0;
}

int32_t coll_tz_offset(const struct coll_tz *tz, int64_t t)
{
	if (tz->n == 0 || t < tz->at[0])
		return tz->off0;
	size_t lo = 0, hi = tz->n; /* at[lo] <= t < at[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (tz->at[mid] <= t)
			lo = mid;
		else
			hi = mid;
	}
	return tz->off[lo];
}

/* "UTC", "GMT", "Z", "+08:00", "-0530", "UTC+8", "UTC+08:00" -> seconds. */
static int parse_fixed(const char *s, int32_t *ret)
{
	if (strncmp(s, "UTC", 3) == 0 || strncmp(s, "GMT", 3) == 0)
		s += 3;
	else if (strcmp(s, "Z") == 0)
		s++;
	if (*s == '\0') {
		*ret = 0;
		return 0;
	}
	if (*s != '+' && *s != '-')
		return -EINVAL;
	int sign = *s++ == '-' ? -1 : 1, h, m = 0;
	size_t len = strlen(s);
	if (len == 1 || len == 2) {
		h = digits(s, (int)len);
	} else if (len == 4) {
		h = digits(s, 2);
		m = digits(s + 2, 2);
	} else if (len == 5 && s[2] == ':') {
		h = digits(s, 2);
		m = digits(s + 3, 2);
	} else {
		return -EINVAL;
	}
	if (h < 0 || h > 14 || m < 0 || m > 59)
		return -EINVAL;
	*ret = sign * (h * 3600 + m * 60);
	return 0;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

int coll_tz_parse_tzif(const void *data, size_t len, struct coll_tz *ret)
{
	const unsigned char *p = data, *end = p + len;
	struct coll_tz tz = {0};
	int pass = 0;
	size_t tsize = 4;
again:
	if ((size_t)(end - p) < 44 || memcmp(p, "TZif", 4) != 0)
		return -EINVAL;
	char version = (char)p[4];
	uint32_t isut = be32(p + 20), isstd = be32(p + 24), leap = be32(p + 28),
		 timecnt = be32(p + 32), typecnt = be32(p + 36), charcnt = be32(p + 40);
	p += 44;
	if (typecnt == 0 || typecnt > 256 || timecnt > TZIF_MAX_TIMES || leap > 10000 ||
	    charcnt > 65536 || isut > typecnt || isstd > typecnt)
		return -EINVAL;
	size_t need = (size_t)timecnt * tsize + timecnt + (size_t)typecnt * 6 + charcnt +
		      (size_t)leap * (tsize + 4) + isstd + isut;
	if ((size_t)(end - p) < need)
		return -EINVAL;
	if (pass == 0 && version >= '2') {
		/* skip the 32-bit block; read the 64-bit one that follows */
		p += need;
		pass = 1;
		tsize = 8;
		goto again;
	}
	const unsigned char *times = p, *idx = p + (size_t)timecnt * tsize, *types = idx + timecnt;
	int32_t offs[256];
	for (uint32_t i = 0; i < typecnt; i++) {
		offs[i] = (int32_t)be32(types + 6 * i);
		if (offs[i] < -25 * 3600 || offs[i] > 26 * 3600 || types[6 * i + 5] >= charcnt)
			return -EINVAL;
	}
	if (timecnt) {
		tz.at = malloc(timecnt * sizeof(*tz.at));
		tz.off = malloc(timecnt * sizeof(*tz.off));
		if (!tz.at || !tz.off) {
			coll_tz_free(&tz);
			return -ENOMEM;
		}
	}
	for (uint32_t i = 0; i < timecnt; i++) {
		int64_t t = tsize == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);
		if (idx[i] >= typecnt || (i > 0 && t <= tz.at[i - 1])) {
			coll_tz_free(&tz);
			return -EINVAL;
		}
		tz.at[i] = t;
		tz.off[i] = offs[idx[i]];
	}
	tz.n = timecnt;
	tz.off0 = offs[0];
	*ret = tz;
	return 0;
}

static bool zone_name_ok(const char *s)
{
	if (!*s || *s == '/' || strlen(s) >= 64 || strstr(s, ".."))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("/_+-", *s))
			return false;
	return true;
}

int coll_tz_load(const char *name, const char *zoneinfo, struct coll_tz *ret, char *err,
		 size_t errlen)
{
	struct coll_tz tz = {0};
	char path[4200];
	char *data = NULL;
	size_t len = 0;
	int r;
	if (parse_fixed(name, &tz.off0) == 0) {
		snprintf(tz.name, sizeof(tz.name), "%s", name);
		*ret = tz;
		return 0;
	}
	if (!zone_name_ok(name)) {
		snprintf(err, errlen, "'%s' is not a time zone (UTC, +08:00 or Asia/Shanghai)",
			 name);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/%s", zoneinfo ? zoneinfo : COLL_ZONEINFO, name);
	r = ep_read_file(path, COLL_TZIF_MAX_BYTES, &data, &len);
	if (r < 0) {
		snprintf(err, errlen, "time zone '%s': %s: %s (install tzdata)", name, path,
			 strerror(-r));
		return r;
	}
	r = coll_tz_parse_tzif(data, len, &tz);
	free(data);
	if (r < 0) {
		snprintf(err, errlen, "time zone '%s': %s is not a TZif file", name, path);
		return r;
	}
	snprintf(tz.name, sizeof(tz.name), "%s", name);
	*ret = tz;
	return 0;
}

/* ---- business hours ------------------------------------------------------------ */

static const char *const wday_names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

static int wday_parse(const char *s, size_t n)
{
	if (n != 3)
		return -1;
	for (int i = 0; i < 7; i++)
		if (strncasecmp(s, wday_names[i], 3) == 0)
			return i;
	return -1;
}

static int hhmm(const char *s, size_t n)
{
	if (n != 5 || s[2] != ':')
		return -1;
	int h = digits(s, 2), m = digits(s + 3, 2);
	if (h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0))
		return -1;
	return h * 3600 + m * 60;
}

int coll_calendar_parse_hours(const char *text, struct coll_calendar *cal)
{
	const char *sp = strchr(text, ' ');
	if (!sp)
		return -EINVAL;
	uint8_t days = 0;
	for (const char *p = text; p < sp;) {
		const char *comma = memchr(p, ',', (size_t)(sp - p));
		const char *tok_end = comma ? comma : sp;
		const char *dash = memchr(p, '-', (size_t)(tok_end - p));
		int a = wday_parse(p, (size_t)((dash ? dash : tok_end) - p));
		int b = dash ? wday_parse(dash + 1, (size_t)(tok_end - dash - 1)) : a;
		if (a < 0 || b < 0 || b < a)
			return -EINVAL;
		for (int d = a; d <= b; d++)
			days |= (uint8_t)(1u << d);
		p = comma ? comma + 1 : sp;
	}
	while (*sp == ' ')
		sp++;
	const char *dash = strchr(sp, '-');
	if (!dash)
		return -EINVAL;
	int open = hhmm(sp, (size_t)(dash - sp)), close = hhmm(dash + 1, strlen(dash + 1));
	if (open < 0 || close < 0 || close <= open || !days)
		return -EINVAL;
	cal->weekdays = days;
	cal->open_s = open;
	cal->close_s = close;
	return 0;
}

static int mark_cmp(const void *a, const void *b)
{
	const struct coll_day_mark *x = a, *y = b;
	return (x->day > y->day) - (x->day < y->day);
}

int coll_calendar_parse_holidays(struct coll_calendar *cal, const char *text, size_t len,
				 const char *name, char *err, size_t errlen)
{
	struct coll_day_mark *marks = NULL;
	size_t n = 0, cap = 0;
	int line = 0;
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		char buf[128];
		line++;
		size_t ll = (size_t)(le - p);
		const char *hash = memchr(p, '#', ll);
		if (hash)
			ll = (size_t)(hash - p);
		while (ll && isspace((unsigned char)p[ll - 1]))
			ll--;
		while (ll && isspace((unsigned char)*p)) {
			p++;
			ll--;
		}
		if (ll == 0)
			goto next;
		if (ll >= sizeof(buf))
			goto bad;
		memcpy(buf, p, ll);
		buf[ll] = '\0';
		bool work = false;
		char *rest = buf + 10;
		if (ll > 10) {
			if (!isspace((unsigned char)*rest))
				goto bad;
			*rest++ = '\0';
			while (isspace((unsigned char)*rest))
				rest++;
			if (strcmp(rest, "work") == 0)
				work = true;
			else if (strcmp(rest, "off") != 0)
				goto bad;
		}
		int32_t day;
		if (coll_date_parse(buf, &day) < 0)
			goto bad;
		if (n == cap) {
			if (n >= MAX_MARKS) {
				snprintf(err, errlen, "%s:%d: more than %d dates", name, line,
					 MAX_MARKS);
				free(marks);
				return -EINVAL;
			}
			size_t nc = cap ? cap * 2 : 64;
			struct coll_day_mark *m = realloc(marks, nc * sizeof(*m));
			if (!m) {
				free(marks);
				return -ENOMEM;
			}
			marks = m;
			cap = nc;
		}
		marks[n].day = day;
		marks[n].work = work;
		n++;
	next:
		p = nl ? nl + 1 : end;
		continue;
	bad:
		snprintf(err, errlen,
			 "%s:%d: expected 'YYYY-MM-DD' or 'YYYY-MM-DD work' (a '#' starts a "
			 "comment)",
			 name, line);
		free(marks);
		return -EINVAL;
	}
	if (n)
		qsort(marks, n, sizeof(*marks), mark_cmp);
	for (size_t i = 1; i < n; i++) {
		if (marks[i].day == marks[i - 1].day) {
			int y, m, d;
			coll_date_civil(marks[i].day, &y, &m, &d);
			snprintf(err, errlen, "%s: %04d-%02d-%02d is listed twice", name, y, m, d);
			free(marks);
			return -EINVAL;
		}
	}
	free(cal->marks);
	cal->marks = marks;
	cal->n_marks = n;
	return 0;
}

void coll_calendar_free(struct coll_calendar *cal)
{
	if (!cal)
		return;
	coll_tz_free(&cal->tz);
	free(cal->marks);
	cal->marks = NULL;
	cal->n_marks = 0;
}

bool coll_calendar_workday(const struct coll_calendar *cal, int32_t day)
{
	if (cal->always)
		return true;
	size_t lo = 0, hi = cal->n_marks;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cal->marks[mid].day < day)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < cal->n_marks && cal->marks[lo].day == day)
		return cal->marks[lo].work;
	int wd = (int)(((int64_t)day % 7 + 7 + 3) % 7); /* 1970-01-01 was a Thursday */
	return cal->weekdays & (1u << wd);
}

int32_t coll_tz_day(const struct coll_tz *tz, int64_t t)
{
	return (int32_t)floor_div(t + coll_tz_offset(tz, t), DAY);
}

static int32_t local_day(const struct coll_calendar *cal, int64_t t)
{
	return coll_tz_day(&cal->tz, t);
}

int64_t coll_tz_to_utc(const struct coll_tz *tz, int64_t local)
{
	int64_t u = local - coll_tz_offset(tz, local);
	return local - coll_tz_offset(tz, u);
}

static void day_span(const struct coll_calendar *cal, int32_t day, int64_t *o, int64_t *c)
{
	*o = coll_tz_to_utc(&cal->tz, (int64_t)day * DAY + cal->open_s);
	*c = coll_tz_to_utc(&cal->tz, (int64_t)day * DAY + cal->close_s);
}

int64_t coll_calendar_next_open(const struct coll_calendar *cal, int64_t t)
{
	if (cal->always)
		return t;
	int32_t d = local_day(cal, t);
	for (int i = 0; i < MAX_SCAN_DAYS; i++, d++) {
		int64_t o, c;
		if (!coll_calendar_workday(cal, d))
			continue;
		day_span(cal, d, &o, &c);
		if (t < c)
			return t > o ? t : o;
	}
	return t;
}

int64_t coll_calendar_elapsed(const struct coll_calendar *cal, int64_t a, int64_t b)
{
	if (b <= a)
		return 0;
	if (cal->always)
		return b - a;
	int64_t sum = 0;
	int32_t d = local_day(cal, a), last = local_day(cal, b);
	for (; d <= last; d++) {
		int64_t o, c;
		if (!coll_calendar_workday(cal, d))
			continue;
		day_span(cal, d, &o, &c);
		int64_t from = a > o ? a : o, to = b < c ? b : c;
		if (to > from)
			sum += to - from;
	}
	return sum;
}

int64_t coll_calendar_add(const struct coll_calendar *cal, int64_t t, int64_t secs)
{
	if (cal->always)
		return t + secs;
	int32_t d = local_day(cal, t);
	int64_t left = secs;
	/* at most MAX_SCAN_DAYS closed days in a row, however long secs is */
	for (int closed = 0; closed < MAX_SCAN_DAYS; d++) {
		int64_t o, c;
		if (!coll_calendar_workday(cal, d)) {
			closed++;
			continue;
		}
		day_span(cal, d, &o, &c);
		int64_t from = t > o ? t : o;
		if (from >= c) {
			closed++;
			continue;
		}
		closed = 0;
		if (left <= c - from)
			return from + left;
		left -= c - from;
	}
	return t + secs;
}

int64_t coll_calendar_next_day_close(const struct coll_calendar *cal, int64_t t)
{
	if (cal->always)
		return t + DAY;
	int32_t d = local_day(cal, coll_calendar_next_open(cal, t)) + 1;
	for (int i = 0; i < MAX_SCAN_DAYS; i++, d++) {
		if (coll_calendar_workday(cal, d)) {
			int64_t o, c;
			day_span(cal, d, &o, &c);
			return c;
		}
	}
	return t + DAY;
}
