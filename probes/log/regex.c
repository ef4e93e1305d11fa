/* The log probe's patterns (probes/log/scan.h): PCRE2 compilation and the
 * native fast paths beside it (literal alternations, fixed prefixes, the
 * native matcher), each exactly equal to PCRE2 on what it accepts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/log/scan.h"
#include "probes/log/scan_simd.h"

/* ---- native fast paths ---------------------------------------------------- */

static bool is_meta(char c)
{
	return strchr("\\^$.[]|()?*+{}", c) != NULL;
}

/* "ERROR|FATAL|Exception" -> literals; false if anything else is in it. */
static bool split_literals(struct probe_log_regex *rx, const char *pattern)
{
	const char *p = pattern;
	size_t n = 0;

	for (;;) {
		size_t k = strcspn(p, "|");
		if (k < 2 || k >= sizeof(rx->literals[0]) || n >= PROBE_LOG_MAX_LITERALS)
			return false;
		for (size_t i = 0; i < k; i++)
			if (is_meta(p[i]) || p[i] == '#' || (unsigned char)p[i] < 0x20)
				return false;
		memcpy(rx->literals[n], p, k);
		rx->literals[n][k] = '\0';
		rx->literal_lens[n] = k;
		n++;
		if (!p[k])
			break;
		p += k + 1;
	}
	rx->n_literals = n;
	return true;
}

static void set_bit(uint8_t *set, unsigned c)
{
	set[c >> 3] |= (uint8_t)(1u << (c & 7));
}

static void set_class(uint8_t *set, char cls)
{
	for (unsigned c = 0; c < 256; c++) {
		bool in;
		switch (cls) {
		case 'd':
		case 'D':
			in = c >= '0' && c <= '9';
			break;
		case 'w':
		case 'W':
			in = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			     (c >= 'A' && c <= 'Z') || c == '_';
			break;
		default: /* s, S: PCRE2's \s in non-UTF mode */
			in = c == ' ' || (c >= 9 && c <= 13);
			break;
		}
		if (cls >= 'A' && cls <= 'Z')
			in = !in;
		if (in)
			set_bit(set, c);
	}
}

