/* libFuzzer target for collector/service/calendar.c: any bytes as a TZif
 * file (coll_tz_parse_tzif), as a holiday file and as a business-hours text.
 * Besides the sanitizers it checks the contract: a parsed zone has ascending
 * transitions and sane offsets; parsed holidays are sorted and unique; the
 * clock arithmetic over the result is monotonic. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/service/calendar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct coll_calendar cal = {0};
	char err[256];
	if (coll_tz_parse_tzif(data, size, &cal.tz) == 0) {
		for (size_t i = 1; i < cal.tz.n; i++)
			if (cal.tz.at[i] <= cal.tz.at[i - 1])
				abort();
		for (size_t i = 0; i < cal.tz.n; i++)
			if (cal.tz.off[i] < -25 * 3600 || cal.tz.off[i] > 26 * 3600)
				abort();
	}
	char text[128];
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
	memcpy(text, data, n);
	text[n] = '\0';
	if (coll_calendar_parse_hours(text, &cal) < 0)
		coll_calendar_parse_hours("Mon-Fri 09:00-18:00", &cal);
	if (coll_calendar_parse_holidays(&cal, (const char *)data, size, "fuzz", err,
					 sizeof(err)) == 0) {
		for (size_t i = 1; i < cal.n_marks; i++)
			if (cal.marks[i].day <= cal.marks[i - 1].day)
				abort();
	}
	int64_t t = 1764547200; /* 2025-12-01 */
	int64_t a = coll_calendar_add(&cal, t, 8 * 3600), b = coll_calendar_next_open(&cal, t);
	if (a < b || coll_calendar_elapsed(&cal, t, a) > 8 * 3600)
		abort();
	coll_calendar_free(&cal);
	return 0;
}
