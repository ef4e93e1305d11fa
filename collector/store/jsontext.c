/* The compact JSON text the store writes (store.h: coll_json_compact,
 * coll_store_findings_json): a faster json_dumps(JSON_COMPACT). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/sql.h"
#include "collector/store/store.h"
#include "erpulse/crypto.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

/* ---- compact JSON text ------------------------------------------------------ */

/* Room for extra more bytes (and the NUL) in b, grown as ep_buf_append
 * grows it; the caller then writes into b->data directly. */
static int jb_reserve(struct ep_buf *b, size_t extra)
{
	if (extra > b->max - b->len)
		return -E2BIG;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t ncap = b->cap ? b->cap : 64;
	while (ncap < need)
		ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
	if (ncap > b->max + 1)
		ncap = b->max + 1;
	char *nd = realloc(b->data, ncap);
	if (!nd)
		return -ENOMEM;
	b->data = nd;
	b->cap = ncap;
	return 0;
}

/* One byte, without a call to ep_buf_append (the JSON punctuation: most of
 * the appends). */
static int jb_char(struct ep_buf *b, char c)
{
	int r = jb_reserve(b, 1);
	if (r < 0)
		return r;
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
	return 0;
}

static int jd_string(struct ep_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	if (n > (SIZE_MAX - 2) / 6)
		return -E2BIG;
	int r = jb_reserve(b, 2 + 6 * n); /* every byte escaped as \u00XX at worst */
	if (r < 0)
		return r;
	char *o = b->data + b->len;
	size_t from = 0;
	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		/* eight bytes at a time while none is '"', '\\' or below 0x20 */
		while (n - i >= 8) {
			const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
			uint64_t x, q, bs;
			memcpy(&x, s + i, 8);
			q = x ^ (ones * '"');
			bs = x ^ (ones * '\\');
			if ((((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) &
			    highs)
				break;
			i += 8;
		}
		if (i >= n)
			break;
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		memcpy(o, s + from, i - from);
		o += i - from;
		from = i + 1;
		*o++ = '\\';
		switch (c) {
		case '"':
		case '\\':
			*o++ = (char)c;
			break;
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		default: /* as jansson writes it: \u001F */
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
			break;
		}
	}
	memcpy(o, s + from, n - from);
	o += n - from;
	*o++ = '"';
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
	return 0;
}

/* %.17g as jansson writes it, exactly, without printf: for 1e-16 <= |v| < 1e17
 * (false otherwise: the caller falls back to snprintf). v = m * 2^e exactly;
 * d = round-half-even(v * 10^(16-p)) is computed in 128-bit integers
 * (m * 5^k < 2^53 * 5^32 < 2^128), then written in %g's fixed or exponent
 * form with trailing zeros dropped, ".0" added to integral values and the
 * exponent without '+' or leading zeros. */
static const uint64_t pow5_lo[33] = {1u,
				     5u,
				     25u,
				     125u,
				     625u,
				     3125u,
				     15625u,
				     78125u,
				     390625u,
				     1953125u,
				     9765625u,
				     48828125u,
				     244140625u,
				     1220703125u,
				     6103515625u,
				     30517578125u,
				     152587890625u,
				     762939453125u,
				     3814697265625u,
				     19073486328125u,
				     95367431640625u,
				     476837158203125u,
				     2384185791015625u,
				     11920928955078125u,
				     59604644775390625u,
				     298023223876953125u,
				     1490116119384765625u,
				     7450580596923828125u,
				     359414837200037393u,
				     1797074186000186965u,
				     8985370930000934825u,
				     8033366502585570893u,
				     3273344365508751233u};
static const uint64_t pow5_hi[33] = {0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u,  0u,  0u,   0u,
				     0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u,  0u,  0u,   0u,
				     0u, 0u, 0u, 0u, 0u, 0u, 2u, 10u, 50u, 252u, 1262u};

/* 1e-17 .. 1e17 as doubles (the negative ones rounded: an estimate only) */
static const double pow10_from_m17[35] = {
	1e-17, 1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6,
	1e-5,  1e-4,  1e-3,  1e-2,  1e-1,  1e0,   1e1,   1e2,   1e3,  1e4,  1e5,  1e6,
	1e7,   1e8,   1e9,   1e10,  1e11,  1e12,  1e13,  1e14,  1e15, 1e16, 1e17};

static bool g17(double v, char *t, size_t *ret_len)
{
	static const uint64_t p10_16 = 10000000000000000u, p10_17 = 100000000000000000u;
	double a = fabs(v);
	if (!(a >= 1e-16 && a < 1e17))
		return false;
	/* a is normal here: a = m * 2^e, m the 53 bits with the implicit one */
	uint64_t bits;
	memcpy(&bits, &a, sizeof(bits));
	uint64_t m = (bits & (((uint64_t)1 << 52) - 1)) | ((uint64_t)1 << 52);
	int e = (int)(bits >> 52) - 1075;
	/* p = floor(log10(a)) estimated from the leading bit's exponent
	 * (1233 / 4096 ~ log10(2)) and one compare, without log10; the loop
	 * below settles it from the exact value as it did log10's rounding */
	int lead = e + 52, p = lead >= 0 ? lead * 1233 / 4096 : -((-lead * 1233 + 4095) / 4096);
	if (p >= -17 && p <= 16 && a >= pow10_from_m17[p + 1 + 17])
		p++;
	uint64_t d = 0;
	for (int tries = 0; tries < 3; tries++) {
		int k = 16 - p;
		if (k < 0 || k > 32)
			return false;
		unsigned __int128 x = (unsigned __int128)m * pow5_lo[k] +
				      ((unsigned __int128)(m * pow5_hi[k]) << 64);
		int s = e + k; /* x * 2^s */
		unsigned __int128 q;
		bool up = false; /* round half to even, on the exact remainder */
		if (s >= 0) {
			if (s > 10)
				return false;
			q = x << s;
		} else {
			int sh = -s;
			if (sh >= 127)
				return false;
			q = x >> sh;
			unsigned __int128 rem = x - (q << sh),
					  half = (unsigned __int128)1 << (sh - 1);
			up = rem > half || (rem == half && (q & 1));
		}
		/* p from the exact value: 17 digits before rounding */
		if (q < p10_16) {
			p--;
			continue;
		}
		if (q >= p10_17) {
			p++;
			continue;
		}
		if (up)
			q++;
		if (q == p10_17) { /* 99..9.5 rounds up to the next power of ten */
			q = p10_16;
			p++;
		}
		d = (uint64_t)q;
		break;
	}
	if (d < p10_16 || d >= p10_17)
		return false;
	char dig[17];
	for (int i = 16; i >= 0; i--) {
		dig[i] = (char)('0' + d % 10);
		d /= 10;
	}
	int nd = 17;
	while (nd > 1 && dig[nd - 1] == '0')
		nd--;
	size_t len = 0;
	if (signbit(v))
		t[len++] = '-';
	if (p >= -4 && p < 17) {
		if (p >= 0) {
			for (int i = 0; i <= p; i++)
				t[len++] = dig[i];
			t[len++] = '.';
			if (nd > p + 1)
				for (int i = p + 1; i < nd; i++)
					t[len++] = dig[i];
			else
				t[len++] = '0';
		} else {
			t[len++] = '0';
			t[len++] = '.';
			for (int i = 0; i < -p - 1; i++)
				t[len++] = '0';
			for (int i = 0; i < nd; i++)
				t[len++] = dig[i];
		}
	} else {
		t[len++] = dig[0];
		if (nd > 1) {
			t[len++] = '.';
			for (int i = 1; i < nd; i++)
				t[len++] = dig[i];
		}
		t[len++] = 'e';
		int x = p;
		if (x < 0) {
			t[len++] = '-';
			x = -x;
		}
		char ex[8];
		int ne = 0;
		do {
			ex[ne++] = (char)('0' + x % 10);
			x /= 10;
		} while (x);
		while (ne)
			t[len++] = ex[--ne];
	}
	*ret_len = len;
	return true;
}

/* jansson's real format: %.17g, ".0" added to integral values, the
 * exponent without '+' and leading zeros */
static int jd_real(struct ep_buf *b, double v)
{
	char t[40];
	/* exact shortcut for multiples of 1/16 below 1e12 (counts, percentages
	 * like 12.5): at most 16 significant digits, so %.17g prints their exact
	 * decimal expansion in fixed notation, trailing zeros dropped */
	double x = v * 16.0;
	if (fabs(v) < 1e12 && x == (double)(int64_t)x) {
		int64_t q = (int64_t)x;
		uint64_t u = q < 0 ? (uint64_t)0 - (uint64_t)q : (uint64_t)q;
		struct coll_num ip = coll_i2s((int64_t)(u / 16));
		unsigned frac = (unsigned)(u % 16) * 625; /* ten-thousandths */
		size_t len = 0;
		if (signbit(v))
			t[len++] = '-';
		for (const char *p = ip.s; *p; p++)
			t[len++] = *p;
		t[len++] = '.';
		if (!frac)
			t[len++] = '0';
		for (unsigned d = 1000; frac; d /= 10) {
			t[len++] = (char)('0' + frac / d);
			frac %= d;
		}
		return ep_buf_append(b, t, len);
	}
	size_t glen;
	if (g17(v, t, &glen))
		return ep_buf_append(b, t, glen);
	int n = snprintf(t, sizeof(t), "%.17g", v);
	if (n < 0 || (size_t)n >= sizeof(t) - 3)
		return -EINVAL;
	size_t len = (size_t)n;
	if (!memchr(t, '.', len) && !memchr(t, 'e', len)) {
		t[len++] = '.';
		t[len++] = '0';
		t[len] = '\0';
	}
	char *e = memchr(t, 'e', len);
	if (e) {
		char *start = e + 1, *end = e + 2;
		if (*start == '-')
			start++;
		while (*end == '0')
			end++;
		if (end != start) {
			memmove(start, end, len - (size_t)(end - t) + 1);
			len -= (size_t)(end - start);
		}
	}
	return ep_buf_append(b, t, len);
}

static int jd(struct ep_buf *b, const json_t *j, int depth)
{
	int r = 0;
	if (depth > 2048)
		return -ELOOP;
	switch (json_typeof(j)) {
	case JSON_OBJECT: {
		const char *key;
		size_t klen;
		json_t *v;
		bool first = true;
		r = jb_char(b, '{');
		json_object_keylen_foreach((json_t *)(uintptr_t)j, key, klen, v)
		{
			if (r == 0 && !first)
				r = jb_char(b, ',');
			first = false;
			if (r == 0)
				r = jd_string(b, key, klen);
			if (r == 0)
				r = jb_char(b, ':');
			if (r == 0)
				r = jd(b, v, depth + 1);
			if (r < 0)
				return r;
		}
		return r == 0 ? jb_char(b, '}') : r;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *v;
		r = jb_char(b, '[');
		json_array_foreach(j, i, v)
		{
			if (r == 0 && i > 0)
				r = jb_char(b, ',');
			if (r == 0)
				r = jd(b, v, depth + 1);
			if (r < 0)
				return r;
		}
		return r == 0 ? jb_char(b, ']') : r;
	}
	case JSON_STRING:
		return jd_string(b, json_string_value(j), json_string_length(j));
	case JSON_INTEGER: {
		struct coll_num n = coll_i2s((int64_t)json_integer_value(j));
		return ep_buf_append(b, n.s, strlen(n.s));
	}
	case JSON_REAL:
		return jd_real(b, json_real_value(j));
	case JSON_TRUE:
		return ep_buf_append(b, "true", 4);
	case JSON_FALSE:
		return ep_buf_append(b, "false", 5);
	case JSON_NULL:
		return ep_buf_append(b, "null", 4);
	}
	return -EINVAL;
}

int coll_json_compact_append(struct ep_buf *b, const json_t *j)
{
	int r = j ? jd(b, j, 0) : -EINVAL;
	return r == 0 ? jb_char(b, '\0') : r;
}

/* ---- the same text without a tree ------------------------------------------- */

void coll_jw_put(struct coll_json_writer *w, const char *s, size_t n)
{
	if (w->r < 0 || (w->r = jb_reserve(w->b, n)) < 0)
		return;
	memcpy(w->b->data + w->b->len, s, n);
	w->b->len += n;
	w->b->data[w->b->len] = '\0';
}

/* no byte of s[0..n) above 0x7F, eight at a time: such a C string is valid
 * UTF-8 without a look at each sequence */
static bool all_ascii(const char *s, size_t n)
{
	uint64_t any = 0, x;
	size_t i = 0;
	for (; n - i >= 8; i += 8) {
		memcpy(&x, s + i, 8);
		any |= x;
	}
	for (; i < n; i++)
		any |= (unsigned char)s[i];
	return !(any & 0x8080808080808080u);
}

void coll_jw_str(struct coll_json_writer *w, const char *s)
{
	if (w->r < 0)
		return;
	size_t n = s ? strlen(s) : 0;
	/* json_string(s) is NULL for these: the tree could not be built */
	w->r = s && (all_ascii(s, n) || ep_utf8_valid(s, n)) ? jd_string(w->b, s, n) : -EINVAL;
}

void coll_jw_str_or_null(struct coll_json_writer *w, const char *s)
{
	if (s)
		coll_jw_str(w, s);
	else
		coll_jw_raw(w, "null");
}

void coll_jw_real_or_null(struct coll_json_writer *w, double v)
{
	if (!isfinite(v))
		coll_jw_raw(w, "null");
	else if (w->r == 0)
		w->r = jd_real(w->b, v);
}

void coll_jw_int(struct coll_json_writer *w, int64_t v)
{
	coll_jw_raw(w, coll_i2s(v).s);
}

void coll_jw_bool(struct coll_json_writer *w, bool v)
{
	coll_jw_raw(w, v ? "true" : "false");
}

json_t *coll_json_text_tree(struct ep_buf *b, int r)
{
	json_t *j = r == 0 ? json_loadb(b->data, b->len, 0, NULL) : NULL;
	ep_buf_free(b);
	return j;
}

char *coll_json_compact(const json_t *j)
{
	struct ep_buf b;
	if (!j)
		return NULL;
	ep_buf_init(&b, (size_t)1 << 30);
	b.data = malloc(4096); /* most texts fit: no regrowth */
	if (b.data) {
		b.data[0] = '\0';
		b.cap = 4096;
	}
	if (jd(&b, j, 0) < 0) {
		ep_buf_free(&b);
		return NULL;
	}
	return ep_buf_steal(&b);
}

/* The current findings: one row per agent holding a JSON array of every
 * finding of its latest report, each with its probe's name added. One row
 * instead of one per finding keeps ingest at a few statements per report.
 * Shallow copies: the findings' members are shared, not duplicated. */
/* obj's text with key "probe" set to probe: replaced in place when obj has
 * one, else added last (as json_object_set then json_dumps would write) */
static int jd_with_probe(struct ep_buf *b, const json_t *obj, const json_t *probe)
{
	const char *key;
	size_t klen;
	json_t *v;
	bool first = true, replaced = false;
	int r = jb_char(b, '{');
	json_object_keylen_foreach((json_t *)(uintptr_t)obj, key, klen, v)
	{
		bool is_probe = klen == 5 && memcmp(key, "probe", 5) == 0;
		if (r == 0 && !first)
			r = jb_char(b, ',');
		first = false;
		if (r == 0)
			r = jd_string(b, key, klen);
		if (r == 0)
			r = jb_char(b, ':');
		if (r == 0)
			r = jd(b, is_probe ? probe : v, 1);
		replaced |= is_probe;
		if (r < 0)
			return r;
	}
	if (r == 0 && !replaced)
		r = ep_buf_append(b, first ? "\"probe\":" : ",\"probe\":", first ? 8 : 9);
	if (r == 0 && !replaced)
		r = jd(b, probe, 1);
	return r == 0 ? jb_char(b, '}') : r;
}

char *coll_store_findings_json(const json_t *report)
{
	const json_t *probes = json_object_get(report, "probes");
	const json_t *p, *f;
	size_t i, k;
	bool first = true;
	struct ep_buf b;
	ep_buf_init(&b, (size_t)1 << 30);
	b.data = malloc(8192);
	if (b.data) {
		b.data[0] = '\0';
		b.cap = 8192;
	}
	int r = jb_char(&b, '[');
	json_array_foreach(probes, i, p)
	{
		const json_t *probe = json_object_get(p, "name");
		json_array_foreach(json_object_get(p, "findings"), k, f)
		{
			if (r == 0 && !first)
				r = jb_char(&b, ',');
			first = false;
			/* json_object_set would refuse a non-object or a missing name */
			if (r == 0)
				r = json_is_object(f) && probe ? jd_with_probe(&b, f, probe)
							       : -EINVAL;
		}
	}
	if (r == 0)
		r = jb_char(&b, ']');
	if (r < 0) {
		ep_buf_free(&b);
		return NULL;
	}
	return ep_buf_steal(&b);
}
