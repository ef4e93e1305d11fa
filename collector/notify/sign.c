/* DingTalk and Feishu robot signatures (sign.h). */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/notify/sign.h"
#include "erpulse/crypto.h"

static void hmac_b64(const void *key, size_t keylen, const void *msg, size_t msglen,
		     char ret[COLL_SIGN_B64_SIZE])
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, msg, msglen);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
	/* 32 bytes always fit COLL_SIGN_B64_SIZE */
	ep_base64_encode(mac, sizeof(mac), ret, COLL_SIGN_B64_SIZE);
}

/* HMAC-SHA256 with "<ts>\n<secret>" as the message under the secret
 * (DingTalk) or as the key over an empty message (Feishu). */
static void robot_sign(const char *secret, int64_t ts, bool text_is_key,
		       char ret[COLL_SIGN_B64_SIZE])
{
	size_t sl = strlen(secret), cap = 24 + sl;
	char *text = malloc(cap);
	ret[0] = '\0';
	if (!text)
		return;
	size_t len = (size_t)snprintf(text, cap, "%" PRId64 "\n%s", ts, secret);
	if (text_is_key)
		hmac_b64(text, len, "", 0, ret);
	else
		hmac_b64(secret, sl, text, len, ret);
	sodium_memzero(text, len);
	free(text);
}

void coll_dingtalk_sign(const char *secret, int64_t timestamp_ms, char ret[COLL_SIGN_B64_SIZE])
{
	robot_sign(secret, timestamp_ms, false, ret);
}

void coll_feishu_sign(const char *secret, int64_t timestamp_s, char ret[COLL_SIGN_B64_SIZE])
{
	robot_sign(secret, timestamp_s, true, ret);
}

int coll_url_encode(const char *s, char *out, size_t outsize)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		bool keep = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' ||
			    *p == '~';
		if (o + (keep ? 1 : 3) >= outsize) {
			if (outsize)
				out[0] = '\0';
			return -ENOSPC;
		}
		if (keep) {
			out[o++] = (char)*p;
		} else {
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

char *coll_dingtalk_signed_url(const char *url, const char *secret, int64_t timestamp_ms)
{
	char sign[COLL_SIGN_B64_SIZE], enc[3 * COLL_SIGN_B64_SIZE];
	coll_dingtalk_sign(secret, timestamp_ms, sign);
	if (!sign[0] || coll_url_encode(sign, enc, sizeof(enc)) < 0)
		return NULL;
	size_t len = strlen(url) + 64 + strlen(enc);
	char *out = malloc(len);
	if (!out)
		return NULL;
	snprintf(out, len, "%s%ctimestamp=%" PRId64 "&sign=%s", url, strchr(url, '?') ? '&' : '?',
		 timestamp_ms, enc);
	return out;
}

int coll_feishu_sign_body(json_t *body, const char *secret, int64_t timestamp_s)
{
	char sign[COLL_SIGN_B64_SIZE], ts[24];
	coll_feishu_sign(secret, timestamp_s, sign);
	if (!sign[0])
		return -ENOMEM;
	snprintf(ts, sizeof(ts), "%" PRId64, timestamp_s);
	if (json_object_set_new(body, "timestamp", json_string(ts)) < 0 ||
	    json_object_set_new(body, "sign", json_string(sign)) < 0)
		return -ENOMEM;
	return 0;
}

char *coll_feishu_signed_text(const char *body, const char *secret, int64_t timestamp_s)
{
	json_t *o = json_loads(body, 0, NULL);
	char *out = NULL;
	if (json_is_object(o) && coll_feishu_sign_body(o, secret, timestamp_s) == 0)
		out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return out;
}
