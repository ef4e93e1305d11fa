/* libFuzzer target: the keyset cursor (collector/store/paging.c), the one
 * list argument a client passes back opaque: coll_cursor_decode over any
 * text, and coll_like_pattern (the q filter) over the same bytes.
 * Checked: an accepted cursor has 2..COLL_CURSOR_KEYS values, a 16-digit
 * fingerprint, and encodes back to the very text it came from; a LIKE
 * pattern starts and ends with '%' and fits its buffer. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/paging.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct coll_cursor *c = malloc(sizeof(*c));
	char *again = malloc(COLL_CURSOR_MAX);
	char like[64];
	if (!text || !c || !again)
		goto out;
	memcpy(text, data, size);
	text[size] = '\0';
	if (coll_cursor_decode(text, c) == 0) {
		if (c->n < 2 || c->n > COLL_CURSOR_KEYS || strlen(c->fp) != 16)
			abort();
		if (coll_cursor_encode(c, again, COLL_CURSOR_MAX) != 0 || strcmp(again, text) != 0)
			abort();
	}
	coll_like_pattern(text, like, sizeof(like));
	size_t n = strlen(like);
	if (n < 2 || n >= sizeof(like) || like[0] != '%' || like[n - 1] != '%')
		abort();
out:
	free(again);
	free(c);
	free(text);
	return 0;
}
