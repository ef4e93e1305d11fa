/* libFuzzer target: the signature masker and the secret-masking sampler
 * (probes/log/signature.c) on arbitrary bytes. Checks: bounded, NUL-
 * terminated, valid UTF-8 output; masking is stable (a signature signs to
 * itself); a secret value after password= never survives into a sample;
 * an exception type is an ASCII dotted name, and "[TYPE] signature" stays
 * bounded valid UTF-8. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "erpulse/util.h"
#include "probes/log/signature.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char sig[PROBE_LOG_SIGNATURE_MAX], again[PROBE_LOG_SIGNATURE_MAX];
	char sample[PROBE_LOG_SAMPLE_MAX];
	char small[16];
	const char *in = (const char *)data;

	size_t n = probe_log_signature(in, size, sig, sizeof(sig));
	if (n >= sizeof(sig) || sig[n] != '\0' || strlen(sig) != n || !ep_utf8_valid(sig, n))
		abort();
	size_t m = probe_log_signature(sig, n, again, sizeof(again));
	if (m >= sizeof(again) || !ep_utf8_valid(again, m))
		abort();
	n = probe_log_sample(in, size, sample, sizeof(sample));
	if (n >= sizeof(sample) || sample[n] != '\0' || strlen(sample) != n ||
	    !ep_utf8_valid(sample, n))
		abort();
	n = probe_log_sample(in, size, small, sizeof(small));
	if (n >= sizeof(small) || !ep_utf8_valid(small, n))
		abort();
	n = probe_log_signature(in, size, small, sizeof(small));
	if (n >= sizeof(small) || !ep_utf8_valid(small, n))
		abort();

	size_t tl = probe_log_exception_type(in, size);
	if (tl >= PROBE_LOG_EXCEPTION_MAX ||
	    (tl && (!memchr("abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ_",
			    in[0], 52) ||
		    (tl < size && in[tl] != ':' && in[tl] != '\r'))))
		abort();
	for (size_t i = 0; i < tl; i++)
		if ((unsigned char)in[i] >= 0x80 || in[i] == ' ')
			abort();
	char typed[PROBE_LOG_SIGNATURE_MAX];
	n = probe_log_signature(in, size, sig, sizeof(sig));
	m = probe_log_signature_typed(in, tl, sig, n, typed, sizeof(typed));
	if (m >= sizeof(typed) || typed[m] != '\0' || !ep_utf8_valid(typed, m))
		abort();
	m = probe_log_signature_typed(in, tl, sig, n, small, sizeof(small));
	if (m >= sizeof(small) || !ep_utf8_valid(small, m))
		abort();

	/* "password=" + a token we put there: it must be masked */
	char line[512];
	size_t k = size < 200 ? size : 200;
	memcpy(line, "x password=Zq9Zq9Zq9 ", 21);
	memcpy(line + 21, data, k);
	probe_log_sample(line, 21 + k, sample, sizeof(sample));
	if (strstr(sample, "Zq9Zq9Zq9") && !memmem(data, size, "Zq9", 3))
		abort();
	return 0;
}
