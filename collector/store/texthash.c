/* coll_text_hash (store.h): what ingest keeps beside a stored text (the
 * findings, the score explanation, the forecasts, the instance state) to
 * write it only when it changed. */
#include <sodium.h>
#include <string.h>

#include "collector/store/store.h"

int64_t coll_text_hash(const char *text)
{
	/* a fixed key: the hash tells texts apart, it authenticates nothing (an
	 * agent that forged a collision would only keep its own stored text) */
	static const unsigned char key[crypto_shorthash_KEYBYTES] = {
		'e', 'r', 'p', 'u', 'l', 's', 'e', '-', 't', 'e', 'x', 't', 'h', 'a', 's', 'h'};
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t h;

	crypto_shorthash(out, (const unsigned char *)text, text ? strlen(text) : 0, key);
	memcpy(&h, out, sizeof(h));
	return h ? (int64_t)h : 1; /* 0 means "none stored" */
}
