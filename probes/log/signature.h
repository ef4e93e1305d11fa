/* Error signatures and safe sample lines for the log and journal probes.
 * Pure functions over bytes: no allocation, bounded output, safe on binary
 * garbage and invalid UTF-8 (tests/fuzz/fuzz_logsig.c). */
#ifndef PROBE_LOG_SIGNATURE_H
#define PROBE_LOG_SIGNATURE_H

#include <stddef.h>

#define PROBE_LOG_SIGNATURE_MAX 256 /* bytes of a signature, NUL included */
#define PROBE_LOG_SAMPLE_MAX    512 /* bytes of a sample line, NUL included */

/* Writes the signature of a message into out (outsize >= 16): numbers, hex,
 * UUIDs, IPv4/IPv6 addresses, paths and quoted values are masked (<n>, <hex>,
 * <uuid>, <ip>, <path>, "<v>"), whitespace runs collapse, control bytes and
 * invalid UTF-8 become '?'. Always NUL-terminated valid UTF-8. Returns the
 * length written. */
size_t probe_log_signature(const char *msg, size_t len, char *out, size_t outsize);

/* Writes a sample of line into out (outsize >= 16): secrets masked
 * (password=/token=/secret=/api_key=... values, Authorization: headers,
 * Bearer tokens, user:pass@ in URLs, AWS-style access keys, long random
 * tokens), control bytes and invalid UTF-8 replaced by '?', cut at a UTF-8
 * boundary with "..." when longer than outsize. Returns the length written. */
size_t probe_log_sample(const char *line, size_t len, char *out, size_t outsize);

#define PROBE_LOG_EXCEPTION_MAX 96 /* bytes of an exception type, NUL included */

/* The exception type a Python traceback's last line starts with:
 * "psycopg2.errors.UniqueViolation: duplicate key ..." ->
 * "psycopg2.errors.UniqueViolation", "KeyError: 'x'" -> "KeyError",
 * "StopIteration" -> itself. A dotted name of ASCII identifiers at the
 * line's start, then ':' or the line's end; its length (less than
 * PROBE_LOG_EXCEPTION_MAX), or 0 when the line is not one. */
size_t probe_log_exception_type(const char *line, size_t len);

/* Writes "[TYPE] " and then sig (a signature, valid UTF-8, siglen bytes)
 * into out (outsize >= 16), cut at a UTF-8 boundary when longer; without a
 * type, sig alone. Returns the length written. */
size_t probe_log_signature_typed(const char *type, size_t tlen, const char *sig, size_t siglen,
				 char *out, size_t outsize);

/* ---- top signatures --------------------------------------------------- */
#include <stdint.h>

#define PROBE_LOG_SIGTAB_SLOTS 1024 /* power of two */
#define PROBE_LOG_SIGTAB_MAX   700  /* distinct signatures kept per cycle */

struct probe_log_sig {
	uint64_t hash;
	uint64_t count;
	char signature[PROBE_LOG_SIGNATURE_MAX];
	char sample[PROBE_LOG_SAMPLE_MAX];
};

/* Counts of error signatures; the first line seen of each is its sample.
 * Signatures past PROBE_LOG_SIGTAB_MAX distinct ones count in `other`. */
#define PROBE_LOG_SIGTAB_RECENT 256 /* power of two */

struct probe_log_sigtab {
	size_t n;
	uint64_t other;
	struct probe_log_sig *slots; /* PROBE_LOG_SIGTAB_SLOTS, NULL until first add */
	/* exact messages seen recently (64-bit hash of the raw bytes -> slot + 1):
	 * a repeated message skips the masking */
	uint64_t recent_hash[PROBE_LOG_SIGTAB_RECENT];
	uint32_t recent_slot[PROBE_LOG_SIGTAB_RECENT];
};

/* Counts one error: msg is signed, line is the sample source. 0 or -ENOMEM. */
int probe_log_sigtab_add(struct probe_log_sigtab *t, const char *msg, size_t msglen,
			 const char *line, size_t linelen);
/* Counts one error whose signature (sig, n bytes, NUL-terminated) and
 * sample are already made. 0 or -ENOMEM. */
int probe_log_sigtab_add_signed(struct probe_log_sigtab *t, const char *sig, size_t n,
				const char *sample);
/* Up to max entries with the highest counts (ties by signature), as pointers
 * into t; returns how many. */
size_t probe_log_sigtab_top(const struct probe_log_sigtab *t, const struct probe_log_sig **ret,
			    size_t max);
void probe_log_sigtab_free(struct probe_log_sigtab *t);
#endif
