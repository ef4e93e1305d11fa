/* The strict parse of outside bytes (report.h): ep_json_parse_strict and
 * ep_report_parse, the collector's (the agent builds and validates reports,
 * lib/report.c, and never parses one: it does not link yajl).
 *
 * Parsing is layered so that the parsers only ever see bytes already known
 * to be small, NUL-free, valid UTF-8 and shallow: the depth pre-scan is a
 * flat loop, so 100000 '[' cost no stack. */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "erpulse/report.h"
#include "erpulse/util.h"

/* ---- strict parsing ------------------------------------------------------------ */

/* A byte outside strings moves the nesting depth; false once it passes max. */
static inline bool nest_ok(unsigned char c, int *depth, int max)
{
	if (c == '[' || c == '{')
		return ++*depth <= max;
	if (c == ']' || c == '}')
		--*depth;
	return true;
}

/* Deepest nesting of arrays/objects, or the offset at which it first
 * exceeds max. Strings are skipped with their escapes, exactly as a JSON
 * lexer does, so brackets inside strings do not count. */
static bool depth_ok(const char *data, size_t len, int max, size_t *ret_offset)
{
	int depth = 0;
	bool in_str = false;

	for (size_t i = 0; i < len; i++) {
		char c = data[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
			continue;
		}
		if (c == '"') {
			in_str = true;
		} else if (!nest_ok((unsigned char)c, &depth, max)) {
			*ret_offset = i;
			return false;
		}
	}
	return true;
}

/* True when none of the eight bytes at s is a control byte (NUL included),
 * '"', '\\' or above 0x7F (each of those sets its byte's high bit below). */
static inline bool plain8(const unsigned char *s)
{
	const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
	uint64_t x, q, bs;
	memcpy(&x, s, 8);
	q = x ^ (ones * '"');
	bs = x ^ (ones * '\\');
	return !((x | ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & highs);
}

/* One pass over the bytes that tells whether the body passes all three
 * scans above it in ep_json_parse_strict (no NUL, valid UTF-8, nesting
 * within max) without saying where one fails: the accept path reads the
 * bytes once, and a body that fails runs the scans one by one for the
 * message. *ret_longest is the most raw bytes between a string's quotes:
 * escapes only shorten a string, so no decoded string is longer.
 * *ret_plain: no \u escape, no control byte in a string, none but tab,
 * newline and carriage return outside one and nothing above 0x7F outside
 * one: what yajl's parse may take (fast_parse). */
static bool scan_ok(const char *data, size_t len, int max, size_t *ret_longest, bool *ret_plain)
{
	/* what ends a run of plain string text (and a control byte) */
	static const bool str_stop[0x80] = {[0] = true, ['"'] = true, ['\\'] = true};
	const unsigned char *p = (const unsigned char *)data;
	size_t longest = 0, start = 0;
	int depth = 0;
	bool in_str = false, plain = true;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (c >= 0x80) { /* one character, its length from its first byte */
			size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
			if (n > len - i || !ep_utf8_valid(data + i, n))
				return false;
			plain = plain && in_str;
			i += n - 1;
			continue;
		}
		if (c == 0)
			return false;
		if (in_str) {
			/* most of a body is string text: skip it eight bytes at a
			 * time, then byte by byte */
			while (len - i > 8 && c >= 0x20 && !str_stop[c] && plain8(p + i + 1)) {
				i += 8;
				c = p[i];
			}
			while (c >= 0x20 && c < 0x80 && !str_stop[c] && i + 1 < len)
				c = p[++i];
			if (c >= 0x80 || c == 0) {
				i--;
				continue; /* checked at the top */
			}
			if (c == '\\') {
				/* the escaped byte is skipped, as depth_ok does; one that
				 * is not plain ASCII goes the slow way */
				if (++i < len && (p[i] == 0 || p[i] >= 0x80))
					return false;
				plain = plain && i < len && p[i] != 'u';
			} else if (c == '"') {
				in_str = false;
				if (i - start > longest)
					longest = i - start;
			} else if (c < 0x20) {
				plain = false; /* jansson refuses it, and says where */
			}
			continue;
		}
		if (c == '"') {
			in_str = true;
			start = i + 1;
		} else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
			plain = false; /* yajl takes form feed and vertical tab for space */
		} else if (!nest_ok(c, &depth, max)) {
			return false;
		}
	}
	*ret_longest = in_str ? len : longest;
	*ret_plain = plain && !in_str;
	return true;
}

