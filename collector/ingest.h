/* The checks a report passes before it may be stored (docs/protocol.md,
 * "Reports"): signature over the raw body, then strict parse and schema,
 * then the body's agent_id against the header. Pure: no store, no I/O, so
 * the fuzz target (tests/fuzz/fuzz_ingest.c) runs exactly this. */
#ifndef COLL_INGEST_H
#define COLL_INGEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "erpulse/crypto.h"

enum coll_check {
	COLL_CHECK_OK,
	COLL_CHECK_UNAUTHORIZED, /* 401: no or bad signature */
	COLL_CHECK_BAD_REQUEST,  /* 400: not JSON, schema, agent_id mismatch */
	COLL_CHECK_TOO_LARGE,    /* 413 */
};

/* True when id looks like an agent id (1..64 lower-case hex digits). */
bool coll_agent_id_valid(const char *id);

/* Verifies sig_b64 (base64 of a 64-byte Ed25519 signature) over body with
 * public_key, then parses and validates the report and compares its agent_id
 * to agent_id. On COLL_CHECK_OK *ret_report is the caller's and *ret_seq the
 * report's seq; otherwise err says why (never echoing secrets). */
enum coll_check coll_ingest_check(const unsigned char public_key[EP_PUBLIC_KEY_BYTES],
				  const char *agent_id, const char *sig_b64, const char *body,
				  size_t len, size_t max_bytes, json_t **ret_report,
				  int64_t *ret_seq, char *err, size_t errlen);

#endif
