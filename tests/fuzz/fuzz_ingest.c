/* libFuzzer target for the collector's ingest checks (collector/ingest.c):
 * signature verification over the raw body, then the strict parse and
 * schema validation, then the agent_id comparison.
 * Input: first byte selects the mode.
 *   even: the rest is a body the harness signs with its own key, so every
 *         input reaches the parser and the schema check;
 *   odd:  the next 88 bytes are taken as the signature header (base64 text,
 *         possibly garbage) and the rest as the body: the verify path. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/ingest.h"
#include "erpulse/crypto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ep_keypair kp;
static int ready;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char sig_b64[EP_SIGNATURE_B64_SIZE + 8], err[512];
	json_t *report = NULL;
	int64_t seq = 0;
	if (!ready) {
		ep_crypto_init();
		ep_key_generate(&kp);
		ready = 1;
	}
	if (size < 1)
		return 0;
	const char *body;
	size_t len;
	if ((data[0] & 1) == 0) {
		unsigned char sig[EP_SIGNATURE_BYTES];
		body = (const char *)data + 1;
		len = size - 1;
		ep_sign(&kp, body, len, sig);
		ep_base64_encode(sig, sizeof(sig), sig_b64, sizeof(sig_b64));
	} else {
		size_t n = size - 1 < 88 ? size - 1 : 88;
		memcpy(sig_b64, data + 1, n);
		sig_b64[n] = '\0';
		body = (const char *)data + 1 + n;
		len = size - 1 - n;
	}
	/* a heap copy of exactly len bytes, so ASan sees any over-read */
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return 0;
	memcpy(copy, body, len);
	enum coll_check c =
		coll_ingest_check(kp.public_key, "0123456789abcdef0123456789abcdef", sig_b64, copy,
				  len, 1024 * 1024, &report, &seq, err, sizeof(err));
	if (c == COLL_CHECK_OK) {
		if (!report || seq < 1)
			abort();
		json_decref(report);
	}
	free(copy);
	return 0;
}
