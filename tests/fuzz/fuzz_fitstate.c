/* libFuzzer target: the forecasts' fit state row as read from the store
 * (collector/analysis/fitstate.c, coll_fit_state_decode).
 * Input: a row without its checksum; the harness appends the right one, so
 * that the bounds checks behind it are what is fuzzed (a row whose checksum
 * does not match is refused first), and decodes a heap copy of exactly its
 * length so ASan catches any over-read.
 * Checked: an accepted row's entries and numbers lie inside the state's
 * buffers, every name is as long as its entry says with no NUL in it, the
 * counts are those of their types, and encoding it again gives the same
 * bytes. */
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/analysis/fitstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 20)
		return 0;
	unsigned char *row = malloc(size + crypto_shorthash_BYTES);
	if (!row)
		return 0;
	memcpy(row, data, size);
	size_t len = size + crypto_shorthash_BYTES;
	coll_fit_state_seal(row, len);
	struct coll_fit_state fs = {0};
	if (coll_fit_state_decode(row, len, &fs) == 0) {
		for (size_t i = 0; i < fs.n; i++) {
			const struct coll_fit_entry *e = &fs.e[i];
			if (e->name + e->name_len >= fs.names_len || e->num + e->n > fs.nums_len ||
			    strlen(fs.names + e->name) != e->name_len)
				abort();
			size_t want = e->type == COLL_FIT_LINEAR     ? COLL_FIT_L_COUNT
				      : e->type == COLL_FIT_SECURITY ? COLL_FIT_U_COUNT
				      : e->type == COLL_FIT_SPIKE    ? e->n
								     : 0;
			if (e->n != want || (e->type == COLL_FIT_SPIKE && e->n % COLL_FIT_S_COUNT))
				abort();
		}
		unsigned char *again;
		size_t again_len;
		if (coll_fit_state_encode(&fs, &again, &again_len) == 0) {
			if (again_len != len || memcmp(again, row, len) != 0)
				abort();
			free(again);
		}
	}
	coll_fit_state_free(&fs);
	free(row);
	return 0;
}