/* Appends ".key" or "[i]" to a path being built in buf. */
static void path_push_key(char *buf, size_t size, size_t at, const char *key)
{
	if (at >= size)
		return;
	/* a truncated path is still a useful path */
	(void)ep_snprintf(buf + at, size - at, "%s%s", at > 0 ? "." : "", key);
}

static void path_push_index(char *buf, size_t size, size_t at, size_t i)
{
	if (at >= size)
		return;
	(void)ep_snprintf(buf + at, size - at, "[%zu]", i);
}

/* True when every key and string in v is within the length cap. The common
 * case builds no path: a report has thousands of nodes and all of them pass
 * (depth is already bounded, so recursion is shallow). */
static bool strings_ok(const json_t *v)
{
	if (json_is_string(v))
		return json_string_length(v) <= EP_REPORT_MAX_STRING;
	if (json_is_array(v)) {
		size_t i;
		json_t *e;

		json_array_foreach(v, i, e)
		{
			if (!strings_ok(e))
				return false;
		}
	} else if (json_is_object(v)) {
		const char *k;
		json_t *e;

		json_object_foreach((json_t *)(uintptr_t)v, k, e)
		{
			if (strlen(k) > EP_REPORT_MAX_STRING || !strings_ok(e))
				return false;
		}
	}
	return true;
}

/* The error path of strings_ok: walks v again in the same order, building the
 * JSON path in path, and says where the first string or key over the cap is. */
