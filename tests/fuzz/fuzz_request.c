/* libFuzzer target: the collector's parsing of what a client sends besides
 * the report body (that one is fuzz_ingest), through the public functions
 * collector/server.c calls on it:
 *   - the enrollment body: the strict JSON parse with the 64 KiB cap, then
 *     the public_key string base64-decoded into a 32-byte key buffer with 4
 *     bytes of slack, exactly as handle_enroll does;
 *   - the request path: the dashboard's pages (coll_dashboard_asset) and the
 *     agent id of /api/v1/hosts/ID (coll_agent_id_valid);
 *   - the query values ?limit= and ?offset= (ep_parse_int64 with the read
 *     API's ranges) and the bearer token's hash (ep_hash_secret).
 * Input: the first line is the path / query value / token, the rest the
 * body; each is a heap copy (the body of exactly its length, no NUL) so
 * ASan catches over-reads.
 * Checked against independent reference checks: a path is a page exactly
 * when it is "/", "/index.html" or "/hosts/<1..64 lower-case hex>"; numbers
 * parse exactly when they are [+-]digits within range, to the same value;
 * decoded base64 is canonical (re-encodes to the same text) and never
 * longer than its buffer; a token hash is 64 lower-case hex digits. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/web/dashboard.h"
#include "collector/ingest.h"
#include "erpulse/crypto.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ENROLL_MAX_BODY (64 * 1024) /* collector/server.c */

static bool ref_id(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool ref_page(const char *url)
{
	if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0)
		return true;
	/* the page's other files: uPlot and the two catalogs, nothing else */
	if (strcmp(url, "/" COLL_DASHBOARD_UPLOT) == 0 || strcmp(url, "/i18n/en.json") == 0 ||
	    strcmp(url, "/i18n/zh-CN.json") == 0)
		return true;
	return strncmp(url, "/hosts/", 7) == 0 && ref_id(url + 7);
}

/* [+-]digits, no overflow, within [min, max]: the value, else false */
static bool ref_int(const char *s, int64_t min, int64_t max, int64_t *ret)
{
	bool neg = *s == '-';
	if (*s == '-' || *s == '+')
		s++;
	if (!*s)
		return false;
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		if (v > (UINT64_C(1) << 63) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > (UINT64_C(1) << 63))
			return false;
	}
	if (!neg && v > (uint64_t)INT64_MAX)
		return false;
	int64_t x = neg ? (v == (UINT64_C(1) << 63) ? INT64_MIN : -(int64_t)v) : (int64_t)v;
	if (x < min || x > max)
		return false;
	*ret = x;
	return true;
}

static void check_int(const char *s, int64_t min, int64_t max)
{
	int64_t got = 0, want = 0;
	bool ok = ep_parse_int64(s, min, max, &got) == 0;
	if (ok != ref_int(s, min, max, &want) || (ok && got != want))
		abort();
}

static void check_base64(const char *s, size_t n)
{
	unsigned char key[EP_PUBLIC_KEY_BYTES + 4];
	size_t key_len = 0;
	if (ep_base64_decode(s, n, key, sizeof(key), &key_len) < 0)
		return;
	if (key_len > sizeof(key))
		abort();
	char again[64];
	if (ep_base64_encode(key, key_len, again, sizeof(again)) < 0 || strlen(again) != n ||
	    memcmp(again, s, n) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t l1 = nl ? (size_t)(nl - data) : size;
	size_t blen = nl ? size - l1 - 1 : 0;
	char *line = malloc(l1 + 1), *body = malloc(blen ? blen : 1);
	if (!line || !body)
		abort();
	memcpy(line, data, l1);
	line[l1] = '\0';
	if (blen)
		memcpy(body, nl + 1, blen);

	/* the path */
	const char *page = NULL, *type = NULL;
	size_t page_len = 0;
	bool is_page = coll_dashboard_asset(line, &page, &page_len, &type) == 0;
	if (is_page != ref_page(line) || (is_page && (!page || !page_len || !type)))
		abort();
	if (strncmp(line, "/api/v1/hosts/", 14) == 0 &&
	    coll_agent_id_valid(line + 14) != ref_id(line + 14))
		abort();
	if (coll_agent_id_valid(line) != ref_id(line))
		abort();

	/* ?limit= and ?offset= */
	check_int(line, 1, 100000);
	check_int(line, 0, INT64_MAX / 2);

	/* Authorization: Bearer TOKEN */
	char hash[65];
	memset(hash, 'X', sizeof(hash));
	ep_hash_secret(line, hash);
	if (hash[64] != '\0' || !ref_id(hash) || strlen(hash) != 64)
		abort();

	/* the enrollment body */
	json_t *j = NULL;
	char err[256];
	if (ep_json_parse_strict(body, blen, ENROLL_MAX_BODY, &j, err, sizeof(err)) == 0) {
		const char *pk = json_string_value(json_object_get(j, "public_key"));
		if (pk)
			check_base64(pk, strlen(pk));
		json_decref(j);
	}
	/* the first line as a public key too (mutations reach it faster) */
	check_base64(line, l1 < 60 ? strlen(line) : 0);
	free(line);
	free(body);
	return 0;
}