/* Parses one atom at *pp into set; advances *pp. false: not a simple atom. */
static bool prefix_atom(const char **pp, uint8_t *set)
{
	const char *p = *pp;

	memset(set, 0, 32);
	if (*p == '\\') {
		char e = p[1];
		if (strchr("dDwWsS", e) && e) {
			set_class(set, e);
		} else if (e && !((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') ||
				  (e >= '0' && e <= '9'))) {
			set_bit(set, (unsigned char)e); /* escaped punctuation */
		} else {
			return false;
		}
		*pp = p + 2;
		return true;
	}
	if (*p == '.') {
		memset(set, 0xff, 32);
		set[1] &= (uint8_t) ~(1u << 2); /* '.' does not match '\n' */
		*pp = p + 1;
		return true;
	}
	if (*p == '[') {
		bool neg = false;
		uint8_t tmp[32] = {0};
		p++;
		if (*p == '^') {
			neg = true;
			p++;
		}
		bool first = true;
		while (*p && (*p != ']' || first)) {
			unsigned char lo;
			first = false;
			if (*p == '\\') {
				if (p[1] && strchr("dDwWsS", p[1])) {
					uint8_t cl[32] = {0};
					set_class(cl, p[1]);
					for (int i = 0; i < 32; i++)
						tmp[i] |= cl[i];
					p += 2;
					continue;
				}
				if (!p[1] || (p[1] >= 'a' && p[1] <= 'z') ||
				    (p[1] >= 'A' && p[1] <= 'Z') || (p[1] >= '0' && p[1] <= '9'))
					return false;
				lo = (unsigned char)p[1];
				p += 2;
			} else if (*p == '[') {
				return false; /* POSIX classes: not handled */
			} else {
				lo = (unsigned char)*p++;
			}
			if (*p == '-' && p[1] && p[1] != ']') {
				unsigned char hi = (unsigned char)p[1];
				if (hi == '\\' || hi < lo)
					return false;
				for (unsigned c = lo; c <= hi; c++)
					set_bit(tmp, c);
				p += 2;
			} else {
				set_bit(tmp, lo);
			}
		}
		if (*p != ']')
			return false;
		for (int i = 0; i < 32; i++)
			set[i] = neg ? (uint8_t)~tmp[i] : tmp[i];
		*pp = p + 1;
		return true;
	}
	if (is_meta(*p) || !*p)
		return false;
	set_bit(set, (unsigned char)*p);
	*pp = p + 1;
	return true;
}

/* A '|' outside any group or class. */
static bool has_top_level_alternation(const char *pattern)
{
	int depth = 0;
	bool in_class = false;

	for (const char *q = pattern; *q; q++) {
		if (*q == '\\' && q[1]) {
			q++;
			continue;
		}
		if (in_class) {
			if (*q == ']')
				in_class = false;
			continue;
		}
		if (*q == '[')
			in_class = true;
		else if (*q == '(')
			depth++;
		else if (*q == ')')
			depth--;
		else if (*q == '|' && depth == 0)
			return true;
	}
	return false;
}

/* The fixed start of "^atoms...": stops at the first thing that is not a
 * single-width atom with a fixed count. A top-level '|' anywhere disables it. */
static void build_prefix(struct probe_log_regex *rx, const char *pattern)
{
	const char *p = pattern;

	rx->prefix_len = 0;
	rx->prefix_exact = false;
	if (has_top_level_alternation(pattern))
		return;
	if (*p != '^')
		return;
	p++;
	for (;;) {
		uint8_t set[32];
		const char *save = p;
		if (!*p) {
			rx->prefix_exact = true;
			return;
		}
		if (!prefix_atom(&p, set))
			return;
		size_t count = 1;
		bool stop = false;
		if (*p == '{') {
			char *end;
			long n = strtol(p + 1, &end, 10);
			if (end == p + 1 || n < 0 || n > PROBE_LOG_MAX_PREFIX)
				return;
			count = (size_t)n;
			if (*end == '}') {
				p = end + 1;
			} else {
				stop = true; /* {n,m} / {n,}: n copies are required */
			}
			if (*p == '?' || *p == '+')
				stop = true; /* lazy/possessive forms: keep it simple */
		} else if (*p == '+') {
			stop = true;
		} else if (*p == '*' || *p == '?') {
			(void)save;
			return;
		}
		if (rx->prefix_len + count > PROBE_LOG_MAX_PREFIX)
			return;
		for (size_t i = 0; i < count; i++)
			memcpy(rx->prefix[rx->prefix_len++], set, 32);
		if (stop)
			return;
	}
}

/* Parses pattern[0..plen) as "^" and native items (see scan.h). */
static void build_native(struct probe_log_regex *rx, const char *pattern, size_t plen)
{
	char pat[512];
	const char *p = pat;
	size_t n = 0;
	int gfirst = -1, glast = -1;
	bool in_group = false;

	rx->native = false;
	if (plen >= sizeof(pat) || plen < 2 || pattern[0] != '^')
		return;
	memcpy(pat, pattern, plen);
	pat[plen] = '\0';
	p++;
	while (*p) {
		if (strncmp(p, "(?<level>", 9) == 0 && gfirst < 0 && !in_group) {
			in_group = true;
			gfirst = (int)n;
			p += 9;
			continue;
		}
		if (*p == ')' && in_group) {
			in_group = false;
			glast = (int)n;
			if (glast == gfirst)
				return; /* an empty group */
			p++;
			continue;
		}
		if (n >= PROBE_LOG_MAX_PREFIX)
			return;
		if (!prefix_atom(&p, rx->native_set[n]))
			return;
		size_t min = 1;
		bool plus = false;
		if (*p == '{') {
			char *end;
			long v = strtol(p + 1, &end, 10);
			if (end == p + 1 || *end != '}' || v < 1 || v > 255 || p[1] == '+' ||
			    p[1] == '-')
				return;
			min = (size_t)v;
			p = end + 1;
		} else if (*p == '+') {
			plus = true;
			p++;
		}
		if (*p == '?' || *p == '+' || *p == '*' || *p == '{')
			return; /* lazy, possessive, optional or repeated quantifiers */
		rx->native_min[n] = (uint8_t)min;
		rx->native_plus[n] = plus;
		n++;
	}
	if (in_group || n == 0)
		return;
	/* greedy "+" must never give back: the next item takes none of its bytes */
	for (size_t k = 0; k + 1 < n; k++) {
		if (!rx->native_plus[k])
			continue;
		for (int b = 0; b < 32; b++)
			if (rx->native_set[k][b] & rx->native_set[k + 1][b])
				return;
	}
	rx->native_n = (uint8_t)n;
	rx->native_gfirst = (int8_t)gfirst;
	rx->native_glast = (int8_t)glast;
	memset(rx->native_bytes, 0, sizeof(rx->native_bytes));
	for (size_t k = 0; k < n; k++)
		for (unsigned c = 0; c < 256; c++)
			if (rx->native_set[k][c >> 3] & (1u << (c & 7)))
				rx->native_bytes[c] |= 1ull << k;
	/* leading fixed items are the prefix's first positions (build_prefix
	 * takes the same atoms): prefix_ok decides them */
	size_t skip = 0, bytes = 0;
	while (skip < n && !rx->native_plus[skip] && (gfirst < 0 || (int)skip < gfirst) &&
	       bytes + rx->native_min[skip] <= rx->prefix_len) {
		for (size_t c = 0; c < rx->native_min[skip]; c++)
			if (memcmp(rx->prefix[bytes + c], rx->native_set[skip], 32) != 0)
				goto done;
		bytes += rx->native_min[skip];
		skip++;
	}
done:
	rx->native_skip = (uint8_t)skip;
	rx->native_skip_bytes = (uint8_t)bytes;
	rx->native = true;
}

/* The byte ranges of the prefix positions (prefix_ranges), if each is one. */
static void build_prefix_ranges(struct probe_log_regex *rx)
{
	rx->prefix_ranges = false;
	if (rx->prefix_len == 0 || rx->prefix_len > 32)
		return;
	memset(rx->prefix_lo, 0, sizeof(rx->prefix_lo));
	memset(rx->prefix_span, 0xff, sizeof(rx->prefix_span));
	for (size_t i = 0; i < rx->prefix_len; i++) {
		int lo = -1, hi = -1;
		for (unsigned c = 0; c < 256; c++) {
			if (!(rx->prefix[i][c >> 3] & (1u << (c & 7))))
				continue;
			if (lo < 0)
				lo = (int)c;
			hi = (int)c;
		}
		if (lo < 0)
			return; /* an empty set: the scalar check rejects every line */
		for (int c = lo; c <= hi; c++)
			if (!(rx->prefix[i][c >> 3] & (1u << (c & 7))))
				return; /* not one range */
		rx->prefix_lo[i] = (uint8_t)lo;
		rx->prefix_span[i] = (uint8_t)(hi - lo);
	}
	rx->prefix_ranges = true;
}

bool probe_log_native_match(const struct probe_log_regex *rx, const char *line, size_t len,
			    size_t *ret_end, size_t *ret_gs, size_t *ret_ge)
{
	const unsigned char *m = (const unsigned char *)line;
	size_t i = rx->native_skip_bytes, gs = 0, ge = 0;

	if (rx->native_skip && !probe_log_prefix_ok(rx, line, len))
		return false;
	for (int k = rx->native_skip; k < rx->native_n; k++) {
		uint64_t bit = 1ull << k;
		if (k == rx->native_gfirst)
			gs = i;
		if (len - i < rx->native_min[k])
			return false;
		for (size_t c = 0; c < rx->native_min[k]; c++, i++)
			if (!(rx->native_bytes[m[i]] & bit))
				return false;
		if (rx->native_plus[k])
			while (i < len && (rx->native_bytes[m[i]] & bit))
				i++;
		if (k + 1 == rx->native_glast)
			ge = i;
	}
	*ret_end = i;
	*ret_gs = gs;
	*ret_ge = ge;
	return true;
}

bool probe_log_regex_line_native(const struct probe_log_regex *rx, const char *line, size_t len,
				 pcre2_match_data *md, pcre2_match_context *mctx, bool native)
{
	int rc;

	if (rx->prefix_len && !probe_log_prefix_ok(rx, line, len))
		return false;
	if (rx->prefix_exact)
		return true;
	if (rx->native && native) {
		size_t e, gs, ge;
		return probe_log_native_match(rx, line, len, &e, &gs, &ge);
	}
	if (rx->jit)
		rc = pcre2_jit_match(rx->code, (PCRE2_SPTR)line, len, 0, 0, md, mctx);
	else
		rc = pcre2_match(rx->code, (PCRE2_SPTR)line, len, 0, 0, md, mctx);
	return rc > 0;
}

bool probe_log_regex_line(const struct probe_log_regex *rx, const char *line, size_t len,
			  pcre2_match_data *md, pcre2_match_context *mctx)
{
	return probe_log_regex_line_native(rx, line, len, md, mctx, true);
}

int probe_log_regex_compile(struct probe_log_regex *rx, const char *pattern, char *err,
			    size_t errlen)
{
	int ec;
	PCRE2_SIZE off;

	memset(rx, 0, sizeof(*rx));
	static const char tail[] = "(?<message>.*)";
	size_t plen = strlen(pattern), tl = sizeof(tail) - 1;
	if (plen > tl && strcmp(pattern + plen - tl, tail) == 0 && pattern[plen - tl - 1] != '\\' &&
	    !has_top_level_alternation(pattern)) {
		rx->code = pcre2_compile((PCRE2_SPTR)pattern, plen - tl, PCRE2_MULTILINE, &ec, &off,
					 NULL);
		rx->message_to_end = rx->code != NULL;
	}
	if (!rx->code)
		rx->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
					 PCRE2_MULTILINE, &ec, &off, NULL);
	if (!rx->code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		snprintf(err, errlen, "pattern '%s' at offset %zu: %s", pattern, (size_t)off,
			 (const char *)msg);
		return -EINVAL;
	}
	rx->jit = pcre2_jit_compile(rx->code, PCRE2_JIT_COMPLETE) == 0;
	if (!split_literals(rx, pattern))
		rx->n_literals = 0;
	build_prefix(rx, pattern);
	build_prefix_ranges(rx);
	build_native(rx, pattern, rx->message_to_end ? plen - tl : plen);
	return 0;
}

void probe_log_regex_free(struct probe_log_regex *rx)
{
	if (!rx)
		return;
	pcre2_code_free(rx->code);
	memset(rx, 0, sizeof(*rx));
}