static int check_strings(const json_t *v, char *path, size_t psize, char *err, size_t errlen)
{
	size_t at = strlen(path);
	int r = 0;

	if (json_is_string(v)) {
		if (json_string_length(v) > EP_REPORT_MAX_STRING) {
			ep_snprintf(err, errlen, "%s: string longer than %d bytes",
				    *path ? path : "(top level)", EP_REPORT_MAX_STRING);
			return -EINVAL;
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *e;

		json_array_foreach(v, i, e)
		{
			path_push_index(path, psize, at, i);
			r = check_strings(e, path, psize, err, errlen);
			path[at] = '\0';
			if (r < 0)
				return r;
		}
	} else if (json_is_object(v)) {
		const char *k;
		json_t *e;

		json_object_foreach((json_t *)(uintptr_t)v, k, e)
		{
			if (strlen(k) > EP_REPORT_MAX_STRING) {
				ep_snprintf(err, errlen, "%s: object key longer than %d bytes",
					    *path ? path : "(top level)", EP_REPORT_MAX_STRING);
				return -EINVAL;
			}
			path_push_key(path, psize, at, k);
			r = check_strings(e, path, psize, err, errlen);
			path[at] = '\0';
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* ---- the accept path: yajl's parse building jansson's values ---------------- */

/* jansson's lexer reads a body byte by byte through a stream with UTF-8
 * decoding and a buffer append per byte (~150 instructions a byte: 374 us
 * for a real 19 KB report); yajl's parse of the same body building the same
 * values took 119 us (docs/decisions.md "yajl"). yajl only ever accepts:
 * whatever it refuses, and every body that is not plain (scan_ok), goes to
 * jansson's parse, which decides and words every refusal as before. On
 * what both take they build the same values (test_report, fuzz_report):
 * the numbers are converted here exactly as jansson does. */
struct fast {
	json_t *stack[EP_REPORT_MAX_DEPTH + 1]; /* the open containers (borrowed) */
	size_t n;
	json_t *root;
	char *key; /* the key of the value to come */
	size_t klen, kcap;
	bool failed;
};

/* Adds v (a new reference, or NULL when it could not be made) where the
 * parse is; false stops it. */
static bool fast_add(struct fast *f, json_t *v)
{
	int r = -1;
	if (!v) {
		f->failed = true;
		return false;
	}
	if (f->n == 0 && !f->root) {
		f->root = v;
		r = 0;
	} else if (f->n == 0) {
		json_decref(v); /* yajl takes one value only: never a second */
	} else if (json_is_array(f->stack[f->n - 1])) {
		r = json_array_append_new(f->stack[f->n - 1], v);
	} else if (json_object_getn(f->stack[f->n - 1], f->key, f->klen)) {
		json_decref(v); /* a duplicate key: jansson refuses it and says which */
	} else {
		r = json_object_setn_new_nocheck(f->stack[f->n - 1], f->key, f->klen, v);
	}
	f->failed = f->failed || r < 0;
	return r == 0;
}

static int fast_null(void *ctx)
{
	return fast_add(ctx, json_null());
}

static int fast_boolean(void *ctx, int b)
{
	return fast_add(ctx, json_boolean(b));
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
	c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

/* A number's text as jansson's lexer reads it: an integer unless it has a
 * fraction or an exponent; out of range is jansson's to refuse. */
static int fast_number(void *ctx, const char *s, size_t len)
{
	struct fast *f = ctx;
	char buf[64];
	if (len >= sizeof(buf) || !c_locale) {
		f->failed = true; /* long numbers are rare: jansson reads them */
		return 0;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	if (strpbrk(buf, ".eE")) {
		double d = strtod_l(buf, NULL, c_locale);
		if ((d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE) {
			f->failed = true;
			return 0;
		}
		return fast_add(f, json_real(d));
	}
	long long i = strtoll(buf, NULL, 10);
	if (errno == ERANGE) {
		f->failed = true;
		return 0;
	}
	return fast_add(f, json_integer(i));
}

static int fast_string(void *ctx, const unsigned char *s, size_t len)
{
	/* valid UTF-8 without NUL: scan_ok read every byte, and a plain body
	 * has no \u escape */
	return fast_add(ctx, json_stringn_nocheck((const char *)s, len));
}

static int fast_key(void *ctx, const unsigned char *s, size_t len)
{
	struct fast *f = ctx;
	if (len + 1 > f->kcap) {
		size_t cap = len + 1 > 256 ? len + 1 : 256;
		char *k = realloc(f->key, cap);
		if (!k) {
			f->failed = true;
			return 0;
		}
		f->key = k;
		f->kcap = cap;
	}
	memcpy(f->key, s, len);
	f->key[len] = '\0';
	f->klen = len;
	return 1;
}

static int fast_open(struct fast *f, json_t *c)
{
	if (!c || f->n >= EP_ARRAY_SIZE(f->stack)) {
		json_decref(c);
		f->failed = true;
		return 0;
	}
	/* the parent (or root) holds the reference; the stack borrows it */
	if (!fast_add(f, c))
		return 0;
	f->stack[f->n++] = c;
	return 1;
}

static int fast_start_map(void *ctx)
{
	return fast_open(ctx, json_object());
}

static int fast_start_array(void *ctx)
{
	return fast_open(ctx, json_array());
}

static int fast_close(void *ctx)
{
	struct fast *f = ctx;
	f->n--;
	return 1;
}

static const yajl_callbacks fast_callbacks = {
	.yajl_null = fast_null,
	.yajl_boolean = fast_boolean,
	.yajl_number = fast_number, /* the text: no integer or double callback */
	.yajl_string = fast_string,
	.yajl_start_map = fast_start_map,
	.yajl_map_key = fast_key,
	.yajl_end_map = fast_close,
	.yajl_start_array = fast_start_array,
	.yajl_end_array = fast_close,
};

/* A plain body (scan_ok) through yajl: the value, or NULL (jansson's turn). */
static json_t *fast_parse(const char *data, size_t len)
{
	struct fast f = {.n = 0};
	pthread_once(&c_locale_once, c_locale_init);
	yajl_handle h = yajl_alloc(&fast_callbacks, NULL, &f);
	if (!h)
		return NULL;
	/* scan_ok checked every byte's UTF-8 */
	yajl_config(h, yajl_dont_validate_strings, 1);
	yajl_status st = yajl_parse(h, (const unsigned char *)data, len);
	if (st == yajl_status_ok)
		st = yajl_complete_parse(h);
	yajl_free(h);
	free(f.key);
	if (st != yajl_status_ok || f.failed || f.n != 0 || !f.root) {
		json_decref(f.root);
		return NULL;
	}
	return f.root;
}

int ep_json_parse_fast(const char *data, size_t len, json_t **ret)
{
	size_t longest = 0;
	bool plain = false;
	*ret = NULL;
	if (!data || !scan_ok(data, len, EP_REPORT_MAX_DEPTH, &longest, &plain) || !plain)
		return -EAGAIN;
	*ret = fast_parse(data, len);
	return *ret ? 0 : -EAGAIN;
}

int ep_json_parse_strict(const char *data, size_t len, size_t max_bytes, json_t **ret, char *err,
			 size_t errlen)
{
	const char *nul;
	size_t off = 0, longest = 0;
	bool plain = false;
	json_error_t jerr;
	json_t *j = NULL;
	char path[512] = "";
	int r;

	if (err && errlen)
		err[0] = '\0';
	if (!data && len > 0)
		return -EINVAL;
	if (len > max_bytes) {
		ep_snprintf(err, errlen, "body of %zu bytes exceeds the limit of %zu bytes", len,
			    max_bytes);
		return -E2BIG;
	}
	if (scan_ok(data, len, EP_REPORT_MAX_DEPTH, &longest, &plain)) {
		j = plain ? fast_parse(data, len) : NULL;
		goto parse;
	}
	nul = len ? memchr(data, '\0', len) : NULL;
	if (nul) {
		ep_snprintf(err, errlen, "NUL byte at offset %zu", (size_t)(nul - data));
		return -EINVAL;
	}
	if (!ep_utf8_valid(data, len)) {
		ep_snprintf(err, errlen, "body is not valid UTF-8");
		return -EINVAL;
	}
	if (!depth_ok(data, len, EP_REPORT_MAX_DEPTH, &off)) {
		ep_snprintf(err, errlen, "offset %zu: nesting deeper than %d levels", off,
			    EP_REPORT_MAX_DEPTH);
		return -EINVAL;
	}
	longest = len;
parse:
	/* jansson's unless yajl took it; no JSON_ALLOW_NUL: "\u0000" is
	 * refused like a raw NUL byte */
	if (!j)
		j = json_loadb(len ? data : "", len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			       &jerr);
	if (!j) {
		ep_snprintf(err, errlen, "line %d column %d (offset %d): %s", jerr.line,
			    jerr.column, jerr.position, jerr.text);
		return -EINVAL;
	}
	/* a body whose strings are all short in their raw form needs no walk */
	r = longest <= EP_REPORT_MAX_STRING || strings_ok(j)
		    ? 0
		    : check_strings(j, path, sizeof(path), err, errlen);
	if (r < 0) {
		json_decref(j);
		return r;
	}
	*ret = j;
	return 0;
}

int ep_report_parse(const char *data, size_t len, size_t max_bytes, json_t **ret, char *err,
		    size_t errlen)
{
	json_t *j = NULL;
	int r;

	r = ep_json_parse_strict(data, len, max_bytes, &j, err, errlen);
	if (r < 0)
		return r;
	r = ep_report_validate(j, err, errlen);
	if (r < 0) {
		json_decref(j);
		return r;
	}
	*ret = j;
	return 0;
}
