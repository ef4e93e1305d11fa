/* Service calendars: when an SLA clock runs (docs/incidents.md, "Clocks").
 * A calendar is either 7x24 or business hours: working weekdays, one opening
 * span per day (local time), a time zone and a holiday file. Holidays are
 * dates on which the clock stops; "YYYY-MM-DD work" lines add working days
 * (the make-up Saturdays of Chinese public holidays).
 * Times are epoch seconds (UTC). Pure functions: no clock is read here. */
#ifndef COLL_SERVICE_CALENDAR_H
#define COLL_SERVICE_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A time zone: a fixed offset ("UTC", "+08:00", "UTC+8") or the transitions
 * of an IANA zone read from a TZif file ("Asia/Shanghai"). Past the last
 * transition of the file the last offset holds (TZif files list explicit
 * transitions to 2037). */
struct coll_tz {
	char name[64];
	size_t n;     /* transitions */
	int64_t *at;  /* ascending transition times */
	int32_t *off; /* offset (seconds east of UTC) from at[i] on */
	int32_t off0; /* before the first transition, or the fixed offset */
};

#define COLL_TZIF_MAX_BYTES (1024 * 1024)
#define COLL_ZONEINFO       "/usr/share/zoneinfo"

/* name -> *ret. Fixed offsets parse directly; other names are read from
 * zoneinfo/name (zoneinfo NULL = COLL_ZONEINFO). 0, -EINVAL (bad name or
 * file; err says which) or -errno. */
int coll_tz_load(const char *name, const char *zoneinfo, struct coll_tz *ret, char *err,
		 size_t errlen);
/* Parses TZif data (versions 1-4; the 64-bit block when present). 0 or
 * -EINVAL. The name is left empty. */
int coll_tz_parse_tzif(const void *data, size_t len, struct coll_tz *ret);
void coll_tz_free(struct coll_tz *tz);
/* UTC offset in effect at t. */
int32_t coll_tz_offset(const struct coll_tz *tz, int64_t t);
/* Local wall time (seconds since 1970-01-01 00:00 local) -> epoch seconds.
 * In a gap or overlap of a DST change, one of the candidates. */
int64_t coll_tz_to_utc(const struct coll_tz *tz, int64_t local);
/* Local date (days since 1970-01-01) of epoch seconds t. */
int32_t coll_tz_day(const struct coll_tz *tz, int64_t t);

struct coll_day_mark {
	int32_t day; /* local date: days since 1970-01-01 */
	bool work;   /* true: a working day even if its weekday is not */
};

struct coll_calendar {
	bool always; /* 7x24: every second counts */
	struct coll_tz tz;
	uint8_t weekdays; /* bit 0 = Monday ... bit 6 = Sunday */
	int32_t open_s;   /* opening, seconds after local midnight */
	int32_t close_s;  /* closing, open_s < close_s <= 86400 */
	size_t n_marks;
	struct coll_day_mark *marks; /* sorted by day */
};

/* Business hours text "Mon-Fri 09:00-18:00" (days: Mon..Sun, ranges or
 * comma lists). 0 or -EINVAL. */
int coll_calendar_parse_hours(const char *text, struct coll_calendar *cal);
/* Holiday file text: one "YYYY-MM-DD" (holiday) or "YYYY-MM-DD work" line
 * each, '#' comments and blank lines allowed. Replaces cal's marks. 0,
 * -EINVAL with err as "name:line: what is wrong", -ENOMEM. */
int coll_calendar_parse_holidays(struct coll_calendar *cal, const char *text, size_t len,
				 const char *name, char *err, size_t errlen);
void coll_calendar_free(struct coll_calendar *cal);

/* "YYYY-MM-DD" -> days since 1970-01-01. 0 or -EINVAL. */
int coll_date_parse(const char *s, int32_t *ret_day);
/* Days since 1970-01-01 -> year, month (1-12), day (1-31). */
void coll_date_civil(int32_t day, int *ret_y, int *ret_m, int *ret_d);
/* days since epoch of y-m-d (proleptic Gregorian). */
int32_t coll_date_days(int y, int m, int d);

/* Is local date `day` a working day? (always true for 7x24) */
bool coll_calendar_workday(const struct coll_calendar *cal, int32_t day);
/* First instant >= t at which the clock runs. */
int64_t coll_calendar_next_open(const struct coll_calendar *cal, int64_t t);
/* Clock seconds in [a, b) (0 when b <= a). */
int64_t coll_calendar_elapsed(const struct coll_calendar *cal, int64_t a, int64_t b);
/* The instant at which secs clock seconds have run from t (secs >= 0;
 * t itself when secs == 0 and the clock runs at t). */
int64_t coll_calendar_add(const struct coll_calendar *cal, int64_t t, int64_t secs);
/* Closing time of the working day after the one on which the clock runs
 * from t ("next business day"). For 7x24: t + 24 h. */
int64_t coll_calendar_next_day_close(const struct coll_calendar *cal, int64_t t);

#endif
