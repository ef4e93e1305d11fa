/* libFuzzer target: the history API's outside input (collector/http/
 * api_series.c): the URL matcher (coll_series_url) and the query arguments
 * (coll_series_args: names, from, to, step), and the CLI's display width
 * (ep_text_width) over the same bytes.
 * Input: up to four NUL-separated fields, names, from, to, step (a missing
 * field is an absent argument); the whole input is also tried as a URL.
 * Checked: an accepted query has from < to at most 400 days apart, a step
 * of at least 60 s that makes at most 1000 points, at most 32 names, each
 * non-empty, without a comma, inside the query's own buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	(void)coll_series_url(text);
	(void)ep_text_width(text);

	const char *field[4] = {NULL, NULL, NULL, NULL};
	char *p = text;
	for (size_t i = 0; i < 4 && p <= text + size; i++) {
		field[i] = p;
		p += strlen(p) + 1;
	}
	struct coll_series_args *a = malloc(sizeof(*a));
	const char *why = NULL;
	if (a &&
	    coll_series_args(field[0], field[1], field[2], field[3], 1700000000, a, &why) == 0) {
		const struct coll_series_query *q = &a->q;
		if (q->from >= q->to || q->to - q->from > COLL_SERIES_MAX_SPAN || q->step < 60 ||
		    (q->to - q->from) / q->step > COLL_SERIES_MAX_POINTS ||
		    q->n_names > COLL_SERIES_MAX_NAMES)
			abort();
		for (size_t i = 0; i < q->n_names; i++) {
			const char *n = q->names[i];
			if (n < a->buf || n >= a->buf + sizeof(a->buf) || !*n || strchr(n, ','))
				abort();
		}
	} else if (a && !why)
		abort(); /* a refusal always says why */
	free(a);
	free(text);
	return 0;
}
