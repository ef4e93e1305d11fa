/* Signatures that chat robots require from the sender (docs/incidents.md,
 * "Channels"). Both use HMAC-SHA256 (libsodium) and standard padded base64;
 * they differ in what is the key, what is the message and the clock unit:
 *  - DingTalk: key = secret, message = "<timestamp ms>\n<secret>"; the
 *    timestamp and the URL-encoded signature are appended to the webhook URL
 *    as &timestamp=...&sign=... (DingTalk refuses a timestamp an hour off).
 *  - Feishu: key = "<timestamp s>\n<secret>", message = empty; "timestamp"
 *    (a string) and "sign" go into the JSON body next to msg_type.
 * Nothing here logs or allocates except where said. */
#ifndef COLL_NOTIFY_SIGN_H
#define COLL_NOTIFY_SIGN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* base64 of a 32-byte MAC plus NUL */
#define COLL_SIGN_B64_SIZE 45

/* DingTalk's sign (plain base64, not URL-encoded) for timestamp_ms. */
void coll_dingtalk_sign(const char *secret, int64_t timestamp_ms, char ret[COLL_SIGN_B64_SIZE]);
/* url + "&timestamp=<ms>&sign=<url-encoded sign>" ('?' when url has no query).
 * malloc'd, NULL when out of memory. */
char *coll_dingtalk_signed_url(const char *url, const char *secret, int64_t timestamp_ms);

/* Feishu's sign for timestamp_s (seconds). */
void coll_feishu_sign(const char *secret, int64_t timestamp_s, char ret[COLL_SIGN_B64_SIZE]);
/* Sets "timestamp" (decimal string) and "sign" in the body object.
 * 0 or -ENOMEM. */
int coll_feishu_sign_body(json_t *body, const char *secret, int64_t timestamp_s);
/* Same on a rendered JSON text: parses, signs, re-serialises compact.
 * malloc'd text, NULL on ENOMEM or when body is not a JSON object. */
char *coll_feishu_signed_text(const char *body, const char *secret, int64_t timestamp_s);

/* Percent-encodes s as application/x-www-form-urlencoded would (RFC 3986
 * unreserved characters kept, everything else %XX) into out. 0 or -ENOSPC. */
int coll_url_encode(const char *s, char *out, size_t outsize);

#endif
